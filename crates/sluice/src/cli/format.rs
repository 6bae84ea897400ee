//! Human-readable output and the parsing of human-typed values: sizes (`1.2 KiB`),
//! durations (`2m0s`, Go's `time.Duration` style), RFC 3339 timestamps, aligned tables and
//! `Key: value` blocks. Pure functions, no I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `512 B`, `1.5 KiB`, `3.4 MiB`, ... (binary units, one decimal).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Parses `1024`, `10K`, `10KB`, `10KiB`, `5M`, `1G`, `1T` (units are powers of 1024;
/// case-insensitive; `-1` means unlimited).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (try 1024, 64K, 10MiB, 1G)"))?;
    let mult: i64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("invalid size {s:?} (try 1024, 64K, 10MiB, 1G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Go's `time.Duration` text: `0s`, `500ms`, `1.5s`, `2m0s`, `1h2m3s`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim_fraction(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_fraction(ns as f64 / 1e6));
    }
    let secs = d.as_secs();
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    let s = trim_fraction((secs % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

fn trim_fraction(v: f64) -> String {
    let t = format!("{v:.9}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    t.to_owned()
}

/// Parses `500ms`, `2s`, `1m`, `1h30m`, `1.5s`, `2d`, `100us`, `10ns`; a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (try 500ms, 2s, 1m, 1h30m)");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        let after = &rest[n_end..];
        let u_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let scale = match &after[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        total += num * scale;
        rest = &after[u_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// A nanosecond count as JetStream carries durations (`max_age`, `ack_wait`), as text.
pub fn nanos(ns: i64) -> String {
    if ns <= 0 {
        "unlimited".into()
    } else {
        duration(Duration::from_nanos(ns as u64))
    }
}

/// `2026-11-23T02:40:00.123Z`: a UTC RFC 3339 timestamp with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    let (y, mo, da) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A table: the header row and each row padded to the widest cell of its column, columns
/// separated by two spaces, no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths.get(i).copied().unwrap_or(0);
            line.push_str(&format!("{cell:<pad$}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Key:   value` lines, the values aligned one blank after the longest key's colon.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (k, v) in pairs {
        let key = format!("{k}:");
        out.push_str(&format!("{key:<w$} {v}", w = width));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(1229), "1.2 KiB");
        assert_eq!(size(3_565_158), "3.4 MiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1gb"), Ok(1 << 30));
        assert_eq!(parse_size("-1"), Ok(-1));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10X").is_err());
    }

    #[test]
    fn durations_read_and_print_like_go() {
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_secs(2)), "2s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(duration(Duration::from_micros(5)), "5µs");
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        for bad in ["", "s", "2x", "-1s", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(nanos(0), "unlimited");
        assert_eq!(nanos(30_000_000_000), "30s");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_401_600_123);
        assert_eq!(rfc3339(t), "2026-11-23T02:40:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["ORDERS".into(), "orders.>".into(), "12".into()],
            vec!["A".into(), "a".into(), "1".into()],
        ];
        let t = table(&["NAME", "SUBJECTS", "MESSAGES"], &rows);
        assert_eq!(
            t,
            "NAME    SUBJECTS  MESSAGES\n\
             ORDERS  orders.>  12\n\
             A       a         1\n"
        );
        let kv = key_values(&[("Name", "S".into()), ("Subjects", "a, b".into())]);
        assert_eq!(kv, "Name:     S\nSubjects: a, b\n");
    }
}

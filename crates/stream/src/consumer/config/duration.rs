//! Go's `time.Duration` as nats-server prints it in errors and pull statuses, and as clients
//! send it in `-NAK <duration>` acks.

use std::fmt;

/// A Go `time.Duration` in nanoseconds, displayed as Go's `Duration.String()` does (`1m0s`,
/// `1.5s`, `500ms`, `2µs`, `0s`): the text nats-server puts in errors and pull statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoDuration(pub i64);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `v / 10^prec` split into integer part and `.fraction` with trailing zeros trimmed.
        fn split(v: u64, prec: u32) -> (u64, String) {
            let p = 10u64.pow(prec);
            let frac = v % p;
            if frac == 0 {
                return (v / p, String::new());
            }
            let digits = format!("{frac:0width$}", width = prec as usize);
            (v / p, format!(".{}", digits.trim_end_matches('0')))
        }
        let ns = self.0;
        let u = ns.unsigned_abs();
        if ns < 0 {
            f.write_str("-")?;
        }
        if u < 1_000_000_000 {
            let (unit, prec) = match u {
                0 => return f.write_str("0s"),
                1..=999 => ("ns", 0),
                1_000..=999_999 => ("µs", 3),
                _ => ("ms", 6),
            };
            let (int, frac) = split(u, prec);
            return write!(f, "{int}{frac}{unit}");
        }
        let (secs, frac) = split(u, 9);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h{m}m{s}{frac}s")
        } else if m > 0 {
            write!(f, "{m}m{s}{frac}s")
        } else {
            write!(f, "{s}{frac}s")
        }
    }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units `ns`, `us`, `µs`,
/// `μs`, `ms`, `s`, `m`, `h` (e.g. `1.5s`, `1h2m`, `-3ms`), or `0`. `None` if not a duration or
/// out of `i64` nanoseconds. Used for `-NAK <duration>` ack payloads.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        // Integer part.
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..int_len] {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            if v > LIMIT {
                return None;
            }
        }
        rest = &rest[int_len..];
        // Fraction.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in after[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                f = f * 10 + u64::from(c - b'0');
                scale *= 10.0;
            }
            post = frac_len > 0;
            rest = &after[frac_len..];
        }
        if int_len == 0 && !post {
            return None;
        }
        // Unit.
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return None;
        }
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-5_000_000_000, "-5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(GoDuration(ns).to_string(), s);
        }
    }

    #[test]
    fn go_durations_parse() {
        for (s, ns) in [
            ("0", Some(0)),
            ("1s", Some(1_000_000_000)),
            ("1.5s", Some(1_500_000_000)),
            ("-3ms", Some(-3_000_000)),
            ("+2us", Some(2_000)),
            ("2µs", Some(2_000)),
            ("1h2m3s", Some(3_723_000_000_000)),
            (".5s", Some(500_000_000)),
            ("1.s", Some(1_000_000_000)),
            ("", None),
            ("1", None),
            ("s", None),
            (".s", None),
            ("1x", None),
            ("9999999999h", None),
        ] {
            assert_eq!(parse_go_duration(s), ns, "{s:?}");
        }
    }
}

//! A workload's result, latency percentiles, and the two output forms (table, JSON line).

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Latency {
    /// The percentiles of `samples_ns` (nanoseconds; sorted here). `None` when empty.
    pub fn from_ns(samples_ns: &mut [u64]) -> Option<Latency> {
        samples_ns.sort_unstable();
        let us = |p: f64| percentile(samples_ns, p).map(|ns| ns as f64 / 1000.0);
        Some(Latency {
            p50_us: us(50.0)?,
            p90_us: us(90.0)?,
            p99_us: us(99.0)?,
            max_us: us(100.0)?,
        })
    }
}

/// The nearest-rank `p`th percentile (0 < p <= 100) of `sorted`: the smallest sample with at
/// least p% of the samples at or below it. `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What one workload measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub workload: &'static str,
    /// Messages published (round trips for reqrep; messages consumed for js-consume).
    pub msgs: usize,
    pub size: usize,
    /// The measured time.
    pub secs: f64,
    /// Subscribers or queue members (fanout, queue).
    pub subs: Option<usize>,
    /// Publishes in flight (js-pub).
    pub window: Option<usize>,
    /// Request/reply latency (reqrep).
    pub latency: Option<Latency>,
    /// Messages published and not yet received, at most (`--in-flight`).
    pub in_flight: Option<usize>,
    /// Probes published before the clock started (across a cluster: `--sub-server`).
    pub probes: Option<usize>,
    /// Messages delivered to queue members on the other server (queue across a cluster).
    pub remote_msgs: Option<usize>,
}

impl Report {
    pub fn msgs_per_sec(&self) -> f64 {
        self.msgs as f64 / self.secs.max(1e-9)
    }

    /// Payload megabytes (10^6 bytes) per second, counting each message once.
    pub fn mb_per_sec(&self) -> f64 {
        self.msgs_per_sec() * self.size as f64 / 1e6
    }

    /// One JSON object, keys in alphabetical order.
    pub fn json_line(&self) -> String {
        let round = |x: f64, places: i32| {
            let f = 10f64.powi(places);
            (x * f).round() / f
        };
        let mut v = serde_json::json!({
            "workload": self.workload,
            "msgs": self.msgs,
            "size": self.size,
            "secs": round(self.secs, 6),
            "msgs_per_sec": round(self.msgs_per_sec(), 1),
            "mb_per_sec": round(self.mb_per_sec(), 3),
        });
        if let Some(k) = self.subs {
            v["subs"] = k.into();
        }
        if let Some(w) = self.window {
            v["window"] = w.into();
        }
        if let Some(l) = self.latency {
            v["p50_us"] = round(l.p50_us, 1).into();
            v["p90_us"] = round(l.p90_us, 1).into();
            v["p99_us"] = round(l.p99_us, 1).into();
            v["max_us"] = round(l.max_us, 1).into();
        }
        if let Some(n) = self.in_flight {
            v["in_flight"] = n.into();
        }
        if let Some(n) = self.probes {
            v["probes"] = n.into();
        }
        if let Some(n) = self.remote_msgs {
            v["remote_msgs"] = n.into();
        }
        v.to_string()
    }

    /// A header line and a row.
    pub fn table(&self) -> String {
        let mut name = self.workload.to_owned();
        if let Some(k) = self.subs {
            name += &format!(" ({k} subs)");
        }
        if let Some(w) = self.window {
            name += &format!(" (window {w})");
        }
        let rate = if self.latency.is_some() {
            "round trips/s"
        } else {
            "msgs/s"
        };
        let mut head = format!(
            "{:<22} {:>10} {:>7} {:>9} {:>14} {:>9}",
            "workload", "msgs", "size", "secs", rate, "MB/s"
        );
        let mut row = format!(
            "{:<22} {:>10} {:>7} {:>9.3} {:>14.0} {:>9.2}",
            name,
            self.msgs,
            self.size,
            self.secs,
            self.msgs_per_sec(),
            self.mb_per_sec()
        );
        if let Some(l) = self.latency {
            for (label, us) in [
                ("p50 µs", l.p50_us),
                ("p90 µs", l.p90_us),
                ("p99 µs", l.p99_us),
                ("max µs", l.max_us),
            ] {
                head += &format!(" {label:>9}");
                row += &format!(" {us:>9.1}");
            }
        }
        for (label, n) in [("probes", self.probes), ("remote msgs", self.remote_msgs)] {
            if let Some(n) = n {
                head += &format!(" {label:>11}");
                row += &format!(" {n:>11}");
            }
        }
        format!("{head}\n{row}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.1), Some(1));
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[1, 2], 51.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_sorts_and_converts_to_micros() {
        let mut ns: Vec<u64> = (1..=1000).rev().map(|i| i * 1000).collect();
        let l = Latency::from_ns(&mut ns).unwrap();
        assert_eq!(l.p50_us, 500.0);
        assert_eq!(l.p90_us, 900.0);
        assert_eq!(l.p99_us, 990.0);
        assert_eq!(l.max_us, 1000.0);
        assert_eq!(Latency::from_ns(&mut []), None);
    }

    fn report() -> Report {
        Report {
            workload: "reqrep",
            msgs: 1000,
            size: 16,
            secs: 0.5,
            subs: None,
            window: None,
            latency: Some(Latency {
                p50_us: 10.0,
                p90_us: 20.0,
                p99_us: 30.0,
                max_us: 40.04,
            }),
            in_flight: None,
            probes: None,
            remote_msgs: None,
        }
    }

    #[test]
    fn json_line_has_every_field() {
        let v: serde_json::Value = serde_json::from_str(&report().json_line()).unwrap();
        assert_eq!(v["workload"], "reqrep");
        assert_eq!(v["msgs"], 1000);
        assert_eq!(v["size"], 16);
        assert_eq!(v["secs"], 0.5);
        assert_eq!(v["msgs_per_sec"], 2000.0);
        assert_eq!(v["mb_per_sec"], 0.032);
        assert_eq!(v["p50_us"], 10.0);
        assert_eq!(v["p99_us"], 30.0);
        assert_eq!(v["max_us"], 40.0);
        assert!(v.get("subs").is_none() && v.get("window").is_none());
        assert!(v.get("probes").is_none() && v.get("remote_msgs").is_none());
        assert!(v.get("in_flight").is_none());
        let mut fan = report();
        fan.latency = None;
        fan.subs = Some(4);
        let v: serde_json::Value = serde_json::from_str(&fan.json_line()).unwrap();
        assert_eq!(v["subs"], 4);
        assert!(v.get("p50_us").is_none());
        fan.probes = Some(3);
        fan.remote_msgs = Some(500);
        fan.in_flight = Some(64);
        let v: serde_json::Value = serde_json::from_str(&fan.json_line()).unwrap();
        assert_eq!(v["in_flight"], 64);
        assert_eq!(
            (v["probes"].as_u64(), v["remote_msgs"].as_u64()),
            (Some(3), Some(500))
        );
        let t = fan.table();
        assert!(t.contains("probes") && t.contains("remote msgs"), "{t}");
    }

    #[test]
    fn table_is_a_header_and_a_row() {
        let t = report().table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(lines[0].contains("round trips/s") && lines[0].contains("p99 µs"));
        assert!(lines[1].starts_with("reqrep") && lines[1].contains("2000"));
    }
}

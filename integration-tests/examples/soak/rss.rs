//! The server's memory over time: VmRSS from /proc, sampled into a CSV file, and its trend
//! after a warm-up.

use std::io::Write;
use std::time::{Duration, Instant};

/// How often [`sampler`] samples.
pub const SAMPLE: Duration = Duration::from_secs(10);

/// The server's resident set size in KiB (VmRSS in /proc/PID/status), or 0 if it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One RSS sample.
#[derive(Clone, Copy)]
pub struct Sample {
    pub secs: f64,
    pub kib: u64,
}

/// Samples `pid`'s RSS every [`SAMPLE`] from the start to the end of `duration` (both
/// included), appending to `csv` and printing a line each time, with `progress()`.
pub async fn sampler(
    pid: u32,
    csv: String,
    duration: Duration,
    progress: impl Fn() -> String,
) -> Vec<Sample> {
    let mut file = std::fs::File::create(&csv).expect("create the CSV file");
    writeln!(file, "secs,rss_kib").unwrap();
    let start = Instant::now();
    let mut tick = tokio::time::interval(SAMPLE);
    let mut samples = Vec::new();
    loop {
        tick.tick().await;
        let s = Sample {
            secs: start.elapsed().as_secs_f64(),
            kib: rss_kib(pid),
        };
        writeln!(file, "{:.0},{}", s.secs, s.kib).unwrap();
        println!(
            "t={:>5.0}s rss={:>7.1} MiB {}",
            s.secs,
            s.kib as f64 / 1024.0,
            progress()
        );
        samples.push(s);
        if start.elapsed() + Duration::from_millis(500) >= duration {
            return samples;
        }
    }
}

/// The RSS trend after warm-up.
pub struct Trend {
    /// The first sample after warm-up.
    pub warm: Sample,
    /// The last sample.
    pub end: Sample,
    /// `end` over `warm`, minus 1.
    pub growth: f64,
    /// Least-squares slope over the samples after warm-up, KiB per minute.
    pub slope: f64,
}

/// The RSS trend over the samples taken from `warmup` seconds on.
pub fn trend(samples: &[Sample], warmup: f64) -> Option<Trend> {
    let after: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.secs >= warmup - 1.0)
        .collect();
    let (warm, end) = (*after.first()?, *after.last()?);
    let n = after.len() as f64;
    let mean_t = after.iter().map(|s| s.secs).sum::<f64>() / n;
    let mean_k = after.iter().map(|s| s.kib as f64).sum::<f64>() / n;
    let cov: f64 = after
        .iter()
        .map(|s| (s.secs - mean_t) * (s.kib as f64 - mean_k))
        .sum();
    let var: f64 = after.iter().map(|s| (s.secs - mean_t).powi(2)).sum();
    Some(Trend {
        warm,
        end,
        growth: end.kib as f64 / warm.kib.max(1) as f64 - 1.0,
        slope: if var > 0.0 { cov / var * 60.0 } else { 0.0 },
    })
}

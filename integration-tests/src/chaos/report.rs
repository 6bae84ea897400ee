//! The outcome record of one chaos scenario run, and the table `scripts/chaos.sh` prints.

use std::fmt::Write as _;
use std::time::Duration;

/// How the replicas compared after healing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestCheck {
    /// The target exposes no digest.
    NotAvailable,
    /// Every replica's digest is the same; `full` as in [`super::Digest::full`].
    Equal { full: bool },
    /// They differ (or some replica gave none): `node: digest` for each.
    Differ(Vec<String>),
}

/// What one scenario run found. Counts of publishes are per msg id (an id retried counts once,
/// with the best answer it got: acked, else refused, else unknown).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// The target's name.
    pub target: String,
    /// Nodes in the cluster (and the stream's replicas).
    pub nodes: usize,
    /// The seed it ran with.
    pub seed: u64,
    /// How long it ran, from start to verdict.
    pub took: Duration,
    /// Distinct msg ids published.
    pub published: usize,
    /// Ids acked by the server.
    pub acked: usize,
    /// Ids refused (never acked).
    pub refused: usize,
    /// Ids never answered (may or may not be stored).
    pub unknown: usize,
    /// Messages in the stream at the end.
    pub stored: usize,
    /// Acked ids missing from the stream at the end.
    pub lost: usize,
    /// Acks whose sequence holds another message (or none) at the end.
    pub ack_seq_mismatch: usize,
    /// Extra copies of ids stored more than once.
    pub duplicates: usize,
    /// Deliveries of a message after the server confirmed its ack (AckAck).
    pub redelivered_after_ack: usize,
    /// Distinct messages the consumer received that are not in the stream at the end.
    pub ghost_deliveries: usize,
    /// Confirmed acks / deliveries seen.
    pub acks_confirmed: usize,
    /// Deliveries seen.
    pub deliveries: usize,
    /// The replica comparison.
    pub digests: DigestCheck,
    /// True if the stream (and its consumer) still existed at the end.
    pub stream_ok: bool,
    /// Faults injected, in order, with times (for the record).
    pub faults: Vec<String>,
    /// Anything else worth reading: examples of violations, errors.
    pub notes: Vec<String>,
}

impl Outcome {
    /// The violated properties (empty: passed).
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.stream_ok {
            v.push("stream or consumer deleted".to_string());
        }
        if self.lost > 0 {
            v.push(format!("{} acked publishes lost", self.lost));
        }
        if self.ack_seq_mismatch > 0 {
            v.push(format!(
                "{} acks name a sequence holding another message",
                self.ack_seq_mismatch
            ));
        }
        if self.duplicates > 0 {
            v.push(format!("{} msg ids stored twice", self.duplicates));
        }
        if self.redelivered_after_ack > 0 {
            v.push(format!(
                "{} deliveries after a confirmed ack",
                self.redelivered_after_ack
            ));
        }
        if let DigestCheck::Differ(d) = &self.digests {
            v.push(format!("replicas differ: {}", d.join("; ")));
        }
        v
    }

    /// True if no property was violated.
    pub fn passed(&self) -> bool {
        self.violations().is_empty()
    }

    /// A multi-line description, for a failing test's panic message.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} on {} x{} (seed {}, {:.1}s): {}\n",
            self.scenario,
            self.target,
            self.nodes,
            self.seed,
            self.took.as_secs_f64(),
            if self.passed() { "PASS" } else { "FAIL" }
        );
        for v in self.violations() {
            let _ = writeln!(s, "  violated: {v}");
        }
        let _ = writeln!(
            s,
            "  published {} acked {} refused {} unknown {} stored {} deliveries {} acks {} ghost {}",
            self.published,
            self.acked,
            self.refused,
            self.unknown,
            self.stored,
            self.deliveries,
            self.acks_confirmed,
            self.ghost_deliveries
        );
        let _ = writeln!(s, "  faults: {}", self.faults.join(", "));
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}

/// The digest column: `equal`, `equal(state)`, `DIFFER`, `n/a`.
fn digest_cell(d: &DigestCheck) -> &'static str {
    match d {
        DigestCheck::NotAvailable => "n/a",
        DigestCheck::Equal { full: true } => "equal",
        DigestCheck::Equal { full: false } => "equal(state)",
        DigestCheck::Differ(_) => "DIFFER",
    }
}

/// A plain-text table of `outcomes`, one row each, then the violations and notes of each
/// failing row.
pub fn table(outcomes: &[Outcome]) -> String {
    let head = [
        "scenario", "target", "n", "seed", "secs", "publ", "acked", "refused", "unknown", "stored",
        "lost", "dups", "redeliv", "ghost", "digests", "stream", "result",
    ];
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.scenario.clone(),
                o.target.clone(),
                o.nodes.to_string(),
                o.seed.to_string(),
                format!("{:.0}", o.took.as_secs_f64()),
                o.published.to_string(),
                o.acked.to_string(),
                o.refused.to_string(),
                o.unknown.to_string(),
                o.stored.to_string(),
                (o.lost + o.ack_seq_mismatch).to_string(),
                o.duplicates.to_string(),
                o.redelivered_after_ack.to_string(),
                o.ghost_deliveries.to_string(),
                digest_cell(&o.digests).to_string(),
                if o.stream_ok { "ok" } else { "DELETED" }.to_string(),
                if o.passed() { "PASS" } else { "FAIL" }.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(s, " {c:<w$} |");
        }
        s.push('\n');
        s
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for r in rows {
        out.push_str(&line(r));
    }
    out.push_str(LEGEND);
    for o in outcomes.iter().filter(|o| !o.passed()) {
        out.push('\n');
        out.push_str(&o.describe());
    }
    out
}

/// What the columns of [`table`] mean.
const LEGEND: &str = "\
publ/acked/refused/unknown: msg ids published, by the best answer each got (refused: an error
  reply or no responders; unknown: no answer in time). stored: messages in the stream at the end.
lost: acked ids missing at the end (plus acks naming a sequence that holds another message).
dups: extra copies of a msg id. redeliv: deliveries of a message after its ack was confirmed
  (AckAck). ghost: delivered messages not in the stream at the end (noted, not a violation).
digests: the replicas after healing (equal: full content hash; equal(state): counts only;
  n/a: the target has none). stream: the stream and its consumer still exist.
";

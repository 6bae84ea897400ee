//! [`ChaosTarget`] for Sluice: a [`Cluster`] of real `sluice` binaries ([`crate::sluice_bin`])
//! with JetStream on, each with its own store directory (`-sd`), server name (`-n n<i>`) and
//! cluster name (`--cluster_name`), every route through a proxy of its own
//! ([`Routes::MeshViaProxies`]), exactly as [`super::faults::NatsServerTarget`] runs
//! nats-server.
//!
//! - The stream leader: `cluster.leader` of `$JS.API.STREAM.INFO.<S>` (the same JSON as
//!   nats-server's), asked of every running node in turn over a plain TCP connection (Sluice's
//!   `/jsz` has no per-stream detail); the stream leader answers it wherever it is asked.
//! - A replica's copy: Sluice writes a replicated stream's messages, on every replica, to
//!   segment files `<sd>/_cluster/replicas/<S>/<id:020>.seg` (written to the OS, not fsynced; rebuilt
//!   from the Raft log when the server starts). [`read_segments`] parses them READ-ONLY (the
//!   format of `crates/stream/src/store/segment.rs`, replayed as `store/recover.rs` does:
//!   reset headers, messages, tombstones, purge markers, apply marks) and never opens them for
//!   writing: `FileStore::open` would repair (truncate) a torn tail of a live store. A record
//!   being written while it is read ends the newest segment's scan, as a torn tail; the
//!   scenarios compare digests only after the cluster has been quiet.
//! - Logs: every node's stderr is kept across kills and restarts (the [`Cluster`] drops a
//!   killed process's log), for [`ChaosTarget::log_lines`]. With `CHAOS_LOG_DIR` set, each
//!   node's whole log is written to `<dir>/sluice-seed<seed>-n<i>.log` when the target drops.
//! - `CHAOS_SLUICE_ARGS` (space-separated) adds arguments to every node (`-D` for debug
//!   events, say); `RUST_LOG` reaches the nodes as well.

use super::faults::{fnv, wait_meta_ready};
use super::{ChaosTarget, Digest};
use crate::cluster::{Cluster, ClusterOpts, Routes};
use crate::Kind;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A Sluice cluster under fault injection.
pub struct SluiceTarget {
    cluster: Cluster,
    paused: Vec<bool>,
    /// Every log line each node printed, across restarts.
    logs: Vec<Vec<String>>,
    /// How many of `logs[i]` [`ChaosTarget::log_lines`] has returned.
    given: Vec<usize>,
    seed: u64,
}

impl SluiceTarget {
    /// The cluster (for anything the trait does not cover).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Where node `i` keeps its replica of replicated stream `stream` (segment files).
    pub fn stream_dir(&self, i: usize, stream: &str) -> Option<PathBuf> {
        let store = self.cluster.node(i).store.as_ref()?;
        Some(store.path().join("_cluster").join("replicas").join(stream))
    }

    /// Moves what node `i` logged since the last call into `logs[i]` (before its process, and
    /// the channel its log comes through, goes away).
    fn collect_log(&mut self, i: usize) {
        let lines = self.cluster.nodes[i].log_lines();
        self.logs[i].extend(lines);
    }

    /// Every line node `i` logged so far (across restarts).
    pub fn full_log(&mut self, i: usize) -> &[String] {
        self.collect_log(i);
        &self.logs[i]
    }

    /// Node `i`'s answer to `$JS.API.STREAM.INFO.<stream>` (the stream leader's), if one comes
    /// within `timeout`. Paused nodes are not asked.
    pub fn stream_info(&self, i: usize, stream: &str, timeout: Duration) -> Option<Value> {
        if self.paused[i] {
            return None;
        }
        let body = request(
            self.cluster.node(i).addr(),
            &format!("$JS.API.STREAM.INFO.{stream}"),
            b"",
            timeout,
        )
        .ok()?;
        serde_json::from_slice(&body).ok()
    }

    /// The index of the node named `name` (`n<i>`).
    fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.cluster.len()).find(|&i| self.cluster.node(i).name == name)
    }
}

impl ChaosTarget for SluiceTarget {
    fn start(nodes: usize, seed: u64) -> Self {
        let extra_args = std::env::var("CHAOS_SLUICE_ARGS")
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let opts = ClusterOpts {
            routes: Routes::MeshViaProxies,
            jetstream: true,
            extra_args,
            ..ClusterOpts::default()
        };
        let cluster = Cluster::start(&vec![Kind::Sluice; nodes], opts);
        SluiceTarget {
            cluster,
            paused: vec![false; nodes],
            logs: vec![Vec::new(); nodes],
            given: vec![0; nodes],
            seed,
        }
    }

    fn name(&self) -> String {
        "sluice".into()
    }

    fn len(&self) -> usize {
        self.cluster.len()
    }

    fn client_url(&self, i: usize) -> String {
        self.cluster.url(i)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        wait_meta_ready(&mut self.cluster, &self.paused, timeout)
    }

    fn kill9(&mut self, i: usize) {
        self.paused[i] = false;
        self.collect_log(i);
        self.cluster.kill9(i);
        self.logs[i].push("---- chaos: kill -9".into());
    }

    fn restart(&mut self, i: usize) {
        self.paused[i] = false;
        self.collect_log(i);
        self.logs[i].push("---- chaos: restart".into());
        self.cluster.restart(i);
    }

    fn wipe_and_restart(&mut self, i: usize) {
        self.kill9(i);
        self.cluster.wipe_store(i);
        self.logs[i].push("---- chaos: store wiped".into());
        self.restart(i);
    }

    fn pause(&mut self, i: usize) {
        self.cluster.sigstop(i);
        self.paused[i] = true;
    }

    fn resume(&mut self, i: usize) {
        self.cluster.sigcont(i);
        self.paused[i] = false;
    }

    fn is_running(&mut self, i: usize) -> bool {
        self.cluster.nodes[i].is_running()
    }

    fn is_paused(&self, i: usize) -> bool {
        self.paused[i]
    }

    fn cut_link(&mut self, a: usize, b: usize) {
        self.cluster.cut_link(a, b);
    }

    fn degrade_links(&mut self, delay: Duration, drop: f64) {
        for (_, _, p) in self.cluster.link_proxies() {
            p.delay(delay);
            p.drop_rate(drop);
        }
    }

    fn heal(&mut self) {
        self.cluster.heal_links();
    }

    fn stream_leader(&self, stream: &str) -> Option<usize> {
        // Every node that answers names the leader as the answering leader sees itself; an
        // isolated old leader may still answer its own clients, so go with what most say.
        let asked: Vec<Option<SocketAddr>> = (0..self.len())
            .map(|i| (!self.paused[i]).then(|| self.cluster.node(i).addr()))
            .collect();
        let subject = format!("$JS.API.STREAM.INFO.{stream}");
        let names: Vec<Option<String>> = std::thread::scope(|s| {
            let asks: Vec<_> = asked
                .iter()
                .map(|addr| {
                    let subject = &subject;
                    s.spawn(move || {
                        let body = request((*addr)?, subject, b"", Duration::from_secs(1)).ok()?;
                        let info: Value = serde_json::from_slice(&body).ok()?;
                        info["cluster"]["leader"].as_str().map(str::to_owned)
                    })
                })
                .collect();
            asks.into_iter().map(|h| h.join().ok().flatten()).collect()
        });
        let views: Vec<Option<usize>> = names
            .iter()
            .map(|n| n.as_deref().and_then(|n| self.index_of(n)))
            .collect();
        let mut counts = vec![0usize; self.len()];
        for l in views.iter().flatten() {
            counts[*l] += 1;
        }
        (0..self.len())
            .filter(|&i| counts[i] > 0)
            .max_by_key(|&i| counts[i])
    }

    fn replica_digest(&self, i: usize, stream: &str) -> Option<Digest> {
        let dir = self.stream_dir(i, stream)?;
        if !dir.is_dir() {
            return None;
        }
        let seg = read_segments(&dir).ok()?;
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for (seq, m) in &seg.msgs {
            hash = fnv(hash, &seq.to_le_bytes());
            hash = fnv(hash, &m.time_ns.to_le_bytes());
            hash = fnv(hash, m.subject.as_bytes());
            hash = fnv(hash, &[0]);
            hash = fnv(hash, m.headers.as_deref().unwrap_or(b"-"));
            hash = fnv(hash, &[0]);
            hash = fnv(hash, &m.payload);
            hash = fnv(hash, &[0]);
        }
        let first = seg.msgs.keys().next().copied().unwrap_or(0);
        Some(Digest {
            value: format!(
                "msgs={} first={first} last={} content={hash:016x}",
                seg.msgs.len(),
                seg.last_seq
            ),
            full: true,
        })
    }

    fn replica_messages(&self, i: usize, stream: &str) -> Option<Vec<(u64, String)>> {
        let seg = read_segments(&self.stream_dir(i, stream)?).ok()?;
        Some(
            seg.msgs
                .into_iter()
                .map(|(seq, m)| (seq, String::from_utf8_lossy(&m.payload).into_owned()))
                .collect(),
        )
    }

    fn log_lines(&mut self, i: usize) -> Vec<String> {
        self.collect_log(i);
        let new = self.logs[i][self.given[i]..].to_vec();
        self.given[i] = self.logs[i].len();
        new
    }
}

impl Drop for SluiceTarget {
    fn drop(&mut self) {
        let Some(dir) = std::env::var_os("CHAOS_LOG_DIR") else {
            return;
        };
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        for i in 0..self.len() {
            self.collect_log(i);
            let path = dir.join(format!("sluice-seed{}-n{i}.log", self.seed));
            if let Err(e) = std::fs::write(&path, self.logs[i].join("\n") + "\n") {
                eprintln!("CHAOS_LOG_DIR: {}: {e}", path.display());
            }
        }
    }
}

/// A request over a plain TCP connection to the server at `addr`: CONNECT, SUB an inbox, PUB
/// `subject` with `body` and the inbox as reply, then the first message on the inbox. `Err` if
/// the server cannot be reached or nothing arrives within `timeout`.
pub fn request(
    addr: SocketAddr,
    subject: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let err = |e: std::io::Error| format!("{subject} on {addr}: {e}");
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(err)?;
    s.set_nodelay(true).map_err(err)?;
    s.set_write_timeout(Some(timeout)).map_err(err)?;
    let inbox = "_CHAOS_INBOX.1";
    let mut out = Vec::new();
    out.extend_from_slice(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n");
    out.extend_from_slice(format!("SUB {inbox} 1\r\n").as_bytes());
    out.extend_from_slice(format!("PUB {subject} {inbox} {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    s.write_all(&out).map_err(err)?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        // Whole lines at the front: INFO, PING, +OK, -ERR, MSG/HMSG with their payload.
        while let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
            let mut words = line.split_whitespace();
            let op = words.next().unwrap_or("").to_ascii_uppercase();
            match op.as_str() {
                "MSG" | "HMSG" => {
                    let w: Vec<&str> = line.split_whitespace().collect();
                    let total: usize = w
                        .last()
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| format!("{subject} on {addr}: bad {line:?}"))?;
                    let hdr: usize = if op == "HMSG" {
                        w.get(w.len().wrapping_sub(2))
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| format!("{subject} on {addr}: bad {line:?}"))?
                    } else {
                        0
                    };
                    if buf.len() < eol + 2 + total + 2 {
                        break; // the payload is still coming
                    }
                    return Ok(buf[eol + 2 + hdr..eol + 2 + total].to_vec());
                }
                "PING" => {
                    s.write_all(b"PONG\r\n").map_err(err)?;
                    buf.drain(..eol + 2);
                }
                "-ERR" => return Err(format!("{subject} on {addr}: {line}")),
                _ => {
                    buf.drain(..eol + 2);
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{subject} on {addr}: no answer within {timeout:?}"));
        }
        s.set_read_timeout(Some(left)).map_err(err)?;
        match s.read(&mut chunk) {
            Ok(0) => return Err(format!("{subject} on {addr}: connection closed")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(err(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A read-only reader of Sluice's segment files (crates/stream/src/store/segment.rs):
//
// <dir>/<id:020>.seg, ids in write order, each a 40-byte header
//   0 magic "SLSG"  4 version u8 (1)  5 flags u8 (bit 0: reset)  6 reserved u16
//   8 segment id u64  16 base seq u64  24 last_ts i64  32 reserved u32  36 crc32 of 0..36
// then records, little-endian:
//   0 len u32 (bytes after crc)  4 crc32 of the len bytes after it
//   8 kind u8 (1 msg, 2 tombstone, 3 purge marker, 4 apply mark)  9 flags u8 (bit 0: headers)
//   10 subject len u16  12 headers len u32  16 seq u64  24 time_ns i64
//   32 subject, headers, payload
// replayed in order (store/recover.rs): a reset header drops everything before it; a
// tombstone removes its seq; a purge marker everything below its seq; a mark (Raft index in
// seq, term in time_ns) changes no message.
// ---------------------------------------------------------------------------------------------

const SEG_HEADER: usize = 40;
const REC_FIXED: usize = 32;

/// One live message of a segment store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegMsg {
    /// Its subject.
    pub subject: String,
    /// Its raw header block, if it has one.
    pub headers: Option<Vec<u8>>,
    /// Its payload.
    pub payload: Vec<u8>,
    /// When it was stored (Unix nanoseconds).
    pub time_ns: i64,
}

/// What a stream's segment files hold, replayed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segments {
    /// Live messages by sequence.
    pub msgs: BTreeMap<u64, SegMsg>,
    /// The last sequence assigned (as the store would report it).
    pub last_seq: u64,
    /// The last apply mark, `(index, term)`, if any.
    pub last_mark: Option<(u64, u64)>,
    /// Segment files read.
    pub segments: usize,
    /// Bytes at the tail of the newest segment that did not parse as a record (a record
    /// being written, or a torn tail after a crash); 0 normally.
    pub torn_tail: u64,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads every segment of `dir` (opened for reading only) and replays it. `Err` on damage
/// the store itself would call corrupt (anything but a bad tail of the newest segment), or
/// if a file vanishes while being read (the store deleted a dead segment: read again).
pub fn read_segments(dir: &Path) -> Result<Segments, String> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".seg")?;
            (stem.len() == 20).then(|| stem.parse().ok())?
        })
        .collect();
    ids.sort_unstable();
    let mut out = Segments::default();
    for (k, &id) in ids.iter().enumerate() {
        let newest = k + 1 == ids.len();
        let path = dir.join(format!("{id:020}.seg"));
        let b = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bad = |why: String| format!("{}: {why}", path.display());
        if b.len() < SEG_HEADER {
            if newest {
                out.torn_tail = b.len() as u64;
                out.segments += 1;
                continue; // being created
            }
            return Err(bad(format!("{} bytes, short of a header", b.len())));
        }
        let h = &b[..SEG_HEADER];
        if &h[0..4] != b"SLSG" || h[4] != 1 {
            return Err(bad(format!("bad magic or version {:02x?}", &h[0..5])));
        }
        if crc32(&h[..36]) != le_u32(h, 36) {
            return Err(bad("header checksum mismatch".into()));
        }
        if le_u64(h, 8) != id {
            return Err(bad(format!("header says segment {}", le_u64(h, 8))));
        }
        let base = le_u64(h, 16);
        if h[5] & 1 != 0 {
            out.msgs.clear();
            out.last_seq = base.saturating_sub(1);
        } else {
            out.last_seq = out.last_seq.max(base.saturating_sub(1));
        }
        out.segments += 1;
        let mut at = SEG_HEADER;
        while at < b.len() {
            match decode_record(&b[at..]) {
                Ok((rec, total)) => {
                    match rec {
                        Rec::Msg(seq, m) => {
                            if seq <= out.last_seq {
                                return Err(bad(format!(
                                    "record at {at} has seq {seq}, not above {}",
                                    out.last_seq
                                )));
                            }
                            out.last_seq = seq;
                            out.msgs.insert(seq, m);
                        }
                        Rec::Tomb(seq) => {
                            out.msgs.remove(&seq);
                        }
                        Rec::Purge(seq) => {
                            out.msgs = out.msgs.split_off(&seq);
                            out.last_seq = out.last_seq.max(seq.saturating_sub(1));
                        }
                        Rec::Mark(index, term) => out.last_mark = Some((index, term)),
                    }
                    at += total;
                }
                Err(why) if newest => {
                    // A record being written, or a torn tail: the store would cut it off.
                    let _ = why;
                    out.torn_tail = (b.len() - at) as u64;
                    break;
                }
                Err(why) => return Err(bad(format!("bad record at {at}: {why}"))),
            }
        }
    }
    Ok(out)
}

/// One decoded record.
enum Rec {
    Msg(u64, SegMsg),
    Tomb(u64),
    Purge(u64),
    Mark(u64, u64),
}

/// Checks and decodes the record at the start of `b`: the record and its total length.
fn decode_record(b: &[u8]) -> Result<(Rec, usize), String> {
    if b.len() < 8 {
        return Err(format!("{} bytes, short of a record length", b.len()));
    }
    let total = le_u32(b, 0) as usize + 8;
    if total < REC_FIXED || total > b.len() {
        return Err(format!("record length {total} ({} bytes left)", b.len()));
    }
    let r = &b[..total];
    if crc32(&r[8..]) != le_u32(r, 4) {
        return Err("record checksum mismatch".into());
    }
    let (kind, flags) = (r[8], r[9]);
    let slen = u16::from_le_bytes([r[10], r[11]]) as usize;
    let hlen = le_u32(r, 12) as usize;
    if flags & !1 != 0 || REC_FIXED + slen + hlen > total {
        return Err(format!("inconsistent fields (kind {kind}, flags {flags})"));
    }
    let seq = le_u64(r, 16);
    let ts = le_u64(r, 24) as i64;
    let rec = match kind {
        1 => {
            let subject = std::str::from_utf8(&r[REC_FIXED..REC_FIXED + slen])
                .map_err(|_| "subject is not UTF-8".to_string())?
                .to_owned();
            let h0 = REC_FIXED + slen;
            Rec::Msg(
                seq,
                SegMsg {
                    subject,
                    headers: (flags & 1 != 0).then(|| r[h0..h0 + hlen].to_vec()),
                    payload: r[h0 + hlen..].to_vec(),
                    time_ns: ts,
                },
            )
        }
        2 => Rec::Tomb(seq),
        3 => Rec::Purge(seq),
        4 if total == REC_FIXED && flags == 0 => Rec::Mark(seq, ts as u64),
        _ => return Err(format!("unknown record kind {kind}")),
    };
    Ok((rec, total))
}

/// CRC-32 (IEEE, as crc32fast computes it), bitwise: the segments of one test stream are
/// small.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as `store/segment.rs` `encode` writes it.
    fn record(
        kind: u8,
        seq: u64,
        ts: i64,
        subject: &str,
        hdrs: Option<&[u8]>,
        p: &[u8],
    ) -> Vec<u8> {
        let h = hdrs.unwrap_or(&[]);
        let total = REC_FIXED + subject.len() + h.len() + p.len();
        let mut b = Vec::new();
        b.extend_from_slice(&((total - 8) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.push(kind);
        b.push(u8::from(hdrs.is_some()));
        b.extend_from_slice(&(subject.len() as u16).to_le_bytes());
        b.extend_from_slice(&(h.len() as u32).to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&ts.to_le_bytes());
        b.extend_from_slice(subject.as_bytes());
        b.extend_from_slice(h);
        b.extend_from_slice(p);
        let crc = crc32(&b[8..]);
        b[4..8].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn header(id: u64, base: u64, reset: bool) -> Vec<u8> {
        let mut h = vec![0u8; SEG_HEADER];
        h[0..4].copy_from_slice(b"SLSG");
        h[4] = 1;
        h[5] = u8::from(reset);
        h[8..16].copy_from_slice(&id.to_le_bytes());
        h[16..24].copy_from_slice(&base.to_le_bytes());
        let crc = crc32(&h[..36]);
        h[36..40].copy_from_slice(&crc.to_le_bytes());
        h
    }

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn replays_segments_as_the_store_does() {
        let dir = crate::js::StoreDir::new("segreader");
        let mut s1 = header(1, 1, false);
        for seq in 1..=4 {
            s1.extend(record(1, seq, 7, "a.b", None, format!("m{seq}").as_bytes()));
        }
        s1.extend(record(2, 2, 0, "", None, b""));
        s1.extend(record(4, 9, 3, "", None, b""));
        let mut s2 = header(2, 5, false);
        s2.extend(record(1, 5, 8, "a.c", Some(b"NATS/1.0\r\n\r\n"), b"m5"));
        s2.extend(record(3, 4, 0, "", None, b""));
        s2.extend(record(1, 6, 9, "a.c", None, b"m6"));
        // A record being written: only part of it is there.
        let half = record(1, 7, 9, "a.c", None, b"m7");
        s2.extend_from_slice(&half[..half.len() - 3]);
        std::fs::write(dir.path().join(format!("{:020}.seg", 1)), &s1).unwrap();
        std::fs::write(dir.path().join(format!("{:020}.seg", 2)), &s2).unwrap();
        let seg = read_segments(dir.path()).unwrap();
        let seqs: Vec<u64> = seg.msgs.keys().copied().collect();
        assert_eq!(seqs, [4, 5, 6]);
        assert_eq!(
            seg.msgs[&5].headers.as_deref(),
            Some(&b"NATS/1.0\r\n\r\n"[..])
        );
        assert_eq!(seg.msgs[&6].payload, b"m6");
        assert_eq!(seg.last_seq, 6);
        assert_eq!(seg.last_mark, Some((9, 3)));
        assert_eq!(seg.torn_tail, half.len() as u64 - 3);
        // A bad record in an older segment is damage, not a tail.
        let mut bad = s1.clone();
        let n = bad.len();
        bad[n - 40] ^= 0xff;
        std::fs::write(dir.path().join(format!("{:020}.seg", 1)), &bad).unwrap();
        assert!(read_segments(dir.path()).is_err());
        // A reset segment drops what came before (and segment 2 is no longer the newest: its
        // tail must parse).
        let s2 = &s2[..s2.len() - (half.len() - 3)];
        std::fs::write(dir.path().join(format!("{:020}.seg", 2)), s2).unwrap();
        let mut s3 = header(3, 20, true);
        s3.extend(record(1, 20, 1, "x", None, b"m20"));
        std::fs::write(dir.path().join(format!("{:020}.seg", 1)), &s1).unwrap();
        std::fs::write(dir.path().join(format!("{:020}.seg", 3)), &s3).unwrap();
        let seg = read_segments(dir.path()).unwrap();
        assert_eq!(seg.msgs.keys().copied().collect::<Vec<_>>(), [20]);
        assert_eq!(seg.last_seq, 20);
    }
}

//! The op and script generator. [`Gen`] builds valid ops (CONNECT, PUB, HPUB, SUB and UNSUB
//! with and without queues, PING, PONG, in various spellings, payloads up to max_payload, long
//! but legal lines), bad ones (wrong and huge sizes, payloads over max_payload, bad UTF-8, CR
//! without LF, binary garbage, over-long lines, bad CONNECT JSON, server ops sent by a client)
//! and mutations of valid ones (bit flips, delimiters, truncation, duplication, splicing,
//! deletion); [`script`] strings them into one fuzz connection's script according to its
//! [`Profile`], from the seed, the round and the connection's index alone.

use crate::{MAX_CONTROL_LINE, MAX_PAYLOAD};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One op of a script.
struct Op {
    bytes: Vec<u8>,
    /// The server must not close the connection for it.
    valid: bool,
    /// PINGs it holds (counted for valid ops only).
    pings: usize,
}

impl Op {
    fn valid(bytes: impl Into<Vec<u8>>) -> Op {
        Op {
            bytes: bytes.into(),
            valid: true,
            pings: 0,
        }
    }

    fn bad(bytes: impl Into<Vec<u8>>) -> Op {
        Op {
            bytes: bytes.into(),
            valid: false,
            pings: 0,
        }
    }
}

/// Subjects valid ops publish to (no `healthy.` ones: those are the healthy clients').
const PUB_SUBJECTS: [&str; 6] = ["fz.a", "fz.b.c", "fz.q", "FZ.upper", "fz.a.b.c.d.e", "x"];
/// Subjects valid ops subscribe to.
const SUB_SUBJECTS: [&str; 8] = ["fz.a", "fz.*", "fz.>", ">", "fz.b.*", "*.a", "x", "fz.q"];
/// Replies valid PUBs carry.
const REPLIES: [&str; 3] = ["fz.reply", "_INBOX.abc.def", "fz.r.1"];

/// Builds ops for one connection; remembers what a valid op may rely on (whether headers
/// were negotiated) so that "valid" stays true.
struct Gen {
    rng: SmallRng,
    headers: bool,
    /// The connection asked for no-responders messages (which need headers).
    no_responders: bool,
}

impl Gen {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.gen_range(0..from.len())]
    }

    /// A blank run between arguments: usually one space, sometimes more, or a tab.
    fn sep(&mut self) -> &'static str {
        match self.rng.gen_range(0..10) {
            0 => "  ",
            1 => "\t",
            2 => " \t ",
            _ => " ",
        }
    }

    /// An op name in one of the spellings the server must accept (any case).
    fn name(&mut self, name: &str) -> String {
        match self.rng.gen_range(0..6) {
            0 => name.to_ascii_lowercase(),
            1 => name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect(),
            _ => name.to_owned(),
        }
    }

    /// A payload of `len` bytes: any bytes at all, or printable text.
    fn payload(&mut self, len: usize) -> Vec<u8> {
        if self.rng.gen_bool(0.5) {
            (0..len).map(|_| self.rng.gen()).collect()
        } else {
            (0..len).map(|_| self.rng.gen_range(b' '..=b'~')).collect()
        }
    }

    /// A payload size within max_payload, mostly small.
    fn size(&mut self) -> usize {
        match self.rng.gen_range(0..20) {
            0 => MAX_PAYLOAD,
            1 => self.rng.gen_range(1024..=MAX_PAYLOAD),
            2..=6 => self.rng.gen_range(64..1024),
            _ => self.rng.gen_range(0..64),
        }
    }

    /// A sid: a small number (so UNSUBs hit earlier SUBs) or a word.
    fn sid(&mut self) -> String {
        if self.rng.gen_bool(0.8) {
            self.rng.gen_range(1..=12).to_string()
        } else {
            format!("s{}", self.rng.gen_range(0..4))
        }
    }

    /// A long subject that is still within max_control_line with its other arguments.
    fn long_subject(&mut self) -> String {
        let tokens = self.rng.gen_range(20..=120);
        let mut s = String::from("fz");
        for _ in 0..tokens {
            s.push('.');
            s.push_str(&"t".repeat(self.rng.gen_range(1..=6)));
        }
        s.truncate(MAX_CONTROL_LINE - 64);
        s.trim_end_matches('.').to_owned()
    }

    /// A valid op: one the server must handle without closing the connection.
    fn valid_op(&mut self) -> Op {
        let crlf = if self.rng.gen_bool(0.9) { "\r\n" } else { "\n" };
        match self.rng.gen_range(0..100) {
            0..=7 => {
                let headers = match self.rng.gen_range(0..3) {
                    0 => None,
                    1 => Some(false),
                    _ => Some(true),
                };
                let mut json = format!(
                    "{{\"verbose\":{},\"pedantic\":{},\"echo\":{},\"name\":\"fz\",\"lang\":\"rust\"",
                    self.rng.gen_bool(0.3),
                    self.rng.gen_bool(0.5),
                    self.rng.gen_bool(0.8),
                );
                if let Some(h) = headers {
                    json.push_str(&format!(",\"headers\":{h}"));
                    self.headers = h;
                }
                // no_responders needs headers; options are merged over earlier CONNECTs, so
                // turning headers off must turn it off too.
                let no_responders = self.headers && self.rng.gen_bool(0.5);
                if no_responders != self.no_responders || self.rng.gen_bool(0.3) {
                    json.push_str(&format!(",\"no_responders\":{no_responders}"));
                    self.no_responders = no_responders;
                }
                if self.rng.gen_bool(0.3) {
                    json.push_str(&format!(",\"protocol\":{}", self.rng.gen_range(0..=1)));
                }
                json.push('}');
                let gap = if self.rng.gen_bool(0.2) { "" } else { " " };
                let name = self.name("CONNECT");
                Op::valid(format!("{name}{gap}{json}{crlf}"))
            }
            8..=44 => {
                let subject = if self.rng.gen_bool(0.05) {
                    self.long_subject()
                } else {
                    self.pick(&PUB_SUBJECTS).to_owned()
                };
                let reply = if self.rng.gen_bool(0.3) {
                    format!("{}{}", self.sep(), self.pick(&REPLIES))
                } else {
                    String::new()
                };
                let len = self.size();
                let name = self.name("PUB");
                let (s1, s2) = (self.sep(), self.sep());
                let mut b = format!("{name}{s1}{subject}{reply}{s2}{len}{crlf}").into_bytes();
                b.extend(self.payload(len));
                b.extend_from_slice(b"\r\n");
                Op::valid(b)
            }
            45..=52 if self.headers => {
                let hdr = format!("NATS/1.0\r\nFz: {}\r\n\r\n", self.rng.gen::<u32>());
                let len = self.size().min(MAX_PAYLOAD - hdr.len());
                let subject = self.pick(&PUB_SUBJECTS);
                let name = self.name("HPUB");
                let total = hdr.len() + len;
                let mut b =
                    format!("{name} {subject} {} {total}{crlf}{hdr}", hdr.len()).into_bytes();
                b.extend(self.payload(len));
                b.extend_from_slice(b"\r\n");
                Op::valid(b)
            }
            45..=64 => {
                let subject = if self.rng.gen_bool(0.05) {
                    self.long_subject()
                } else {
                    self.pick(&SUB_SUBJECTS).to_owned()
                };
                let queue = if self.rng.gen_bool(0.3) {
                    format!(" q{}", self.rng.gen_range(0..3))
                } else {
                    String::new()
                };
                let name = self.name("SUB");
                let sid = self.sid();
                let sep = self.sep();
                Op::valid(format!("{name}{sep}{subject}{queue}{sep}{sid}{crlf}"))
            }
            65..=74 => {
                let max = match self.rng.gen_range(0..3) {
                    0 => format!(" {}", self.rng.gen_range(0..5)),
                    _ => String::new(),
                };
                let name = self.name("UNSUB");
                let sid = self.sid();
                Op::valid(format!("{name} {sid}{max}{crlf}"))
            }
            75..=86 => {
                let name = self.name("PING");
                let mut op = Op::valid(format!("{name}{crlf}"));
                op.pings = 1;
                op
            }
            87..=94 => {
                let name = self.name("PONG");
                Op::valid(format!("{name}{crlf}"))
            }
            // Valid ops that earn a non-fatal -ERR (see `fuzz_conn::SOFT_ERRORS`).
            95..=96 => Op::valid(format!("SUB fz..a {}{crlf}", self.sid())),
            97 => Op::valid(format!("SUB fz.>.a {}{crlf}", self.sid())),
            _ => Op::valid(format!("PUB fz.* 1{crlf}x\r\n")),
        }
    }

    /// An op the server may (or must) close the connection for.
    fn bad_op(&mut self) -> Op {
        match self.rng.gen_range(0..22) {
            // A size that does not match the payload, one way or the other.
            0 | 1 => {
                let len = self.rng.gen_range(1..200);
                let sent = if self.rng.gen_bool(0.5) {
                    len + self.rng.gen_range(1..20)
                } else {
                    len - self.rng.gen_range(1..=len)
                };
                let mut b = format!("PUB fz.a {len}\r\n").into_bytes();
                b.extend(self.payload(sent));
                b.extend_from_slice(b"\r\n");
                Op::bad(b)
            }
            // Huge size claims: over max_payload, and more digits than a size may have.
            2 => Op::bad(b"PUB fz.a 999999999\r\n".to_vec()),
            3 => Op::bad(b"PUB fz.a 12345678901234567890\r\nxx\r\n".to_vec()),
            4 => Op::bad(b"HPUB fz.a 12 999999999\r\n".to_vec()),
            // A payload over max_payload, sent in full.
            5 => {
                let len = self.rng.gen_range(MAX_PAYLOAD + 1..=2 * MAX_PAYLOAD);
                let mut b = format!("PUB fz.a {len}\r\n").into_bytes();
                b.extend(self.payload(len));
                b.extend_from_slice(b"\r\n");
                Op::bad(b)
            }
            // Header size over the total; HPUB without headers negotiated.
            6 => Op::bad(b"HPUB fz.a 10 5\r\nNATS/1.0\r\n\r\n".to_vec()),
            7 => Op::bad(b"HPUB fz.a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".to_vec()),
            // Bad UTF-8 in subjects, sids and queues.
            8 => Op::bad(b"SUB fz.\xff\xfe 1\r\n".to_vec()),
            9 => Op::bad(b"PUB \xc3\x28 1\r\nx\r\n".to_vec()),
            10 => Op::bad(b"SUB fz.a \xe2\x82 \x80\r\n".to_vec()),
            // CR without LF.
            11 => Op::bad(b"PING\rPONG\r".to_vec()),
            12 => Op::bad(b"SUB fz.a\r1\r\rPUB fz.a 1\r\nx\r".to_vec()),
            // Binary garbage.
            13 => {
                let len = self.rng.gen_range(1..300);
                Op::bad((0..len).map(|_| self.rng.gen()).collect::<Vec<u8>>())
            }
            // Lines longer than max_control_line: arguments, blanks, a blank line.
            14 => {
                let n = self.rng.gen_range(MAX_CONTROL_LINE..4 * MAX_CONTROL_LINE);
                Op::bad(format!("SUB {} 1\r\n", "a".repeat(n)))
            }
            15 => {
                let n = self.rng.gen_range(MAX_CONTROL_LINE..4 * MAX_CONTROL_LINE);
                Op::bad(format!("PUB{}fz.a 1\r\nx\r\n", " ".repeat(n)))
            }
            16 => Op::bad(" ".repeat(self.rng.gen_range(1..3 * MAX_CONTROL_LINE))),
            // CONNECT with JSON that does not decode, or options that are refused.
            17 => Op::bad(match self.rng.gen_range(0..5) {
                0 => "CONNECT {\"verbose\":tru\r\n",
                1 => "CONNECT {\"verbose\":\"yes\"}\r\n",
                2 => "CONNECT {\"protocol\":7}\r\n",
                3 => "CONNECT {\"no_responders\":true,\"headers\":false}\r\n",
                _ => "CONNECT\r\n",
            }),
            // Server ops from a client, unknown ops, missing arguments, NULs.
            18 => Op::bad(match self.rng.gen_range(0..4) {
                0 => "-ERR 'fuzz'\r\n",
                1 => "MSG fz.a 1 1\r\nx\r\n",
                2 => "INFO {bad\r\n",
                _ => "INFO {}\r\n",
            }),
            19 => Op::bad(match self.rng.gen_range(0..5) {
                0 => "FOO\r\n",
                1 => "PUBX fz.a 1\r\n",
                2 => " PING\r\n",
                3 => "SUB fz.a\r\n",
                _ => "UNSUB\r\n",
            }),
            20 => Op::bad(b"PUB fz.a 3\r\n\0\0\0\r\n\0\0\0PING\r\n".to_vec()),
            // A valid op with a byte of its line end missing.
            _ => {
                let mut op = self.valid_op();
                if let Some(p) = op.bytes.iter().position(|&b| b == b'\n') {
                    op.bytes.remove(p);
                }
                Op::bad(op.bytes)
            }
        }
    }

    /// A valid op, mutated: a flipped bit, a byte replaced with a delimiter, a truncation, a
    /// duplicated range, a splice with `donor`, or a deleted range.
    fn mutated_op(&mut self, donor: &[u8]) -> Op {
        let mut b = self.valid_op().bytes;
        if b.is_empty() {
            return Op::bad(b);
        }
        let times = self.rng.gen_range(1..=3);
        for _ in 0..times {
            if b.is_empty() {
                break;
            }
            let at = self.rng.gen_range(0..b.len());
            match self.rng.gen_range(0..6) {
                0 => b[at] ^= 1 << self.rng.gen_range(0..8),
                1 => {
                    const SPECIAL: &[u8] = b"\r\n \t\0\xff9.>*$-";
                    b[at] = SPECIAL[self.rng.gen_range(0..SPECIAL.len())];
                }
                2 => b.truncate(at),
                3 => {
                    let end = self.rng.gen_range(at..=b.len().min(at + 64));
                    let copy = b[at..end].to_vec();
                    let to = self.rng.gen_range(0..=b.len());
                    b.splice(to..to, copy);
                }
                4 if !donor.is_empty() => {
                    let from = self.rng.gen_range(0..donor.len());
                    let end = self.rng.gen_range(from..=donor.len().min(from + 128));
                    b.splice(at..at, donor[from..end].iter().copied());
                }
                _ => {
                    let end = self.rng.gen_range(at..=b.len().min(at + 16));
                    b.drain(at..end);
                }
            }
        }
        Op::bad(b)
    }
}

/// How one fuzz connection behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Only valid ops: the server must keep it open and answer every PING.
    Clean,
    /// Mostly valid, with bad and mutated ops mixed in.
    Mixed,
    /// Mostly mutated and bad ops.
    Hostile,
}

/// The script of fuzz connection `index` in `round`: its profile, bytes, op count and PINGs
/// (for a clean one). Depends only on the arguments.
pub fn script(seed: u64, round: u64, index: usize) -> (Profile, Vec<u8>, usize, usize, SmallRng) {
    let mut rng = SmallRng::seed_from_u64(seed ^ (round << 40) ^ ((index as u64) << 20));
    let profile = match rng.gen_range(0..10) {
        0..=3 => Profile::Clean,
        4..=7 => Profile::Mixed,
        _ => Profile::Hostile,
    };
    let mut gen = Gen {
        rng: SmallRng::seed_from_u64(rng.gen()),
        headers: false,
        no_responders: false,
    };
    let n = rng.gen_range(5..=80);
    let mut bytes = Vec::new();
    let mut pings = 0;
    for _ in 0..n {
        let op = match profile {
            Profile::Clean => gen.valid_op(),
            Profile::Mixed => match rng.gen_range(0..100) {
                0..=79 => gen.valid_op(),
                80..=89 => gen.bad_op(),
                _ => gen.mutated_op(&bytes),
            },
            Profile::Hostile => match rng.gen_range(0..100) {
                0..=29 => gen.valid_op(),
                30..=59 => gen.bad_op(),
                _ => gen.mutated_op(&bytes),
            },
        };
        assert!(
            op.valid || profile != Profile::Clean,
            "a clean script got an invalid op"
        );
        pings += op.pings;
        bytes.extend_from_slice(&op.bytes);
    }
    (profile, bytes, n, pings, rng)
}

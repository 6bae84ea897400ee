//! Shared test support: the loader for protocol-spec/vectors/ (format: see
//! protocol-spec/vectors/README.md) and helpers that run bytes through the parsers.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use sluice_protocol::{parse_client, parse_server, Limits, Parsed};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod ops;

/// Which parser a case is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// client -> server: `parse_client`, `ClientOp::encode`, `ServerCodec`.
    Client,
    /// server -> client: `parse_server`, `ServerOp::encode`, `ClientCodec`.
    Server,
}

/// How parsing a case's input ends, after its ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every byte was consumed.
    Complete,
    /// Bytes remain that are the start of an op.
    Incomplete,
    /// An error: its `Display` text and its variant name (`Debug`).
    Err { text: String, kind: String },
}

/// One test vector.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub dir: Dir,
    pub limits: Limits,
    pub input: Vec<u8>,
    /// Canonical encodings of the expected ops, in order.
    pub outs: Vec<Vec<u8>>,
    /// Expected number of `Parsed::Blank` results.
    pub blanks: usize,
    /// Expected end; for `Err`, `kind` is empty when the case does not name one.
    pub end: End,
}

impl Case {
    /// `file:line: name`, for failure messages.
    pub fn id(&self) -> String {
        format!("{}:{}: {}", self.file, self.line, self.name)
    }
}

/// The directory holding the vector files.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocol-spec/vectors")
}

/// Decodes the escapes of a vector value: `\r` `\n` `\t` `\\` `\xNN`. Anything else is literal
/// (UTF-8 text stays as its bytes).
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or("truncated \\x escape")?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
                out.push(v);
                i += 4;
                continue;
            }
            other => return Err(format!("unknown escape \\{:?}", other.map(|&c| c as char))),
        }
        i += 2;
    }
    Ok(out)
}

/// Escapes bytes the way vectors write them (for failure messages).
pub fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => s.push_str("\\r"),
                '\n' => s.push_str("\\n"),
                '\t' => s.push_str("\\t"),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(s, "\\x{:02x}", c as u32);
                }
                c => s.push(c),
            }
        }
        for &x in chunk.invalid() {
            let _ = write!(s, "\\x{x:02x}");
        }
    }
    s
}

fn parse_limits(v: &str) -> Result<Limits, String> {
    let mut limits = Limits::default();
    for part in v.split_whitespace() {
        let (k, n) = part.split_once('=').ok_or(format!("bad limit {part:?}"))?;
        let n: usize = n.parse().map_err(|_| format!("bad number in {part:?}"))?;
        match k {
            "control_line" => limits.max_control_line = n,
            "payload" => limits.max_payload = n,
            _ => return Err(format!("unknown limit {k:?}")),
        }
    }
    Ok(limits)
}

/// Parses the text of one vector file.
pub fn parse_vector_file(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut dir: Option<Dir> = None;
    let mut has_end = false;
    let finish = |cases: &mut Vec<Case>, dir: Option<Dir>| -> Result<(), String> {
        if let Some(c) = cases.last_mut() {
            c.dir = dir.ok_or_else(|| format!("{}: no `dir:` line", c.id()))?;
            if c.input.is_empty() {
                return Err(format!("{}: no `in:` line", c.id()));
            }
        }
        Ok(())
    };
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let at = |msg: String| format!("{file}:{lineno}: {msg}");
        let line = raw.trim_end_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            finish(&mut cases, dir)?;
            dir = None;
            has_end = false;
            cases.push(Case {
                file: file.to_string(),
                line: lineno,
                name: name.trim().to_string(),
                dir: Dir::Client,
                limits: Limits::default(),
                input: Vec::new(),
                outs: Vec::new(),
                blanks: 0,
                end: End::Complete,
            });
            continue;
        }
        let case = cases
            .last_mut()
            .ok_or_else(|| at("text before the first `== name` line".into()))?;
        let (key, value) = match line.split_once(':') {
            Some((k, v)) if !k.contains(' ') => (k, v.strip_prefix(' ').unwrap_or(v)),
            _ => (line, ""),
        };
        if has_end && !matches!(key, "kind" | "nats" | "note") {
            return Err(at(format!("`{key}` after the case's end (err/incomplete)")));
        }
        match key {
            "dir" => {
                dir = Some(match value {
                    "client" => Dir::Client,
                    "server" => Dir::Server,
                    _ => return Err(at(format!("bad dir {value:?}"))),
                })
            }
            "limits" => case.limits = parse_limits(value).map_err(at)?,
            "in" => case.input.extend(unescape(value).map_err(at)?),
            "out" => case.outs.push(unescape(value).map_err(at)?),
            "blanks" => case.blanks = value.parse().map_err(|_| at("bad blanks".into()))?,
            "err" => {
                case.end = End::Err {
                    text: value.to_string(),
                    kind: String::new(),
                };
                has_end = true;
            }
            "kind" => match &mut case.end {
                End::Err { kind, .. } => *kind = value.to_string(),
                _ => return Err(at("`kind:` without `err:`".into())),
            },
            "incomplete" => {
                case.end = End::Incomplete;
                has_end = true;
            }
            "nats" | "note" => {}
            _ => return Err(at(format!("unknown line {line:?}"))),
        }
    }
    finish(&mut cases, dir)?;
    Ok(cases)
}

/// Every case of every `*.txt` file in the vectors directory, sorted by file.
pub fn load_all() -> Vec<Case> {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let cases = parse_vector_file(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cases.is_empty(), "{name} holds no cases");
        all.extend(cases);
    }
    all
}

/// The result of running a whole input through a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Canonical encodings of the ops parsed, in order.
    pub outs: Vec<Vec<u8>>,
    pub blanks: usize,
    pub end: End,
}

fn end_of(e: sluice_protocol::ProtocolError) -> End {
    End::Err {
        text: e.to_string(),
        kind: format!("{e:?}"),
    }
}

/// Parses `input` op by op from the front with `parse_client`/`parse_server`, the way a
/// server loops over its read buffer. Also checks, for every op, that its canonical encoding
/// parses back to the same op using all of its bytes.
pub fn run(dir: Dir, limits: &Limits, input: &[u8]) -> Result<Run, String> {
    let buf = Bytes::copy_from_slice(input);
    // A canonical encoding may be longer than the input (CONNECT/INFO JSON), so it is parsed
    // back with room for its control line; the payload limit stays.
    let relaxed = Limits {
        max_control_line: limits.max_control_line.max(1 << 16),
        max_payload: limits.max_payload,
    };
    let mut pos = 0;
    let mut outs = Vec::new();
    let mut blanks = 0;
    let end = loop {
        if pos == buf.len() {
            break End::Complete;
        }
        let rest = buf.slice(pos..);
        let step = match dir {
            Dir::Client => parse_client(&rest, limits).map(|p| match p {
                Parsed::Op { op, len } => {
                    let mut enc = BytesMut::new();
                    op.encode(&mut enc);
                    let enc = enc.freeze();
                    let back = parse_client(&enc, &relaxed);
                    let ok = back
                        == Ok(Parsed::Op {
                            op: op.clone(),
                            len: enc.len(),
                        });
                    (
                        Some((enc.to_vec(), ok, format!("{op:?}"), format!("{back:?}"))),
                        len,
                    )
                }
                Parsed::Blank { len } => (None, len),
                Parsed::Incomplete => (None, 0),
            }),
            Dir::Server => parse_server(&rest, limits).map(|p| match p {
                Parsed::Op { op, len } => {
                    let mut enc = BytesMut::new();
                    op.encode(&mut enc);
                    let enc = enc.freeze();
                    let back = parse_server(&enc, &relaxed);
                    let ok = back
                        == Ok(Parsed::Op {
                            op: op.clone(),
                            len: enc.len(),
                        });
                    (
                        Some((enc.to_vec(), ok, format!("{op:?}"), format!("{back:?}"))),
                        len,
                    )
                }
                Parsed::Blank { len } => (None, len),
                Parsed::Incomplete => (None, 0),
            }),
        };
        match step {
            Err(e) => break end_of(e),
            Ok((_, 0)) => break End::Incomplete,
            Ok((None, len)) => {
                blanks += 1;
                pos += len;
            }
            Ok((Some((enc, ok, op, back)), len)) => {
                if !ok {
                    return Err(format!(
                        "op {op} encodes as {:?}, which parses back as {back}",
                        escape(&enc)
                    ));
                }
                if len > rest.len() {
                    return Err(format!("op length {len} > {} bytes left", rest.len()));
                }
                outs.push(enc);
                pos += len;
            }
        }
    };
    Ok(Run { outs, blanks, end })
}

/// Checks one case; the error names what differed.
pub fn check(case: &Case) -> Result<(), String> {
    let got = run(case.dir, &case.limits, &case.input)?;
    let mut problems = Vec::new();
    if got.outs != case.outs {
        problems.push(format!(
            "ops differ\n      expected: {:?}\n      got:      {:?}",
            case.outs.iter().map(|o| escape(o)).collect::<Vec<_>>(),
            got.outs.iter().map(|o| escape(o)).collect::<Vec<_>>()
        ));
    }
    if got.blanks != case.blanks {
        problems.push(format!(
            "blank lines: expected {}, got {}",
            case.blanks, got.blanks
        ));
    }
    let end_ok = match (&case.end, &got.end) {
        (End::Err { text, kind }, End::Err { text: gt, kind: gk }) => {
            text == gt && (kind.is_empty() || kind == gk)
        }
        (a, b) => a == b,
    };
    if !end_ok {
        problems.push(format!("end: expected {:?}, got {:?}", case.end, got.end));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

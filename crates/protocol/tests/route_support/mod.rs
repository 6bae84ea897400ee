//! Shared support of the route tests: the loader for protocol-spec/vectors/route/ (format:
//! the README.md there) and a runner that parses a whole input as a route connection would.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use sluice_protocol::{parse_route_bytes, Limits, Parsed, RouteOp};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod ops;

/// How parsing a case's input ends, after its ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Complete,
    Incomplete,
    /// An error: its `Display` text and its variant name.
    Err {
        text: String,
        kind: String,
    },
}

/// One route vector.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub limits: Limits,
    pub input: Vec<u8>,
    pub outs: Vec<Vec<u8>>,
    /// The input is nats-server's own bytes: the encodings must reproduce it.
    pub wire: bool,
    pub end: End,
}

impl Case {
    pub fn id(&self) -> String {
        format!("{}:{}: {}", self.file, self.line, self.name)
    }
}

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocol-spec/vectors/route")
}

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
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
                i += 4;
                continue;
            }
            other => return Err(format!("unknown escape \\{:?}", other.map(|&c| c as char))),
        }
        i += 2;
    }
    Ok(out)
}

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

/// Parses the text of one route vector file.
pub fn parse_vector_file(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut has_dir = false;
    let mut has_end = false;
    let finish = |cases: &[Case], has_dir: bool| -> Result<(), String> {
        if let Some(c) = cases.last() {
            if !has_dir {
                return Err(format!("{}: no `dir: route` line", c.id()));
            }
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
            finish(&cases, has_dir)?;
            has_dir = false;
            has_end = false;
            cases.push(Case {
                file: file.to_string(),
                line: lineno,
                name: name.trim().to_string(),
                limits: Limits::default(),
                input: Vec::new(),
                outs: Vec::new(),
                wire: false,
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
            "dir" if value == "route" => has_dir = true,
            "dir" => return Err(at(format!("bad dir {value:?}"))),
            "limits" => case.limits = parse_limits(value).map_err(at)?,
            "in" => case.input.extend(unescape(value).map_err(at)?),
            "out" => case.outs.push(unescape(value).map_err(at)?),
            "wire" => case.wire = true,
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
    finish(&cases, has_dir)?;
    Ok(cases)
}

/// Every case of every `*.txt` file in the route vectors directory, sorted by file.
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

pub fn encode(op: &RouteOp) -> Vec<u8> {
    let mut b = BytesMut::new();
    op.encode(&mut b);
    b.to_vec()
}

pub fn end_of(e: sluice_protocol::ProtocolError) -> End {
    End::Err {
        text: e.to_string(),
        kind: format!("{e:?}"),
    }
}

/// The ops parsed from the front of `input` one after another, and how it ended.
pub fn run(limits: &Limits, input: &[u8]) -> (Vec<RouteOp>, End) {
    let buf = Bytes::copy_from_slice(input);
    let mut pos = 0;
    let mut ops = Vec::new();
    let end = loop {
        if pos == buf.len() {
            break End::Complete;
        }
        match parse_route_bytes(&buf.slice(pos..), limits) {
            Err(e) => break end_of(e),
            Ok(Parsed::Incomplete) => break End::Incomplete,
            Ok(Parsed::Blank { len }) => panic!("route parser skipped {len} bytes as blank"),
            Ok(Parsed::Op { op, len }) => {
                assert!(len > 0 && pos + len <= buf.len(), "bad op length {len}");
                ops.push(op);
                pos += len;
            }
        }
    };
    (ops, end)
}

pub fn same_end(want: &End, got: &End) -> bool {
    match (want, got) {
        (End::Err { text, kind }, End::Err { text: t, kind: k }) => {
            text == t && (kind.is_empty() || kind == k)
        }
        (a, b) => a == b,
    }
}

/// Limits wide enough for any canonical encoding of the vectors' ops.
pub fn relaxed(limits: &Limits) -> Limits {
    Limits {
        max_control_line: limits.max_control_line.max(1 << 16),
        max_payload: limits.max_payload,
    }
}

/// Checks one case: its ops and end, that every op's encoding parses back to the same op
/// using all of it, and for `wire` cases that the encodings reproduce the input.
pub fn check(case: &Case) -> Result<(), String> {
    let (ops, end) = run(&case.limits, &case.input);
    let mut problems = Vec::new();
    let outs: Vec<Vec<u8>> = ops.iter().map(encode).collect();
    // A `wire` case without `out:` lines (a whole captured stream) is checked by its bytes.
    if !(case.wire && case.outs.is_empty()) && outs != case.outs {
        problems.push(format!(
            "ops differ\n      expected: {:?}\n      got:      {:?}",
            case.outs.iter().map(|o| escape(o)).collect::<Vec<_>>(),
            outs.iter().map(|o| escape(o)).collect::<Vec<_>>()
        ));
    }
    for (op, enc) in ops.iter().zip(&outs) {
        let enc_b = Bytes::copy_from_slice(enc);
        let back = parse_route_bytes(&enc_b, &relaxed(&case.limits));
        if back
            != Ok(Parsed::Op {
                op: op.clone(),
                len: enc.len(),
            })
        {
            problems.push(format!(
                "{op:?} encodes as {:?}, parses back as {back:?}",
                escape(enc)
            ));
        }
    }
    if case.wire {
        let all: Vec<u8> = outs.concat();
        if all != case.input {
            problems.push(format!(
                "wire: encodings do not reproduce the input\n      input:   {:?}\n      encoded: {:?}",
                escape(&case.input),
                escape(&all)
            ));
        }
    }
    if !same_end(&case.end, &end) {
        problems.push(format!("end: expected {:?}, got {:?}", case.end, end));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

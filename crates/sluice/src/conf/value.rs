//! What the parser produces: values that remember where they were written.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where something was written: a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<PathBuf>,
    pub line: u32,
}

impl Pos {
    pub fn new(file: &Arc<PathBuf>, line: u32) -> Pos {
        Pos {
            file: Arc::clone(file),
            line,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configuration error: `FILE:LINE: what`, or `FILE: what` when no line applies (the file
/// itself cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub msg: String,
}

impl ConfError {
    pub fn at(pos: &Pos, msg: impl Into<String>) -> ConfError {
        ConfError {
            file: pos.file.as_ref().clone(),
            line: Some(pos.line),
            msg: msg.into(),
        }
    }

    pub fn in_file(file: &Path, msg: impl Into<String>) -> ConfError {
        ConfError {
            file: file.to_path_buf(),
            line: None,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.msg),
            None => write!(f, "{}: {}", self.file.display(), self.msg),
        }
    }
}

impl std::error::Error for ConfError {}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

/// The kinds of value nats-server's format has.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `true`/`false`, `yes`/`no`, `on`/`off` (any case, unquoted).
    Bool(bool),
    /// An integer, with any size suffix applied (`64KB` is 65536). `text` is the number as
    /// written, so that a key expecting a duration can read `2m` as two minutes.
    Int {
        value: i64,
        text: String,
    },
    Float(f64),
    /// A quoted string, or an unquoted word that is not a number or a boolean.
    Str(String),
    Array(Vec<Value>),
    Map(Map),
}

impl Kind {
    /// How nats-server (Go) names this kind's type in its errors ("got string", "unsupported
    /// type int64").
    pub fn go_type(&self) -> &'static str {
        match self {
            Kind::Str(_) => "string",
            Kind::Int { .. } => "int64",
            Kind::Float(_) => "float64",
            Kind::Bool(_) => "bool",
            Kind::Map(_) => "map[string]interface {}",
            Kind::Array(_) => "[]interface {}",
        }
    }

    /// What to call this kind in a "wrong type" error.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Bool(_) => "a boolean",
            Kind::Int { .. } => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Map(_) => "a block",
        }
    }
}

/// One `key: value` of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// Where the key was written (errors about the key, like "unknown key", point here).
    pub pos: Pos,
    pub value: Value,
    /// Referenced as `$key` somewhere later: a key defined only to be a variable is not an
    /// unknown key (as in nats-server).
    pub used_as_variable: bool,
}

/// A block's entries, in the order written. A key written twice keeps both entries; readers
/// apply them in order, so the last one wins (as in nats-server).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    pub entries: Vec<Entry>,
}

impl Map {
    /// The last value written for `key`.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

//! The header block of HPUB/HMSG: `NATS/1.0[ status[ description]]` then `Key: Value` lines,
//! then an empty line, all CRLF-terminated (a bare LF is accepted when parsing).
//!
//! Keys keep their case and order; a key may repeat. The status line carries the codes the
//! server and JetStream use to signal things: 503 no responders, 404 not found, 408 request
//! timeout, 409 conflict, 100 idle heartbeat / flow control.

use crate::error::HeaderError;
use bytes::{BufMut, Bytes, BytesMut};

/// The version prefix of every header block.
pub const HEADER_VERSION: &str = "NATS/1.0";

/// Status codes carried on the header version line.
pub mod status {
    /// Idle heartbeat or flow control request (JetStream push consumers).
    pub const CONTROL: u16 = 100;
    /// No messages / not found.
    pub const NOT_FOUND: u16 = 404;
    /// Request timeout (pull requests that expired).
    pub const REQUEST_TIMEOUT: u16 = 408;
    /// Conflict (pull request limits exceeded, consumer deleted...).
    pub const CONFLICT: u16 = 409;
    /// A request was published with a reply subject but nobody was subscribed.
    pub const NO_RESPONDERS: u16 = 503;
}

/// A parsed header block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderMap {
    status: Option<u16>,
    description: Option<String>,
    entries: Vec<(String, String)>,
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && !k.bytes().any(|b| b == b':' || b <= b' ' || b == 0x7f)
}

/// The blanks the wire form drops around keys, values and the status description.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn valid_value(v: &str) -> bool {
    !v.bytes().any(|b| b == b'\r' || b == b'\n') && v.trim_matches(is_blank).len() == v.len()
}

impl HeaderMap {
    /// An empty block (`NATS/1.0` with no status).
    pub fn new() -> Self {
        HeaderMap::default()
    }

    /// A block whose version line carries `code` and an optional description.
    ///
    /// `code` must have three digits (100..=999) and the description must not hold CR or LF:
    /// anything else cannot be carried on the version line (checked by a debug assertion).
    /// Blanks around the description are dropped, and an empty one is none.
    pub fn with_status(code: u16, description: Option<&str>) -> Self {
        debug_assert!(
            (100..=999).contains(&code),
            "status {code} is not three digits"
        );
        debug_assert!(
            !description.is_some_and(|d| d.contains(['\r', '\n'])),
            "status description holds CR or LF"
        );
        HeaderMap {
            status: Some(code),
            description: description
                .map(|d| d.trim_matches(is_blank))
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            entries: Vec::new(),
        }
    }

    /// The status code on the version line, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The description after the status code, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The first value of `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds a value for `key`, keeping existing ones. Fails on an empty key or one holding `:`,
    /// a control byte or whitespace ([`HeaderError::BadKey`]), and on a value holding CR or LF
    /// or starting or ending with a blank ([`HeaderError::BadValue`]): those could not be
    /// carried, or would not come back the same (the wire form drops blanks around values).
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), HeaderError> {
        if !valid_key(key) {
            return Err(HeaderError::BadKey);
        }
        if !valid_value(value) {
            return Err(HeaderError::BadValue);
        }
        self.entries.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Sets `key` to exactly `value`, removing other values.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), HeaderError> {
        self.remove(key);
        self.append(key, value)
    }

    /// Removes every value of `key`; true if any was present.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        before != self.entries.len()
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries (not counting the status line).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no entries (there may still be a status).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses a whole header block as carried by HPUB/HMSG.
    ///
    /// Lines end with CRLF or a bare LF. The first is `NATS/1.0`, optionally followed by a
    /// blank, a three-digit status and a description. Each further line up to the first empty
    /// one is `Key: Value`; blanks (space, tab) around the key and the value are dropped. A
    /// missing final empty line is tolerated; anything but empty lines after it is
    /// [`HeaderError::TrailingData`].
    pub fn parse(block: &[u8]) -> Result<HeaderMap, HeaderError> {
        let text = std::str::from_utf8(block).map_err(|_| HeaderError::NotUtf8)?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or("");
        let rest = first
            .strip_prefix(HEADER_VERSION)
            .ok_or(HeaderError::BadVersionLine)?;
        let mut map = HeaderMap::new();
        if !rest.is_empty() {
            let rest = rest
                .strip_prefix(' ')
                .ok_or(HeaderError::BadVersionLine)?
                .trim_start_matches(is_blank);
            let (code, desc) = match rest.split_once(' ') {
                Some((c, d)) => (c, Some(d.trim_matches(is_blank))),
                None => (rest, None),
            };
            if !code.is_empty() {
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeaderError::BadStatus);
                }
                map.status = Some(code.parse().map_err(|_| HeaderError::BadStatus)?);
                map.description = desc.filter(|d| !d.is_empty()).map(str::to_owned);
            }
        }
        let mut ended = false;
        for line in lines {
            if ended {
                if line.is_empty() {
                    continue;
                }
                return Err(HeaderError::TrailingData);
            }
            if line.is_empty() {
                ended = true;
                continue;
            }
            let (k, v) = line.split_once(':').ok_or(HeaderError::BadLine)?;
            let k = k.trim_matches(is_blank);
            if !valid_key(k) {
                return Err(HeaderError::BadKey);
            }
            map.entries
                .push((k.to_owned(), v.trim_matches(is_blank).to_owned()));
        }
        Ok(map)
    }

    /// Appends the encoded block (version line, entries, empty line) to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(HEADER_VERSION.as_bytes());
        if let Some(code) = self.status {
            dst.put_u8(b' ');
            // Always three digits: a block may carry a status below 100 (`NATS/1.0 072`), and
            // only its three-digit form parses back.
            dst.put_slice(format!("{code:03}").as_bytes());
            if let Some(d) = &self.description {
                dst.put_u8(b' ');
                dst.put_slice(d.as_bytes());
            }
        }
        dst.put_slice(b"\r\n");
        for (k, v) in &self.entries {
            dst.put_slice(k.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(v.as_bytes());
            dst.put_slice(b"\r\n");
        }
        dst.put_slice(b"\r\n");
    }

    /// The encoded block as `Bytes`.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

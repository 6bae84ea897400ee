//! Parser limits, as parameters rather than constants.

/// nats-server's default `max_control_line`, in bytes of arguments.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// nats-server's default maximum payload in bytes (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest control-line arguments accepted, as nats-server's `max_control_line`: the bytes
    /// after the op name and the blanks that follow it, up to the line end (the CR of a CRLF
    /// excluded). Also bounds a blank line, the text after PING/PONG/+OK, and the run of
    /// blanks after an op name.
    pub max_control_line: usize,
    /// Largest payload (headers plus body for HPUB/HMSG) accepted.
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

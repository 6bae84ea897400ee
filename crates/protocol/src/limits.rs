//! Parser limits, as parameters rather than constants.

/// nats-server's default maximum control line length in bytes.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// nats-server's default maximum payload in bytes (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest control line accepted, excluding the line terminator.
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

//! What a connection sends its own client besides messages: `+OK`, `-ERR` (and, by
//! [`ServerError::is_fatal`], whether the connection then closes); and the protocol trace.

use super::Conn;
use crate::error::ServerError;
use bytes::BytesMut;
use tracing::trace;

impl Conn {
    /// Appends to this connection's own outbound buffer; the writer is woken after the batch.
    pub(super) fn push_own(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        self.publisher.push_to(&self.handle, encode);
    }

    pub(super) fn ok(&mut self) {
        if self.verbose {
            self.trace_out("+OK");
            self.push_own(|b| b.extend_from_slice(b"+OK\r\n"));
        }
    }

    /// Sends `err` as `-ERR`: every error a connection reports goes through here, and
    /// [`ServerError::is_fatal`] decides what follows. After a fatal one the connection takes
    /// nothing more and closes once what is buffered has gone out, and `Err(err)` tells the
    /// caller to stop; after any other the op is refused (or, for a pedantic publish subject,
    /// only complained about) and the connection goes on: `Ok`.
    pub(super) fn send_err(&mut self, err: ServerError) -> Result<(), ServerError> {
        self.trace_out(&format!("-ERR '{err}'"));
        if err.is_fatal() {
            self.handle.out.close_with(&err);
            return Err(err);
        }
        self.push_own(|b| err.encode(b));
        Ok(())
    }

    /// Reports an error the read loop stops at (one an op returned, a keepalive or auth
    /// timeout, credentials a reload no longer accepts): all fatal, so `send_err` closes the
    /// connection. (Sending one that `send_err` already sent does nothing more: a closed
    /// connection's buffer takes no second `-ERR`.)
    pub(super) fn fail(&mut self, err: ServerError) {
        debug_assert!(
            err.is_fatal(),
            "the read loop stops at {err:?}, is_fatal says go on"
        );
        let _ = self.send_err(err);
    }

    pub(super) fn trace_in(&self, frame: &[u8]) {
        let line_end = frame
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(frame.len());
        let line = String::from_utf8_lossy(&frame[..line_end]);
        trace!(cid = self.handle.id, "<<- [{}]", line.trim_end());
    }

    pub(super) fn trace_out(&self, what: &str) {
        if self.publisher.trace {
            trace!(cid = self.handle.id, "->> [{what}]");
        }
    }
}

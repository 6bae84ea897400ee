//! PING and PONG, both ways: answering the client's PINGs, and the server's keepalive.

use super::Conn;
use crate::error::ServerError;

impl Conn {
    /// PING from the client: PONG; after the first one, as nats-server, an INFO with the
    /// connection's own `max_payload` if its user may publish less than the server allows.
    pub(super) fn ping(&mut self) {
        self.trace_out("PONG");
        self.push_own(|b| b.extend_from_slice(b"PONG\r\n"));
        if std::mem::take(&mut self.tell_payload) {
            let info = self.shared.async_info_for(&self.handle);
            self.push_own(|b| b.extend_from_slice(&info));
        }
    }

    /// PONG from the client: our PINGs are answered.
    pub(super) fn pong(&mut self) {
        self.pings_out = 0;
    }

    /// A keepalive tick: PINGs the client, unless it has been sending since the last tick.
    /// `Err(StaleConnection)` when that would leave more PINGs unanswered than
    /// `max_pings_out` allows.
    pub(super) fn keepalive(&mut self) -> Result<(), ServerError> {
        // As nats-server: a client that has been sending is evidently alive (the first
        // PING after CONNECT is sent regardless).
        if std::mem::take(&mut self.active) && self.connected && !self.first_ping {
            return Ok(());
        }
        self.first_ping = false;
        if self.pings_out + 1 > self.shared.limits.max_pings_out() {
            return Err(ServerError::StaleConnection);
        }
        self.pings_out += 1;
        self.trace_out("PING");
        self.handle
            .out
            .push_now(|b| b.extend_from_slice(b"PING\r\n"));
        Ok(())
    }
}

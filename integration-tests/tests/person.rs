//! A person at a terminal: `telnet host port` sends lines ending in CRLF, `nc host port`
//! sends lines ending in a bare LF, and both send each line as it is typed (telnet in
//! character mode even one byte at a time). No CONNECT is typed, so the session is verbose
//! (+OK after SUB/PUB), as with nats-server.
//!
//! Sessions that nats-server also accepts run against both brokers ([`both!`]). Two things
//! Sluice accepts on purpose and nats-server rejects — a payload ended by a bare LF (what `nc`
//! sends when a person types the payload and presses Enter) and blank lines — are tested for
//! Sluice alone; the nats-server tests at the end document that these really are divergences.

use integration_tests::raw::{escape, Raw};
use integration_tests::{both, skip_without_nats_server, Broker, Kind};
use std::time::Duration;

/// Types `line` and checks that exactly `reply` comes back (nothing, if `reply` is empty).
#[track_caller]
fn typed(c: &mut Raw, line: &[u8], reply: &[u8]) {
    c.send(line);
    let got = if reply.is_empty() {
        c.read_for(Duration::from_millis(150))
    } else {
        c.read_n(reply.len(), Duration::from_secs(3))
    };
    assert_eq!(
        escape(&got),
        escape(reply),
        "after typing \"{}\"",
        escape(line)
    );
}

/// Types `text` one byte at a time, as telnet does in character mode.
fn type_slowly(c: &mut Raw, text: &[u8]) {
    for b in text {
        c.send(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The end of every session: the connection is still open and answers PING.
#[track_caller]
fn still_open(c: &mut Raw) {
    c.expect(b"PING\r\n", b"PONG\r\n", false);
}

both!(
    /// telnet: every line ends in CRLF.
    fn telnet_session(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        typed(&mut c, b"SUB greet 1\r\n", b"+OK\r\n");
        typed(&mut c, b"PUB greet 5\r\n", b"");
        typed(&mut c, b"hello\r\n", b"+OK\r\nMSG greet 1 5\r\nhello\r\n");
        typed(&mut c, b"PING\r\n", b"PONG\r\n");
        typed(&mut c, b"UNSUB 1\r\n", b"+OK\r\n");
        typed(&mut c, b"PUB greet 3\r\n", b"");
        typed(&mut c, b"bye\r\n", b"+OK\r\n");
        still_open(&mut c);
    }
);

both!(
    /// nc: control lines end in a bare LF; the payload line is typed with CRLF (`nc -C`).
    fn nc_session_control_lines_with_lf(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        typed(&mut c, b"SUB greet 1\n", b"+OK\r\n");
        typed(&mut c, b"PUB greet 5\n", b"");
        typed(&mut c, b"hello\r\n", b"+OK\r\nMSG greet 1 5\r\nhello\r\n");
        typed(&mut c, b"PING\n", b"PONG\r\n");
        typed(&mut c, b"UNSUB 1\n", b"+OK\r\n");
        still_open(&mut c);
    }
);

both!(
    /// A person who types CONNECT first, in lower case, and turns verbose off.
    fn typed_connect_lowercase(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        typed(&mut c, b"connect {\"verbose\":false}\n", b"");
        typed(&mut c, b"sub a.b 7\n", b"");
        typed(&mut c, b"pub a.b 2\n", b"");
        typed(&mut c, b"hi\r\n", b"MSG a.b 7 2\r\nhi\r\n");
        typed(&mut c, b"ping\n", b"PONG\r\n");
        still_open(&mut c);
    }
);

both!(
    /// telnet in character mode: every byte is its own TCP segment.
    fn one_byte_at_a_time(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        type_slowly(&mut c, b"SUB s 1\r\nPUB s 5\r\nhello\r\nPING\r\n");
        let got = c.read_until(Duration::from_secs(3), |b| b.ends_with(b"PONG\r\n"));
        assert_eq!(
            escape(&got),
            escape(b"+OK\r\n+OK\r\nMSG s 1 5\r\nhello\r\nPONG\r\n")
        );
        still_open(&mut c);
    }
);

both!(
    /// Lines split at awkward places: inside the op name, between CR and LF, inside the
    /// payload and its terminator.
    fn lines_split_anywhere(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        for piece in [
            &b"SU"[..],
            b"B s 1\r",
            b"\nPUB s 1",
            b"0\r\nhello",
            b"world\r",
            b"\nPI",
            b"NG\r\n",
        ] {
            c.send(piece);
            std::thread::sleep(Duration::from_millis(30));
        }
        let got = c.read_until(Duration::from_secs(3), |b| b.ends_with(b"PONG\r\n"));
        assert_eq!(
            escape(&got),
            escape(b"+OK\r\n+OK\r\nMSG s 1 10\r\nhelloworld\r\nPONG\r\n")
        );
        still_open(&mut c);
    }
);

both!(
    /// A person who typed a payload shorter than the size they declared is waited for: the
    /// next line completes it.
    fn short_payload_waits_for_more(kind) {
        let b = Broker::start(kind, &[]);
        let (mut c, _) = Raw::connect(b.addr);
        typed(&mut c, b"SUB s 1\r\n", b"+OK\r\n");
        typed(&mut c, b"PUB s 5\r\n", b"");
        typed(&mut c, b"ab\r\n", b"");
        typed(&mut c, b"c\r\n", b"+OK\r\nMSG s 1 5\r\nab\r\nc\r\n");
        still_open(&mut c);
    }
);

// ---------------------------------------------------------------------------------------
// Sluice's deliberate leniencies
// ---------------------------------------------------------------------------------------

/// nc without -C: the payload line ends in a bare LF too. Sluice accepts it.
#[test]
fn nc_session_payload_with_bare_lf() {
    let b = Broker::sluice(&[]);
    let (mut c, _) = Raw::connect(b.addr);
    typed(&mut c, b"SUB greet 1\n", b"+OK\r\n");
    typed(&mut c, b"PUB greet 5\n", b"");
    typed(&mut c, b"hello\n", b"+OK\r\nMSG greet 1 5\r\nhello\r\n");
    typed(&mut c, b"PUB greet 0\n", b"");
    typed(&mut c, b"\n", b"+OK\r\nMSG greet 1 0\r\n\r\n");
    typed(&mut c, b"PING\n", b"PONG\r\n");
    still_open(&mut c);
}

/// The same, all in one write, with a reply subject: the MSG is still sent with CRLF.
#[test]
fn payload_bare_lf_in_one_write() {
    let b = Broker::sluice(&[]);
    let mut c = Raw::connected(b.addr, r#"{"verbose":false}"#);
    c.expect(
        b"SUB foo 1\nPUB foo r 2\nhi\nPUB foo 2\nyo\r\nPING\n",
        b"MSG foo 1 r 2\r\nhi\r\nMSG foo 1 2\r\nyo\r\nPONG\r\n",
        false,
    );
}

/// A bare LF right after the payload ends it, even when the payload's last byte is CR: the
/// CR is payload. (The declared size decides where the payload ends.)
#[test]
fn payload_ending_in_cr_then_bare_lf() {
    let b = Broker::sluice(&[]);
    let mut c = Raw::connected(b.addr, r#"{"verbose":false}"#);
    c.expect(
        b"SUB foo 1\r\nPUB foo 3\r\nhi\r\nPING\r\n",
        b"MSG foo 1 3\r\nhi\r\r\nPONG\r\n",
        false,
    );
}

/// A person presses Enter on an empty line, or types only spaces: Sluice skips such lines.
#[test]
fn blank_lines_are_skipped() {
    let b = Broker::sluice(&[]);
    let (mut c, _) = Raw::connect(b.addr);
    typed(&mut c, b"\r\n", b"");
    typed(&mut c, b"\n", b"");
    typed(&mut c, b"   \r\n", b"");
    typed(&mut c, b"\t\n", b"");
    typed(&mut c, b"SUB s 1\r\n", b"+OK\r\n");
    typed(&mut c, b"\r\n\r\n", b"");
    typed(&mut c, b"PUB s 2\r\n", b"");
    typed(&mut c, b"hi\r\n", b"+OK\r\nMSG s 1 2\r\nhi\r\n");
    typed(&mut c, b"\n", b"");
    typed(&mut c, b"PING\r\n", b"PONG\r\n");
    still_open(&mut c);
}

/// A blank line in the middle of a pipelined script changes nothing.
#[test]
fn blank_lines_between_pipelined_ops() {
    let b = Broker::sluice(&[]);
    let mut c = Raw::connected(b.addr, r#"{"verbose":false}"#);
    c.expect(
        b"\r\nSUB foo 1\r\n\nPUB foo 2\r\nhi\r\n\r\n  \r\nPING\r\n",
        b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
        false,
    );
}

/// Documents the divergence: nats-server closes the connection on a payload ended by a
/// bare LF and on a blank line.
#[test]
fn nats_server_rejects_what_sluice_forgives() {
    if skip_without_nats_server() {
        return;
    }
    let b = Broker::start(Kind::NatsServer, &[]);
    let err: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
    integration_tests::raw::expect_each(
        b.addr,
        Some(r#"{"verbose":false}"#),
        &[
            (b"SUB foo 1\nPUB foo 2\nhi\nPING\n", err, true),
            (b"\r\nPING\r\n", err, true),
            (b"   \r\nPING\r\n", err, true),
        ],
    );
}

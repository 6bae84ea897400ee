//! Graceful shutdown: SIGTERM (or SIGINT) while clients are connected makes sluice stop
//! accepting, deliver what it has already accepted, close every connection and exit 0.
//!
//! Sluice alone: nats-server 2.9.10 exits with status 1 on SIGTERM, so there is no common
//! behaviour to check against the reference here.

use integration_tests::raw::Raw;
use integration_tests::Broker;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long sluice may take to exit after the signal.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

#[test]
fn sigterm_with_idle_client_exits_zero() {
    let mut b = Broker::sluice(&[]);
    let mut c = Raw::connected(b.addr, r#"{"verbose":false}"#);
    c.expect(b"SUB foo 1\r\nPING\r\n", b"PONG\r\n", false);
    let started = Instant::now();
    let status = b
        .terminate(EXIT_WITHIN)
        .expect("sluice exits within 5 s of SIGTERM with a client connected");
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < EXIT_WITHIN);
    assert!(
        c.is_closed(Duration::from_secs(2)),
        "the client's connection is closed"
    );
}

#[test]
fn sigint_exits_zero() {
    let mut b = Broker::sluice(&[]);
    let _c = Raw::connected(b.addr, r#"{"verbose":false}"#);
    let status = b
        .signal("INT", EXIT_WITHIN)
        .expect("sluice exits within 5 s of SIGINT");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn sigterm_without_clients_exits_zero_and_stops_listening() {
    let mut b = Broker::sluice(&[]);
    let status = b.terminate(EXIT_WITHIN).expect("exits");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        TcpStream::connect_timeout(&b.addr, Duration::from_secs(1)).is_err(),
        "nothing listens on {} after exit",
        b.addr
    );
}

/// Messages the server accepted before the signal reach a subscriber that only starts
/// reading after the signal. 16 MiB is more than the socket buffers hold, so much of it is
/// still in the server's outbound buffer when shutdown begins and has to be flushed.
#[test]
fn accepted_messages_are_delivered_during_shutdown() {
    const N: usize = 16 * 1024;
    const SIZE: usize = 1024;
    let mut b = Broker::sluice(&[]);
    let mut sub = Raw::connected(b.addr, r#"{"verbose":false}"#);
    sub.expect(b"SUB big 1\r\nPING\r\n", b"PONG\r\n", false);

    let mut publ = Raw::connected(b.addr, r#"{"verbose":false}"#);
    let mut script = Vec::with_capacity(N * (SIZE + 20));
    for i in 0..N {
        script.extend_from_slice(format!("PUB big {SIZE}\r\n").as_bytes());
        let mut payload = format!("{i:08}").into_bytes();
        payload.resize(SIZE, b'.');
        script.extend_from_slice(&payload);
        script.extend_from_slice(b"\r\n");
    }
    publ.send(&script);
    // PONG: the server has handled every PUB before it.
    let answer = publ.sync();
    assert!(answer.ends_with(b"PONG\r\n"), "publisher synced");

    // Signal from another thread; read meanwhile, so the server can flush.
    let pid = b.pid();
    let signaller = std::thread::spawn(move || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill")
    });
    let t0 = Instant::now();
    let got = sub.read_until(Duration::from_secs(10), |_| false);
    eprintln!("DBG read {} bytes in {:?}", got.len(), t0.elapsed());
    signaller.join().unwrap();
    assert!(
        sub.is_closed(Duration::from_secs(1)),
        "closed after the flush"
    );

    let mut expected = Vec::with_capacity(N * (SIZE + 20));
    for i in 0..N {
        expected.extend_from_slice(format!("MSG big 1 {SIZE}\r\n").as_bytes());
        let mut payload = format!("{i:08}").into_bytes();
        payload.resize(SIZE, b'.');
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "every accepted message reached the subscriber before the close"
    );
    assert!(got == expected, "the messages arrived intact and in order");
    let status = b.wait_exit(EXIT_WITHIN).expect("sluice exits");
    assert!(status.success(), "exit status {status:?}");
}

/// The same through a real client: publish, flush, signal; the subscriber still gets it.
#[tokio::test]
async fn async_nats_message_before_shutdown_arrives() {
    use futures::StreamExt;
    let mut b = Broker::sluice(&[]);
    let url = b.url();
    let result = tokio::time::timeout(Duration::from_secs(20), async move {
        let subscriber = async_nats::connect(&url).await.expect("connect");
        let mut sub = subscriber.subscribe("last.words").await.unwrap();
        let publisher = async_nats::connect(&url).await.expect("connect");
        // The subscription is registered once a message to it comes back.
        subscriber
            .publish("last.words", "probe".into())
            .await
            .unwrap();
        subscriber.flush().await.unwrap();
        assert_eq!(sub.next().await.unwrap().payload, "probe");
        publisher
            .publish("last.words", "goodbye".into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        // A request round trip on the publisher proves the server has handled the PUB.
        let err = publisher.request("nobody", "x".into()).await;
        assert!(err.is_err(), "no responders");
        (sub, subscriber, publisher)
    })
    .await;
    let (mut sub, _subscriber, _publisher) = result.expect("setup within 20 s");
    let status = b.terminate(EXIT_WITHIN).expect("sluice exits");
    assert!(status.success(), "exit status {status:?}");
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5 s")
        .expect("message before the end");
    assert_eq!(m.payload, "goodbye");
}

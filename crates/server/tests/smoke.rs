//! In-process smoke tests of the server over real TCP (the black-box suite lives in
//! integration-tests/ and drives the binary).

mod common;

use common::*;
use sluice_server::ServerConfig;
use std::time::Duration;

#[tokio::test]
async fn pub_sub_roundtrip() {
    let srv = start(ServerConfig::default()).await;
    let mut s = connect(srv.addr).await;
    send(
        &mut s,
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 5\r\nhello\r\nPING\r\n",
    )
    .await;
    let got = read_until(&mut s, Duration::from_secs(3), |t| t.contains("PONG")).await;
    assert_eq!(got.text, "MSG foo 1 bar 5\r\nhello\r\nPONG\r\n");
    srv.stop().await;
}

//! The `tls` blocks' keys beyond the certificate files: `verify_and_map`, `handshake_first`,
//! `verify_cert_and_check_known_urls`, the top-level `allow_non_tls`, and users without a
//! password.

use super::super::options::{from_map, FileOptions};
use super::super::parser::parse_str;
use super::*;
use sluice_server::{Auth, HandshakeFirst};
use std::path::Path;

fn options(text: &str) -> Result<FileOptions, String> {
    let map = parse_str(text, Path::new("t.conf")).map_err(|e| e.to_string())?;
    from_map(&map).map_err(|e| e.to_string())
}

fn err(text: &str) -> String {
    match options(text) {
        Ok(o) => panic!("{text:?} read as {o:?}"),
        Err(e) => e,
    }
}

fn client_tls(body: &str) -> TlsOptions {
    options(&format!("tls {{ cert_file: c, key_file: k, {body} }}"))
        .unwrap_or_else(|e| panic!("{body}: {e}"))
        .tls
        .unwrap()
}

#[test]
fn verify_and_map_and_allow_non_tls() {
    assert_eq!(
        client_tls("verify_and_map: true").verify_and_map,
        Some(true)
    );
    assert_eq!(
        client_tls("verify_and_map: false").verify_and_map,
        Some(false)
    );
    assert_eq!(client_tls("").verify_and_map, None);
    assert_eq!(
        err("tls {\n verify_and_map: \"true\" }"),
        "t.conf:2: verify_and_map: expected true or false, got the string \"true\""
    );
    let o = options("allow_non_tls: true\ntls { cert_file: c, key_file: k }").unwrap();
    assert_eq!(o.allow_non_tls, Some(true));
    // nats-server reads it at the top level only.
    assert!(err("tls {\n allow_non_tls: true }")
        .starts_with("t.conf:2: unknown key \"allow_non_tls\" in tls"));
    assert_eq!(
        err("allow_non_tls: 1"),
        "t.conf:1: allow_non_tls: expected true or false, got the integer 1"
    );
}

#[test]
fn handshake_first_forms() {
    let hf = |v: &str| client_tls(&format!("handshake_first: {v}")).handshake_first;
    assert_eq!(hf("true"), Some(HandshakeFirst::On));
    assert_eq!(hf("false"), Some(HandshakeFirst::Off));
    assert_eq!(hf("\"on\""), Some(HandshakeFirst::On));
    assert_eq!(hf("\"OFF\""), Some(HandshakeFirst::Off));
    assert_eq!(hf("auto"), Some(HandshakeFirst::Fallback(DEFAULT_FALLBACK)));
    assert_eq!(
        hf("\"auto_fallback\""),
        Some(HandshakeFirst::Fallback(DEFAULT_FALLBACK))
    );
    assert_eq!(
        hf("300ms"),
        Some(HandshakeFirst::Fallback(Duration::from_millis(300)))
    );
    assert_eq!(
        hf("\"1.5s\""),
        Some(HandshakeFirst::Fallback(Duration::from_millis(1500)))
    );
    assert_eq!(
        client_tls("first: true").handshake_first,
        Some(HandshakeFirst::On)
    );
    assert_eq!(
        client_tls("immediate: \"10ms\"").handshake_first,
        Some(HandshakeFirst::Fallback(Duration::from_millis(10)))
    );
    assert_eq!(
        err("tls {\n handshake_first: soon }"),
        "t.conf:2: field \"handshake_first\"'s value \"soon\" is invalid"
    );
    assert_eq!(
        err("tls {\n handshake_first: 2m }"),
        "t.conf:2: field \"handshake_first\" should be a boolean or a string, got int64"
    );
}

#[test]
fn known_urls_and_route_keys_are_refused_by_name() {
    assert_eq!(
        err("tls {\n verify_cert_and_check_known_urls: true }"),
        "t.conf:2: verify_cert_and_check_known_urls not supported in this context"
    );
    assert!(options("tls { cert_file: c, verify_cert_and_check_known_urls: false }").is_ok());
    for key in [
        "verify_and_map: true",
        "verify_cert_and_check_known_urls: true",
        "handshake_first: true",
    ] {
        let e = err(&format!("cluster {{ port: 1, tls {{\n {key} }} }}"));
        assert!(e.starts_with("t.conf:2: \""), "{e}");
        assert!(e.contains("in cluster tls is not served yet"), "{e}");
    }
    assert_eq!(
        err("cluster { port: 1, tls {\n allow_non_tls: true } }"),
        "t.conf:2: unknown key \"allow_non_tls\" in cluster tls"
    );
}

#[test]
fn users_without_a_password_with_and_without_verify_and_map() {
    let users =
        "authorization { users: [\n {user: \"CN=alice,O=Acme\"}\n {user: b, password: p}\n] }";
    // As nats-server: without verify_and_map too (such a user logs in with no password).
    let Some(Auth::Users(list)) = options(users).unwrap().auth else {
        panic!("users")
    };
    assert_eq!(list[0].password, "");
    let mapped = format!("{users}\ntls {{ cert_file: c, key_file: k, verify_and_map: true }}");
    let o = options(&mapped).unwrap();
    let Some(Auth::Users(list)) = o.auth else {
        panic!("{:?}", o.auth)
    };
    assert_eq!(list[0].user, "CN=alice,O=Acme");
    assert_eq!(list[0].password, "");
    // Account users too.
    let acc = "accounts { A { users: [\n {user: alice@acme.test}\n] } }";
    assert!(options(acc).is_ok());
    let o = options(&format!(
        "{acc}\ntls {{ cert_file: c, key_file: k, verify_and_map: true }}"
    ))
    .unwrap();
    let Some(Auth::Users(list)) = o.auth else {
        panic!("{:?}", o.auth)
    };
    assert_eq!(list[0].account.as_deref(), Some("A"));
}

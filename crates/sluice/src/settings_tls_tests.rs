//! The tls block's verify_and_map and handshake_first, and the top-level allow_non_tls, as
//! they reach `sluice_server::TlsConfig`; a reload that changes them is refused.

use super::*;
use crate::conf::{options, parser};
use sluice_server::HandshakeFirst;
use std::time::Duration;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
}

fn file(text: &str) -> FileOptions {
    options::from_map(&parser::parse_str(text, Path::new("t.conf")).unwrap()).unwrap()
}

fn tls_of(args: &[&str], text: &str) -> Result<TlsConfig, String> {
    resolve(&cli(args), Some(&file(text))).map(|s| s.server.tls.expect("TLS on"))
}

#[test]
fn verify_and_map_verifies_and_needs_a_ca() {
    let t = tls_of(
        &[],
        "tls { cert_file: c, key_file: k, ca_file: ca, verify_and_map: true }",
    )
    .unwrap();
    assert!(t.map && t.verify);
    assert!(!t.allow_non_tls);
    assert_eq!(t.handshake_first, HandshakeFirst::Off);
    // Whatever verify or --tlsverify say.
    let text =
        "tls { cert_file: c, key_file: k, ca_file: ca, verify_and_map: true, verify: false }";
    let t = tls_of(&["--tls", "--tlsverify=false"], text).unwrap();
    assert!(t.map && t.verify);
    let err = tls_of(
        &[],
        "\ntls { cert_file: c, key_file: k, verify_and_map: true }",
    )
    .unwrap_err();
    assert!(
        err.contains("CA (--tlscacert, or ca_file in the tls block at t.conf:2"),
        "{err}"
    );
    let t = tls_of(
        &[],
        "tls { cert_file: c, key_file: k, verify_and_map: false }",
    )
    .unwrap();
    assert!(!t.map && !t.verify);
}

#[test]
fn allow_non_tls_and_handshake_first_are_carried() {
    let text = "allow_non_tls: true\ntls { cert_file: c, key_file: k, handshake_first: 300ms }";
    let t = tls_of(&[], text).unwrap();
    assert!(t.allow_non_tls);
    assert_eq!(
        t.handshake_first,
        HandshakeFirst::Fallback(Duration::from_millis(300))
    );
    // Without TLS, allow_non_tls does nothing (as in nats-server).
    let s = resolve(&cli(&[]), Some(&file("allow_non_tls: true"))).unwrap();
    assert_eq!(s.server.tls, None);
}

#[test]
fn a_reload_changing_them_is_refused() {
    let base = "tls { cert_file: c, key_file: k, ca_file: ca }";
    let old = resolve(&cli(&[]), Some(&file(base))).unwrap();
    for changed in [
        format!("allow_non_tls: true\n{base}"),
        "tls { cert_file: c, key_file: k, ca_file: ca, verify_and_map: true }".to_owned(),
        "tls { cert_file: c, key_file: k, ca_file: ca, handshake_first: true }".to_owned(),
    ] {
        let new = resolve(&cli(&[]), Some(&file(&changed))).unwrap();
        assert_eq!(diff(&old, &new).fixed, ["tls"], "{changed}");
    }
}

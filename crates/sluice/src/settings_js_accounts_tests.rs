//! Which accounts get JetStream from the file (nats-server's rule), the clustered refusal, and
//! the reload diff of an account's `jetstream`.

use super::*;
use crate::conf::{options, parser};
use sluice_stream::accounts::Enabled;
use sluice_stream::api::types::AccountLimits;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
}

fn file(text: &str) -> FileOptions {
    let map = parser::parse_str(text, Path::new("t.conf")).unwrap();
    options::from_map(&map).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The settings `text` gives with `args`, refusals included (as `load` makes them).
fn settings_of(args: &[&str], text: &str) -> Result<Settings, String> {
    let f = file(text);
    let s = resolve(&cli(args), Some(&f))?;
    refuse_unserved(&s, Some(&f))?;
    Ok(s)
}

fn enabled(args: &[&str], text: &str) -> Enabled {
    settings_of(args, text).unwrap().jetstream.unwrap().accounts
}

#[test]
fn global_has_jetstream_only_without_accounts() {
    let e = enabled(&["-js"], "");
    assert_eq!(e.global, Some(AccountLimits::default()));
    assert!(e.accounts.is_empty());
    let e = enabled(&["-js"], "accounts { A {}, B { jetstream: enabled } }");
    assert_eq!(e.global, None);
    assert_eq!(e.accounts, vec![("B".to_owned(), AccountLimits::default())]);
    let e = enabled(&[], "jetstream: enabled\naccounts [ A ]");
    assert_eq!((e.global, e.accounts.len()), (None, 0));
}

#[test]
fn limits_reach_the_settings() {
    let e = enabled(&["-js"], "accounts { A { jetstream { max_streams: 3 } } }");
    assert_eq!(e.accounts[0].1.max_streams, 3);
}

const CLUSTERED: &str = "server_name: n1\ncluster { name: c, listen: 127.0.0.1:-1 }\n";

#[test]
fn clustered_jetstream_stays_in_the_global_account() {
    let e = enabled(&["-js"], &format!("{CLUSTERED}accounts [ A ]"));
    assert_eq!(e.global, Some(AccountLimits::default()));
    let err = settings_of(
        &["-js"],
        &format!("{CLUSTERED}accounts {{ A {{ jetstream: enabled }} }}"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "accounts.A.jetstream: account jetstream is not served in clustered mode yet \
         (clustered JetStream runs in the global account only)"
    );
}

#[test]
fn a_reload_may_not_change_account_jetstream() {
    let old = settings_of(&["-js"], "accounts { A { jetstream: enabled } }").unwrap();
    let new = settings_of(&["-js"], "accounts { A { jetstream: { max_streams: 1 } } }").unwrap();
    let change = diff(&old, &new);
    assert!(change.fixed.contains(&"jetstream"), "{:?}", change.fixed);
}

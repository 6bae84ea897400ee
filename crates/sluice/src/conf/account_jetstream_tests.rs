//! Tests of an account's `jetstream` key: every form nats-server 2.9.10 accepts, its aliases,
//! and the refusals with their lines.

use crate::conf::options::{from_map, FileOptions};
use crate::conf::parser::parse_str;
use sluice_stream::api::types::AccountLimits;
use std::path::Path;

fn options(text: &str) -> FileOptions {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    from_map(&map).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn options_err(text: &str) -> String {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match from_map(&map) {
        Ok(o) => panic!("{text:?} read as {o:?}"),
        Err(e) => e.to_string(),
    }
}

/// The limits account `A` gets from `block` (its `jetstream` value), `None`: not enabled.
fn limits_of(js: &str) -> Option<AccountLimits> {
    let o = options(&format!("accounts {{ A {{ jetstream: {js} }}, B {{}} }}"));
    assert!(o.jetstream_accounts.iter().all(|(name, _)| name == "A"));
    o.jetstream_accounts.into_iter().map(|(_, l)| l).next()
}

#[test]
fn enabled_and_disabled_words() {
    for on in ["enabled", "enable", "ENABLED", "true", "\"enabled\""] {
        assert_eq!(limits_of(on), Some(AccountLimits::default()), "{on}");
    }
    for off in ["disabled", "disable", "false"] {
        assert_eq!(limits_of(off), None, "{off}");
    }
}

#[test]
fn an_account_without_the_key_has_no_jetstream() {
    let o = options("accounts { A { users [{user: a, password: a}] } }");
    assert!(o.jetstream_accounts.is_empty());
    let o = options("accounts [ A, B ]");
    assert!(o.jetstream_accounts.is_empty());
}

#[test]
fn every_limit_and_alias() {
    let l = limits_of(
        "{ max_mem: 1MB, max_file: 2MB, max_streams: 3, max_consumers: 4,\n\
         max_bytes_required: true, memory_max_stream_bytes: 5, store_max_stream_bytes: 6,\n\
         max_ack_pending: 8 }",
    )
    .unwrap();
    let want = AccountLimits {
        max_memory: 1 << 20,
        max_storage: 2 << 20,
        max_streams: 3,
        max_consumers: 4,
        max_ack_pending: 8,
        memory_max_stream_bytes: 5,
        storage_max_stream_bytes: 6,
        max_bytes_required: true,
    };
    assert_eq!(l, want);
    let aliases = [
        ("max_memory", "max_memory"),
        ("mem", "max_memory"),
        ("memory", "max_memory"),
        ("MAX_MEMORY", "max_memory"),
        ("max_store", "max_storage"),
        ("max_disk", "max_storage"),
        ("store", "max_storage"),
        ("disk", "max_storage"),
        ("streams", "max_streams"),
        ("consumers", "max_consumers"),
        ("mem_max_stream_bytes", "memory_max_stream_bytes"),
        ("disk_max_stream_bytes", "storage_max_stream_bytes"),
    ];
    for (key, field) in aliases {
        let l = limits_of(&format!("{{ {key}: 7 }}")).unwrap();
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json[field], 7, "{key}");
    }
    for key in ["max_stream_bytes", "max_bytes"] {
        let l = limits_of(&format!("{{ {key}: true }}")).unwrap();
        assert!(l.max_bytes_required, "{key}");
    }
}

#[test]
fn refusals_name_the_key_and_line() {
    let e = options_err("accounts {\n A {\n jetstream: { nope: 1 }\n }\n}");
    assert!(
        e.starts_with("t.conf:3: unknown key \"nope\" in the jetstream block of account A"),
        "{e}"
    );
    let e = options_err("accounts { A { jetstream: maybe } }");
    assert!(
        e.contains("jetstream (account A): expected enabled, disabled"),
        "{e}"
    );
    let e = options_err("accounts { A { jetstream: { max_streams: \"x\" } } }");
    assert!(e.contains("max_streams: expected an integer"), "{e}");
    let e = options_err("accounts { A { jetstream: { max_bytes_required: 1 } } }");
    assert!(
        e.contains("max_bytes_required: expected true or false"),
        "{e}"
    );
    let e = options_err("accounts { A { jetstream: [1] } }");
    assert!(e.contains("expected enabled"), "{e}");
}

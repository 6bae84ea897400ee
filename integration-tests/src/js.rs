//! Helpers for the JetStream black-box tests (`tests/js_*.rs`): a throwaway store directory per
//! broker, starting a broker with JetStream on, and JSON comparisons for `$JS.API` responses.
//!
//! Only std and serde_json here; the async client helpers are in [`crate::client`].

use crate::{Broker, Kind};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty directory under the system temp dir, for one broker's `-sd`. Removed (with
/// everything in it) on drop, so keep it alive for as long as any broker uses it.
pub struct StoreDir {
    path: PathBuf,
}

impl StoreDir {
    /// Creates a new unique directory; `tag` goes into its name to tell tests apart.
    pub fn new(tag: &str) -> StoreDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "sluice-js-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("create store dir {}: {e}", path.display()));
        StoreDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory as a string, for the `-sd` argument.
    pub fn as_str(&self) -> &str {
        self.path.to_str().expect("temp dir path is UTF-8")
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Starts a broker of `kind` with JetStream on and its store in `store`: `-js -sd DIR`, the same
/// flags for both servers.
pub fn start_js(kind: Kind, store: &StoreDir) -> Broker {
    Broker::start(kind, &["-js", "-sd", store.as_str()])
}

/// Kills `broker` with SIGKILL ([`Broker::kill9`]: no chance to flush or shut down, checked to
/// be gone) and starts a broker of the same kind with JetStream on the same store and port, so
/// clients that stay connected reconnect on their own.
pub fn kill9_and_restart(broker: Broker, store: &StoreDir) -> Broker {
    let (kind, port) = (broker.kind, broker.addr.port());
    broker.kill9();
    let port = port.to_string();
    // `-p PORT` after the harness's `-p -1`: the later flag wins, on both servers.
    let broker = Broker::start(kind, &["-js", "-sd", store.as_str(), "-p", &port]);
    assert_eq!(
        broker.addr.port().to_string(),
        port,
        "restarted on the same port"
    );
    broker
}

/// An API `error` object as nats-server writes it.
pub fn error_json(code: u64, err_code: u64, description: &str) -> Value {
    serde_json::json!({"code": code, "err_code": err_code, "description": description})
}

/// Checks that `actual` contains `expected`: for objects, every key of `expected` is present in
/// `actual` with a value that (recursively) contains the expected one; extra keys in `actual`
/// are allowed. Arrays and scalars must be equal. The error names the first path that differs.
pub fn json_includes(actual: &Value, expected: &Value) -> Result<(), String> {
    fn walk(actual: &Value, expected: &Value, path: &mut String) -> Result<(), String> {
        match (actual, expected) {
            (Value::Object(a), Value::Object(e)) => {
                for (key, want) in e {
                    let len = path.len();
                    path.push('.');
                    path.push_str(key);
                    match a.get(key) {
                        Some(got) => walk(got, want, path)?,
                        None => return Err(format!("{path}: missing (expected {want})")),
                    }
                    path.truncate(len);
                }
                Ok(())
            }
            _ if actual == expected => Ok(()),
            _ => Err(format!("{path}: got {actual}, expected {expected}")),
        }
    }
    walk(actual, expected, &mut String::from("$"))
}

/// Panics (showing both documents) unless `actual` contains `expected`, as [`json_includes`].
#[track_caller]
pub fn assert_json_includes(actual: &Value, expected: &Value) {
    if let Err(e) = json_includes(actual, expected) {
        panic!("JSON mismatch at {e}\n  actual:   {actual}\n  expected: {expected}");
    }
}

/// A copy of `v` with every object member named in `keys` removed, at any depth (for comparing
/// stream infos while ignoring timestamps).
pub fn without_keys(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), without_keys(v, keys)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| without_keys(v, keys)).collect()),
        other => other.clone(),
    }
}

/// The timestamp members of a stream info (`created`, `first_ts`, `last_ts`; `ts`, the reply's
/// time in v2.10+), for [`without_keys`].
pub const TIMESTAMP_KEYS: &[&str] = &["created", "first_ts", "last_ts", "ts"];

/// What may differ in a stream info across a broker restart: the timestamps, and `cluster`, whose
/// `leader` (sent by v2.10+ even when not clustered) names the server, and a restarted server has
/// a new ID.
pub const RESTART_KEYS: &[&str] = &["created", "first_ts", "last_ts", "ts", "cluster"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn includes_allows_extra_keys_but_not_different_values() {
        let a = json!({"x": 1, "y": {"z": [1, 2], "w": "s"}, "extra": true});
        assert!(json_includes(&a, &json!({"x": 1, "y": {"z": [1, 2]}})).is_ok());
        let e = json_includes(&a, &json!({"y": {"w": "t"}})).unwrap_err();
        assert!(e.starts_with("$.y.w"), "{e}");
        let e = json_includes(&a, &json!({"q": null})).unwrap_err();
        assert!(e.contains("missing"), "{e}");
        assert!(json_includes(&a, &json!({"y": {"z": [1]}})).is_err());
    }

    #[test]
    fn without_keys_strips_at_depth() {
        let a =
            json!({"created": "t", "state": {"first_ts": "t", "messages": 1}, "l": [{"ts": 1}]});
        assert_eq!(
            without_keys(&a, TIMESTAMP_KEYS),
            json!({"state": {"messages": 1}, "l": [{}]})
        );
    }

    #[test]
    fn store_dir_is_fresh_and_removed() {
        let p = {
            let d = StoreDir::new("unit");
            assert!(d.path().is_dir());
            assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
            d.path().to_path_buf()
        };
        assert!(!p.exists());
    }
}

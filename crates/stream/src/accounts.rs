//! JetStream per account: one stream layer ([`JetStream`]) for each account that has
//! JetStream, subscribed in that account (`ServerHandle::in_account`), with its own streams,
//! consumers, `$JS.API` and store directory; every other account's `$JS.API` is answered with
//! 503 10039 "JetStream not enabled for account" (`api/not_enabled.rs`).
//!
//! As nats-server 2.9.10: without configured accounts, the global account `$G` has
//! JetStream; with accounts, only those whose `jetstream` key enables it do (`$G` too gets
//! 10039). The system account is left alone: its `$JS.API` requests belong to the meta group.
//!
//! Store layout: `$G` keeps the store directory itself (`<store_dir>/streams/...`, as before
//! accounts had JetStream), every other account `<store_dir>/accounts/<name>/` with the name
//! percent-encoded where it is not `[A-Za-z0-9_-]` ([`account_store_dir`]). Each layer
//! restores its own streams at startup. Server-wide reservations (`limits.rs`) are shared.

use crate::api::types::AccountLimits;
use crate::config::StorageType;
use crate::jetstream::{JetStream, JetStreamConfig, StartError};
use sluice_server::{InternalSubscription, JetStreamMonitor, JetStreamStats, ServerHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The global account's name.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Where account `name` keeps its streams under the store directory `base`.
pub fn account_store_dir(base: &Path, name: &str) -> PathBuf {
    if name == GLOBAL_ACCOUNT {
        return base.to_path_buf();
    }
    let mut encoded = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    base.join("accounts").join(encoded)
}

/// Which accounts have JetStream, and their limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enabled {
    /// `$G`'s limits, when it has JetStream.
    pub global: Option<AccountLimits>,
    /// Each configured account with JetStream.
    pub accounts: Vec<(String, AccountLimits)>,
}

impl Enabled {
    /// nats-server's rule: `$G` when no account is configured, else the accounts that say so.
    pub fn from_config(configured: &[String], enabled: Vec<(String, AccountLimits)>) -> Enabled {
        Enabled {
            global: configured.is_empty().then(AccountLimits::default),
            accounts: enabled,
        }
    }
}

/// The running JetStream of every account that has it.
pub struct JetStreamAccounts {
    /// `$G`'s first, when it has JetStream.
    layers: Vec<(String, JetStream)>,
    /// The other accounts' `$JS.API.>`, answered 10039.
    not_enabled: Vec<InternalSubscription>,
}

impl JetStreamAccounts {
    /// Starts JetStream in the accounts `enabled` names (`base` gives everything but each
    /// account's store directory and limits) and answers 10039 in every other account.
    pub fn start(
        server: &ServerHandle,
        base: &JetStreamConfig,
        enabled: &Enabled,
    ) -> Result<JetStreamAccounts, StartError> {
        let mut wanted: Vec<(&str, &AccountLimits)> = Vec::new();
        if let Some(limits) = &enabled.global {
            wanted.push((GLOBAL_ACCOUNT, limits));
        }
        wanted.extend(enabled.accounts.iter().map(|(n, l)| (n.as_str(), l)));
        crate::limits::accounts_fit(&base.reservations.limits, wanted.iter().map(|(_, l)| *l))
            .map_err(StartError::AccountLimits)?;
        let mut me = JetStreamAccounts {
            layers: Vec::new(),
            not_enabled: Vec::new(),
        };
        for (name, limits) in wanted {
            let handle = if name == GLOBAL_ACCOUNT {
                server.clone()
            } else {
                server
                    .in_account(name)
                    .ok_or_else(|| StartError::Account(name.to_owned()))?
            };
            let config = JetStreamConfig {
                store_dir: account_store_dir(&base.store_dir, name),
                limits: limits.clone(),
                ..base.clone()
            };
            me.layers
                .push((name.to_owned(), JetStream::start(handle, config)?));
        }
        let mut others = server.account_names();
        others.push(GLOBAL_ACCOUNT.to_owned());
        for name in others {
            if me.get(&name).is_some() {
                continue;
            }
            let handle = if name == GLOBAL_ACCOUNT {
                server.clone()
            } else {
                match server.in_account(&name) {
                    Some(h) => h,
                    None => continue,
                }
            };
            let sink = Arc::new(crate::api::not_enabled::NotEnabled {
                server: handle.clone(),
            });
            let sub = handle
                .subscribe("$JS.API.>", None, sink)
                .map_err(|e| StartError::Subscribe(e.to_string()))?;
            me.not_enabled.push(sub);
        }
        Ok(me)
    }

    /// The global account's JetStream, if it has it (clustered JetStream runs there only).
    pub fn global(&self) -> Option<&JetStream> {
        self.get(GLOBAL_ACCOUNT)
    }

    /// Account `name`'s JetStream, if it has it.
    pub fn get(&self, name: &str) -> Option<&JetStream> {
        self.layers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, js)| js)
    }

    /// The accounts with JetStream, `$G` first when it has it.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|(n, _)| n.as_str())
    }

    /// Streams in all accounts.
    pub fn stream_count(&self) -> usize {
        self.layers.iter().map(|(_, js)| js.stream_count()).sum()
    }

    /// Monitoring over every account (`/jsz`, `/varz`: totals; `accounts` counts them).
    pub fn monitor(&self) -> Arc<dyn JetStreamMonitor> {
        Arc::new(AllAccounts(
            self.layers.iter().map(|(_, js)| js.monitor()).collect(),
        ))
    }

    /// Stops every account's layer (see [`JetStream::shutdown`]).
    pub fn shutdown(mut self) {
        for sub in self.not_enabled.drain(..) {
            sub.unsubscribe();
        }
        for (_, js) in self.layers.drain(..) {
            js.shutdown();
        }
    }
}

/// Sums the accounts' numbers; the meta group and Raft are `$G`'s (the first).
struct AllAccounts(Vec<Arc<dyn JetStreamMonitor>>);

impl JetStreamMonitor for AllAccounts {
    fn stats(&self, detail: bool) -> JetStreamStats {
        let mut all = JetStreamStats::default();
        for (i, m) in self.0.iter().enumerate() {
            let s = m.stats(detail);
            if i == 0 {
                all.meta = s.meta;
                all.raft = s.raft;
            }
            all.memory += s.memory;
            all.storage += s.storage;
            all.reserved_memory = all.reserved_memory.max(s.reserved_memory);
            all.reserved_storage = all.reserved_storage.max(s.reserved_storage);
            all.streams += s.streams;
            all.consumers += s.consumers;
            all.messages += s.messages;
            all.bytes += s.bytes;
            all.api_total += s.api_total;
            all.api_errors += s.api_errors;
            all.stream_list.extend(s.stream_list);
        }
        all.accounts = self.0.len() as u64;
        all
    }
}

impl crate::jetstream::Inner {
    /// The account's limits on its consumers, for each stream's owner.
    pub(crate) fn consumer_limits(&self) -> crate::consumer::config::LimitOpts {
        crate::consumer::config::LimitOpts {
            account_max_consumers: self.config.limits.max_consumers,
            account_max_ack_pending: self.config.limits.max_ack_pending,
            ..Default::default()
        }
    }

    /// What a stream of `storage` counts against, when its account or the server limits it.
    pub(crate) fn quota(&self, storage: StorageType) -> Option<crate::quota::Quota> {
        let (account, server) = match storage {
            StorageType::Memory => (
                self.config.limits.max_memory,
                self.config.reservations.limits.max_memory,
            ),
            StorageType::File => (
                self.config.limits.max_storage,
                self.config.reservations.limits.max_store,
            ),
        };
        (account >= 0 || server >= 0).then(|| {
            crate::quota::Quota::new(
                storage,
                crate::quota::Bound {
                    stored: self.stored.clone(),
                    limit: account,
                },
                crate::quota::Bound {
                    stored: self.config.reservations.stored.clone(),
                    limit: server,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_dirs_keep_global_where_it_was_and_encode_names() {
        let base = Path::new("/js");
        assert_eq!(account_store_dir(base, "$G"), Path::new("/js"));
        assert_eq!(
            account_store_dir(base, "ACME_1-x"),
            Path::new("/js/accounts/ACME_1-x")
        );
        assert_eq!(
            account_store_dir(base, "../a/b"),
            Path::new("/js/accounts/%2E%2E%2Fa%2Fb")
        );
        assert_eq!(
            account_store_dir(base, "é"),
            Path::new("/js/accounts/%C3%A9")
        );
        // Distinct names, distinct directories.
        assert_ne!(
            account_store_dir(base, "a.b"),
            account_store_dir(base, "a%2Eb")
        );
    }

    #[test]
    fn global_has_jetstream_only_without_accounts() {
        let none = Enabled::from_config(&[], vec![]);
        assert_eq!(none.global, Some(AccountLimits::default()));
        let a = vec![("A".to_owned(), AccountLimits::default())];
        let with = Enabled::from_config(&["A".to_owned(), "B".to_owned()], a.clone());
        assert_eq!(with.global, None);
        assert_eq!(with.accounts, a);
    }
}

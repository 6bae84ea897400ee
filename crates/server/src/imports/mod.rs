//! Exports and imports between accounts, as nats-server serves them.
//!
//! - **Stream imports.** For each subscription an importing account's local subscriber
//!   makes, the server enters a *shadow* in the exporting account on the matching export-side
//!   subjects (same owner, sid and queue group). A message published in the exporter reaches
//!   the shadow like any subscription, here or from another server of the cluster (the
//!   shadow's interest crosses routes in the exporter's name, as nats-server's does), and is
//!   delivered to the original subscriber under the importer's subject.
//! - **Service imports.** What an importing account's client publishes on an import's `to`
//!   subjects is delivered in its own account as usual and also published in the exporting
//!   account on the mapped subject, on the server where it was published (never again on a
//!   server it reaches over a route), with a `Nats-Request-Info` header naming the importing
//!   account. Its reply subject is replaced by one of the exporter's `_R_.<prefix>.<token>`
//!   subjects, which this server subscribes in the exporter, so responses come back from any
//!   server and go to the requester's reply in the importer (`responses.rs`).
//!
//! Exports and imports are fixed while the server runs; [`check_accounts`] refuses those
//! that do not fit together before it starts. A chain of imports deeper than
//! [`MAX_DEPTH`] is cut there (cycles are refused by the check; this stops one anyway).

pub mod check;
pub mod mapping;
pub(crate) mod responses;
mod service;

pub use check::check_accounts;

use crate::config::ExportKind;
use crate::handle::{Account, AccountImports, ServiceImport, StreamImport, SubRef, Subscription};
use crate::route::Publisher;
use crate::shared::Shared;
use crate::sink::{InternalMsg, InternalSink};
use mapping::{intersects, is_subset};
use responses::Responses;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// How many imports one message or subscription may go through.
pub(crate) const MAX_DEPTH: u8 = 4;

/// Sets up every account's imports and reply mappings (once, before the server takes
/// connections). The accounts must have passed [`check_accounts`].
pub(crate) fn install(shared: &Arc<Shared>) {
    for config in &shared.config.accounts {
        let Some(account) = shared.account(&config.name).cloned() else {
            continue;
        };
        let mut imports = AccountImports::default();
        for import in &config.imports {
            let (Some(exporter), Ok(mapping)) =
                (shared.account(&import.account), check::mapping_of(import))
            else {
                continue;
            };
            let exporter = Arc::downgrade(exporter);
            if import.stream {
                imports.streams.push(StreamImport {
                    exporter,
                    to: mapping.q_pattern(),
                    mapping: Arc::new(mapping),
                });
            } else {
                // The export this import is covered by says how many responses it takes.
                let export = shared
                    .config
                    .accounts
                    .iter()
                    .find(|a| a.name == import.account)
                    .and_then(|a| check::covering_export(a, &config.name, import));
                let Some(ExportKind::Service {
                    response,
                    threshold,
                }) = export.map(|e| &e.kind)
                else {
                    continue;
                };
                imports.services.push(ServiceImport {
                    importer: Arc::downgrade(&account),
                    exporter,
                    to: mapping.q_pattern(),
                    mapping,
                    response: *response,
                    threshold: *threshold,
                });
            }
        }
        let exports_services = config
            .exports
            .iter()
            .any(|e| matches!(e.kind, ExportKind::Service { .. }));
        if exports_services {
            imports.responses = Some(Responses::new());
        }
        let subject = imports.responses.as_ref().map(Responses::subject);
        let _ = account.imports.set(imports);
        if let Some(subject) = subject {
            let sink: Arc<dyn InternalSink> = Arc::new(ResponseSink {
                shared: Arc::downgrade(shared),
                account: Arc::downgrade(&account),
            });
            if let Err(e) = shared.subscribe_internal(&account, &subject, None, sink) {
                tracing::warn!(%subject, error = %e, "service responses not served");
            }
        }
    }
}

/// Takes the responses to requests that crossed into an exporting account and publishes
/// each on its requester's reply subject in the importing account.
struct ResponseSink {
    shared: Weak<Shared>,
    account: Weak<Account>,
}

impl InternalSink for ResponseSink {
    fn deliver(&self, msg: InternalMsg) {
        let (Some(shared), Some(account)) = (self.shared.upgrade(), self.account.upgrade()) else {
            return;
        };
        let Some(responses) = account.imports.get().and_then(|i| i.responses.as_ref()) else {
            return;
        };
        let Some((importer, reply)) = responses.take(&msg.subject, Instant::now()) else {
            return;
        };
        let Some(importer) = importer.upgrade() else {
            return;
        };
        let mut p = Publisher::new(shared.next_id());
        p.publish(
            &shared,
            &importer,
            &reply,
            None,
            msg.headers.as_deref(),
            &msg.payload,
        );
        p.wake_all();
    }
}

/// Enters the shadows a new local subscription `sub` needs in the accounts its account
/// imports streams from (and theirs, `depth` imports deep so far).
pub(crate) fn add_shadows(shared: &Shared, sub: &SubRef, depth: u8) {
    let Some(imports) = sub.account.imports.get() else {
        return;
    };
    if imports.streams.is_empty() || depth >= MAX_DEPTH {
        return;
    }
    let mut shadows = Vec::new();
    for import in &imports.streams {
        if !intersects(&sub.subject, &import.to) {
            continue;
        }
        let Some(exporter) = import.exporter.upgrade() else {
            continue;
        };
        // Exactly the exporter's subjects this subscription takes when it is within the
        // import; the whole import otherwise, each delivery checked against it.
        let (subject, filter) = match is_subset(&sub.subject, &import.to)
            .then(|| import.mapping.q_to_f(&sub.subject))
            .flatten()
        {
            Some(subject) => (subject, false),
            None => (import.mapping.f_pattern(), true),
        };
        let shadow = Arc::new(Subscription::shadow_of(
            sub,
            exporter,
            &subject,
            import.mapping.clone(),
            filter,
        ));
        if shared.insert_shadow(&shadow, depth + 1).is_ok() {
            shadows.push(shadow);
        }
    }
    sub.shadows.lock().extend(shadows);
}

//! SUB and UNSUB, and dropping every subscription when the connection closes.

use super::Conn;
use crate::error::ServerError;
use crate::handle::{Owner, SubRef, Subscription, DENY_FILTER};
use sluice_protocol::subject::{is_valid_queue, is_valid_subject};
use sluice_protocol::ByteStr;
use std::sync::Arc;

impl Conn {
    pub(super) fn subscribe(
        &mut self,
        subject: ByteStr,
        queue: Option<ByteStr>,
        sid: ByteStr,
    ) -> Result<(), ServerError> {
        if let Some(perms) = self.perms.as_deref() {
            // As nats-server: permissions are checked before the subject's validity.
            if !perms.can_subscribe(&subject, queue.as_deref()) {
                let err = ServerError::SubscribeViolation {
                    subject: subject.to_string(),
                    queue: queue.as_deref().map(str::to_owned),
                };
                return self.send_err(err);
            }
            // A wildcard subscription that overlaps the deny list: from now on, deliveries
            // to this connection are checked against it (set before the subscription can
            // receive anything).
            if self.handle.flags() & DENY_FILTER == 0 {
                if let Some(deny) = perms.deny_filter_for(&subject) {
                    self.handle.perms.set_deny_filter(Some(deny.clone()));
                    self.handle.set_flag(DENY_FILTER, true);
                }
            }
        }
        if !is_valid_subject(&subject) {
            return self.send_err(ServerError::InvalidSubject);
        }
        if queue.as_deref().is_some_and(|q| !is_valid_queue(q)) {
            return self.send_err(ServerError::InvalidQueue);
        }
        {
            let mut subs = self.handle.subs.lock();
            let full = self.max_subs.is_some_and(|max| subs.len() >= max);
            if full && !subs.contains_key(&sid) {
                drop(subs);
                return self.send_err(ServerError::TooManySubs);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = subs.entry(sid.clone()) {
                let sub = Arc::new(Subscription::new(
                    Owner::Client(self.handle.clone()),
                    self.account.clone(),
                    sid,
                    subject.clone(),
                    queue.clone(),
                ));
                if self.shared.insert_local_sub(&sub).is_err() {
                    drop(subs);
                    return self.send_err(ServerError::InvalidSubject);
                }
                slot.insert(sub);
            }
        }
        self.ok();
        Ok(())
    }

    pub(super) fn unsubscribe(&mut self, sid: &ByteStr, max: Option<u64>) {
        let sub = self.handle.subs.lock().get(sid).cloned();
        let Some(sub) = sub else { return };
        if let Some(max) = max.filter(|&m| m > 0) {
            if !sub.set_max(max) {
                return;
            }
        }
        self.shared.remove_sub(&sub);
    }

    pub(super) fn unsubscribe_all(&mut self) {
        let subs: Vec<SubRef> = self.handle.subs.lock().drain().map(|(_, s)| s).collect();
        for sub in subs {
            self.shared.remove_local_sub(&sub);
        }
    }
}

//! CONNECT: the client's options, authentication and permissions; and re-checking them
//! when the server's authorization is reloaded.

use super::{Conn, Granted};
use crate::auth::{authenticate, ConnLimits, Outcome};
use crate::config::Permissions;
use crate::error::ServerError;
use crate::handle::{SubRef, ASYNC_INFO, DENY_FILTER, HEADERS, TRACK_REPLIES};
use crate::perms::ConnPerms;
use sluice_protocol::ConnectInfo;
use std::sync::Arc;
use tracing::debug;

impl Conn {
    /// Holds the connection to its user's limits (operator mode; none otherwise).
    fn set_limits(&mut self, limits: ConnLimits) {
        self.max_subs = limits.max_subs;
        self.handle.set_own_max_payload(limits.max_payload);
    }

    pub(super) fn connect(&mut self, info: &ConnectInfo) -> Result<(), ServerError> {
        // As nats-server: credentials, like every other option, are merged onto the ones an
        // earlier CONNECT gave.
        let creds = &mut self.credentials;
        if info.user.is_some() {
            creds.user.clone_from(&info.user);
        }
        if info.pass.is_some() {
            creds.pass.clone_from(&info.pass);
        }
        if info.auth_token.is_some() {
            creds.auth_token.clone_from(&info.auth_token);
        }
        if info.nkey.is_some() {
            creds.nkey.clone_from(&info.nkey);
        }
        if info.sig.is_some() {
            creds.sig.clone_from(&info.sig);
        }
        if info.jwt.is_some() {
            creds.jwt.clone_from(&info.jwt);
        }
        let auth = self.shared.auth();
        let no_auth_user = self.shared.no_auth_user.as_deref();
        let Outcome::Granted {
            secret,
            permissions,
            account,
            cert_user,
            expires,
            limits,
        } = authenticate(&auth, creds, None, no_auth_user)
        else {
            return Err(ServerError::AuthorizationViolation);
        };
        // A client is bound to its user's account; it cannot name another (nats-server's
        // `account` and `new_account` are for operator-mode dynamic accounts).
        let wants_account = info.account.as_deref().is_some_and(|a| !a.is_empty())
            || info.new_account == Some(true);
        if wants_account {
            return Err(ServerError::AuthorizationViolation);
        }
        let account = match account {
            None => self.shared.global.clone(),
            Some(name) => match self.shared.account(&name) {
                Some(a) => a.clone(),
                None => return Err(ServerError::AuthorizationViolation),
            },
        };
        if !Arc::ptr_eq(&account, &self.account) {
            // A later CONNECT naming a user of another account: its subscriptions are in
            // this one; refused, as a client cannot change accounts.
            if self.connected || !self.handle.subs.lock().is_empty() {
                return Err(ServerError::AuthorizationViolation);
            }
            self.bind_account(account);
        }
        if info.protocol.is_some_and(|p| !(0..=1).contains(&p)) {
            return Err(ServerError::InvalidClientProtocol);
        }
        let headers = info.headers.unwrap_or_else(|| self.handle.headers());
        let no_responders = info.no_responders.unwrap_or(self.no_responders);
        if no_responders && !headers {
            return Err(ServerError::NoRespondersRequiresHeaders);
        }
        // As nats-server: each CONNECT is merged onto the current options.
        self.set_limits(limits);
        self.no_subs = limits.max_subs == Some(0);
        self.just_connected = !self.connected;
        self.connected = true;
        self.verbose = info.verbose.unwrap_or(self.verbose);
        self.pedantic = info.pedantic.unwrap_or(self.pedantic);
        self.publisher.echo = info.echo.unwrap_or(self.publisher.echo);
        self.handle.set_flag(HEADERS, headers);
        if let Some(protocol) = info.protocol {
            self.handle.set_flag(ASYNC_INFO, protocol >= 1);
            if protocol >= 1 {
                if let Some(told) = self.told_urls.take() {
                    // An update made before this CONNECT passed this client by.
                    if self.shared.connect_urls().as_ref() != Some(&told) {
                        let info = self.shared.async_info_for(&self.handle);
                        self.handle.out.push_now(|b| b.extend_from_slice(&info));
                    }
                }
                self.tell_payload = self.handle.smaller_max_payload(&self.shared).is_some();
            }
        }
        self.no_responders = no_responders;
        self.cert_user = cert_user;
        self.expires = expires;
        self.granted = Some(Granted { auth, secret });
        self.set_permissions(permissions.as_ref(), false)?;
        *self.handle.stats.meta.lock() = crate::stats::ClientMeta {
            name: info.name.clone().unwrap_or_default(),
            lang: info.lang.clone().unwrap_or_default(),
            version: info.version.clone().unwrap_or_default(),
            account: self.account.name.to_string(),
        };
        debug!(
            cid = self.handle.id,
            name = info.name.as_deref().unwrap_or(""),
            lang = info.lang.as_deref().unwrap_or(""),
            version = info.version.as_deref().unwrap_or(""),
            "client connected"
        );
        if self.just_connected {
            crate::events::client_connected(
                &self.shared,
                &self.handle,
                &self.account.name,
                &self.user_name(),
            );
        }
        self.ok();
        Ok(())
    }

    /// Re-checks this connection against a reloaded authorization, as nats-server does: a
    /// connection whose credentials no longer pass is closed (with `Authorization Violation`,
    /// or silently if its user is gone: `Err(None)`); the others get the user's new
    /// permissions, and lose the subscriptions those no longer allow.
    pub(super) fn reauthorize(&mut self) -> Result<(), Option<ServerError>> {
        let Some(granted) = &self.granted else {
            // Not connected yet: its CONNECT will be checked against the new authorization.
            return Ok(());
        };
        let auth = self.shared.auth();
        if Arc::ptr_eq(&granted.auth, &auth) {
            return Ok(());
        }
        let no_auth_user = self.shared.no_auth_user.as_deref();
        let outcome = authenticate(
            &auth,
            &self.credentials,
            granted.secret.as_deref(),
            no_auth_user,
        );
        match outcome {
            Outcome::Granted {
                secret,
                permissions,
                account,
                limits,
                ..
            } => {
                if account.as_deref().unwrap_or(crate::handle::GLOBAL_ACCOUNT)
                    != &*self.account.name
                {
                    // Accounts do not change on a reload (it is refused); kept for safety.
                    return Err(Some(ServerError::AuthorizationViolation));
                }
                debug!(cid = self.handle.id, "authorization reloaded");
                // An account update may change the limits (operator mode).
                self.set_limits(limits);
                self.granted = Some(Granted { auth, secret });
                self.set_permissions(permissions.as_ref(), true)
                    .map_err(Some)
            }
            Outcome::Denied { unknown_user } => {
                debug!(
                    cid = self.handle.id,
                    "credentials no longer valid after reload"
                );
                Err((!unknown_user).then_some(ServerError::AuthorizationViolation))
            }
            Outcome::Revoked => {
                debug!(
                    cid = self.handle.id,
                    "user JWT revoked by an account update"
                );
                Err(Some(ServerError::AuthRevoked))
            }
        }
    }

    /// Installs the user's permissions. On a reload (`revoke`), subscriptions they no longer
    /// allow are removed, each with an `-ERR` naming it.
    fn set_permissions(
        &mut self,
        permissions: Option<&Permissions>,
        revoke: bool,
    ) -> Result<(), ServerError> {
        let perms = permissions.and_then(ConnPerms::new).map(Box::new);
        let responses = permissions.and_then(|p| p.allow_responses);
        self.handle.perms.set_responses(responses);
        self.handle.set_flag(TRACK_REPLIES, responses.is_some());
        let mut subs: Vec<SubRef> = self.handle.subs.lock().values().cloned().collect();
        subs.sort_by(|a, b| a.sid.cmp(&b.sid));
        let mut filter = None;
        if let Some(perms) = perms.as_deref() {
            for sub in subs {
                if revoke && !perms.can_subscribe(&sub.subject, sub.queue.as_deref()) {
                    self.shared.remove_sub(&sub);
                    self.send_err(ServerError::SubscriptionRevoked {
                        subject: sub.subject.to_string(),
                        sid: sub.sid.to_string(),
                    })?;
                } else if filter.is_none() {
                    filter = perms.deny_filter_for(&sub.subject).cloned();
                }
            }
        }
        let on = self.handle.perms.set_deny_filter(filter);
        self.handle.set_flag(DENY_FILTER, on);
        self.perms = perms;
        Ok(())
    }
}

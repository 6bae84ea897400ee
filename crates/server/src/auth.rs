//! Checking a client's credentials against the configured [`Auth`], as nats-server does:
//! plain-text secrets compared in constant time, bcrypt hashes (`$2a$`, `$2b$`, `$2y$`)
//! verified with the bcrypt crate, for a single user, a token, or a list of users.

use crate::config::{Auth, Permissions};
use subtle::ConstantTimeEq;

/// Credentials a client has presented (merged over every CONNECT so far).
#[derive(Default)]
pub(crate) struct Credentials {
    pub(crate) user: Option<String>,
    pub(crate) pass: Option<String>,
    pub(crate) auth_token: Option<String>,
}

/// What [`authenticate`] decided.
pub(crate) enum Outcome {
    /// In: `secret` is the configured password or token that matched (so a reload that
    /// keeps it need not run bcrypt again), `permissions` the user's.
    Granted {
        secret: Option<String>,
        permissions: Option<Permissions>,
        /// The user's account; `None`: the global one.
        account: Option<String>,
    },
    /// Out. `unknown_user`: the client named a user that is not configured (on a reload,
    /// nats-server closes such a connection without an error).
    Denied { unknown_user: bool },
}

/// True if `secret` is a bcrypt hash, as nats-server recognises one.
fn is_bcrypt(secret: &str) -> bool {
    secret.starts_with("$2a$") || secret.starts_with("$2b$") || secret.starts_with("$2y$")
}

/// Does the client's `given` secret match the `configured` one? `verified` is a configured
/// secret this client's credentials already matched (a bcrypt hash is not checked again).
fn secret_matches(configured: &str, given: Option<&str>, verified: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    if is_bcrypt(configured) {
        if verified == Some(configured) {
            return true;
        }
        let check = || bcrypt::verify(given, configured).unwrap_or(false);
        // bcrypt is slow on purpose (tens of milliseconds at the usual costs): on a
        // multi-threaded runtime, let the other tasks move to another worker meanwhile.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(check)
            }
            _ => check(),
        }
    } else {
        bool::from(configured.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// Does a route's CONNECT `user`/`pass` match the cluster's `authorization`?
pub(crate) fn route_credentials_match(auth: &crate::RouteAuth, user: &str, pass: &str) -> bool {
    let user_ok = bool::from(auth.user.as_bytes().ct_eq(user.as_bytes()));
    user_ok & secret_matches(&auth.password, Some(pass), None)
}

impl Credentials {
    /// The client presented none (a `no_auth_user` stands in for it).
    fn is_empty(&self) -> bool {
        self.user.is_none() && self.pass.is_none() && self.auth_token.is_none()
    }
}

/// Checks `creds` against `auth`. `verified`: see [`secret_matches`]. `no_auth_user`: the
/// user a client that presents no credentials at all is (nats-server's `no_auth_user`).
pub(crate) fn authenticate(
    auth: &Auth,
    creds: &Credentials,
    verified: Option<&str>,
    no_auth_user: Option<&str>,
) -> Outcome {
    let granted = |secret: &str, permissions: Option<&Permissions>| Outcome::Granted {
        secret: Some(secret.to_owned()),
        permissions: permissions.cloned(),
        account: None,
    };
    let denied = Outcome::Denied {
        unknown_user: false,
    };
    match auth {
        Auth::None => Outcome::Granted {
            secret: None,
            permissions: None,
            account: None,
        },
        Auth::UserPass { user, pass } => {
            if creds.user.as_deref() == Some(user.as_str())
                && secret_matches(pass, creds.pass.as_deref(), verified)
            {
                granted(pass, None)
            } else {
                denied
            }
        }
        Auth::Token(token) => {
            if secret_matches(token, creds.auth_token.as_deref(), verified) {
                granted(token, None)
            } else {
                denied
            }
        }
        Auth::Users(users) => {
            let as_user = |u: &crate::config::User, secret: Option<String>| Outcome::Granted {
                secret,
                permissions: u.permissions.clone(),
                account: u.account.clone(),
            };
            if let (true, Some(name)) = (creds.is_empty(), no_auth_user) {
                return match users.iter().find(|u| u.user == name) {
                    Some(u) => as_user(u, None),
                    None => Outcome::Denied { unknown_user: true },
                };
            }
            let Some(name) = creds.user.as_deref() else {
                return denied;
            };
            match users.iter().find(|u| u.user == name) {
                None => Outcome::Denied { unknown_user: true },
                Some(u) if secret_matches(&u.password, creds.pass.as_deref(), verified) => {
                    as_user(u, Some(u.password.clone()))
                }
                Some(_) => denied,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::User;

    fn creds(user: &str, pass: &str) -> Credentials {
        Credentials {
            user: Some(user.into()),
            pass: Some(pass.into()),
            auth_token: None,
        }
    }

    fn ok(o: Outcome) -> bool {
        matches!(o, Outcome::Granted { .. })
    }

    #[test]
    fn bcrypt_and_plain() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        assert!(hash.starts_with("$2b$"));
        let y = hash.replacen("$2b$", "$2y$", 1);
        let a = hash.replacen("$2b$", "$2a$", 1);
        let users = Auth::Users(vec![
            User {
                user: "h".into(),
                password: hash.clone(),
                permissions: None,
                account: None,
            },
            User {
                user: "y".into(),
                password: y,
                permissions: None,
                account: None,
            },
            User {
                user: "a".into(),
                password: a,
                permissions: None,
                account: None,
            },
            User {
                user: "p".into(),
                password: "plain".into(),
                permissions: None,
                account: None,
            },
        ]);
        assert!(ok(authenticate(&users, &creds("h", "s3cret"), None, None)));
        assert!(ok(authenticate(&users, &creds("y", "s3cret"), None, None)));
        assert!(ok(authenticate(&users, &creds("a", "s3cret"), None, None)));
        assert!(!ok(authenticate(&users, &creds("h", "wrong"), None, None)));
        // A hash is not a password.
        assert!(!ok(authenticate(&users, &creds("h", &hash), None, None)));
        assert!(ok(authenticate(&users, &creds("p", "plain"), None, None)));
        assert!(!ok(authenticate(&users, &creds("p", "plai"), None, None)));
        assert!(matches!(
            authenticate(&users, &creds("nobody", "plain"), None, None),
            Outcome::Denied { unknown_user: true }
        ));
        let token = Auth::Token(hash.clone());
        let t = Credentials {
            auth_token: Some("s3cret".into()),
            ..Credentials::default()
        };
        assert!(ok(authenticate(&token, &t, None, None)));
        let up = Auth::UserPass {
            user: "u".into(),
            pass: hash,
        };
        assert!(ok(authenticate(&up, &creds("u", "s3cret"), None, None)));
        assert!(!ok(authenticate(&up, &creds("v", "s3cret"), None, None)));
    }
}

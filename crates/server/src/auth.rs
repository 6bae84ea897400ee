//! Checking a client's credentials against the configured [`Auth`], as nats-server does:
//! plain-text secrets compared in constant time, bcrypt hashes (`$2a$`, `$2b$`, `$2y$`)
//! verified with the bcrypt crate, for a single user, a token, or a list of users; and nkey
//! users, whose client signs the nonce of the connection's INFO with its ed25519 key (checked
//! with the nkeys crate).

use crate::config::{Auth, JwtAuth, Permissions};
use subtle::ConstantTimeEq;

/// Credentials a client has presented (merged over every CONNECT so far).
#[derive(Default)]
pub(crate) struct Credentials {
    pub(crate) user: Option<String>,
    pub(crate) pass: Option<String>,
    pub(crate) auth_token: Option<String>,
    /// The public nkey the client claims, and its signature of `nonce`.
    pub(crate) nkey: Option<String>,
    /// Operator mode: the user JWT.
    pub(crate) jwt: Option<String>,
    pub(crate) sig: Option<String>,
    /// The nonce this connection's INFO carried (when nkey users are configured).
    pub(crate) nonce: Option<String>,
    /// `verify_and_map` is on: a users list is matched against the client certificate
    /// (`cert`; `None`: a plaintext client, or one whose certificate could not be read),
    /// not against CONNECT's user and password.
    pub(crate) map_cert: bool,
    pub(crate) cert: Option<std::sync::Arc<crate::cert_names::CertNames>>,
}

/// A connection's own limits (operator mode: a user JWT's `subs` and `payload`, or its
/// scoped signing key's template's), besides the server's. `None`: no limit of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnLimits {
    /// The most subscriptions it may hold; more are refused with `maximum subscriptions
    /// exceeded` (0: the connection is closed with that error, as nats-server does).
    pub(crate) max_subs: Option<usize>,
    /// The largest payload it may publish (the smaller of this and the server's
    /// `max_payload` applies; its INFO says so).
    pub(crate) max_payload: Option<usize>,
}

impl ConnLimits {
    /// A user's and its account's JWT limits: for each, the smaller one (-1, or any
    /// negative, is no limit), as nats-server's `minLimit`.
    pub(crate) fn from_user_and_account(who: &crate::jwt::UserIdentity) -> ConnLimits {
        let min = |user: i64, account: i64| match (user < 0, account < 0) {
            (true, _) => account,
            (false, true) => user,
            (false, false) => user.min(account),
        };
        ConnLimits::from_jwt(
            min(who.limits.subs, who.account_subs),
            min(who.limits.payload, who.account_payload),
        )
    }

    /// From a JWT's `subs` and `payload`: -1 (or any negative) is no limit.
    pub(crate) fn from_jwt(subs: i64, payload: i64) -> ConnLimits {
        let limit = |v: i64| usize::try_from(v).ok();
        ConnLimits {
            max_subs: limit(subs),
            max_payload: limit(payload),
        }
    }
}

/// What [`authenticate`] decided.
// A return value, consumed at once (never stored or collected): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outcome {
    /// In: `secret` is the configured password or token that matched (so a reload that
    /// keeps it need not run bcrypt again), `permissions` the user's.
    Granted {
        secret: Option<String>,
        permissions: Option<Permissions>,
        /// The user's account; `None`: the global one.
        account: Option<String>,
        /// The user the client certificate named (`verify_and_map`): reported as the
        /// connection's user instead of CONNECT's `user` (nats-server does the same).
        cert_user: Option<String>,
        /// Operator mode: when the user's JWT expires (Unix seconds).
        expires: Option<i64>,
        /// Operator mode: the user JWT's subscription and payload limits.
        limits: ConnLimits,
    },
    /// Out. `unknown_user`: the client named a user that is not configured (on a reload,
    /// nats-server closes such a connection without an error).
    Denied { unknown_user: bool },
    /// Out: operator mode, the user's JWT is revoked by its account (a connected user is
    /// then told `User Authentication Revoked`).
    Revoked,
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
        self.user.is_none()
            && self.pass.is_none()
            && self.auth_token.is_none()
            && self.nkey.is_none()
    }
}

/// Whether `sig` (base64, URL-safe without padding as the clients send it, or standard) is
/// `public`'s ed25519 signature of `nonce`.
pub(crate) fn nkey_signed(public: &str, nonce: &str, sig: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let Ok(key) = nkeys::KeyPair::from_public_key(public) else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| STANDARD.decode(sig))
    else {
        return false;
    };
    key.verify(nonce.as_bytes(), &sig).is_ok()
}

/// Whether `key` is a valid public nkey of a user (`U...`).
pub fn is_user_nkey(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
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
        cert_user: None,
        expires: None,
        limits: ConnLimits::default(),
    };
    let denied = Outcome::Denied {
        unknown_user: false,
    };
    match auth {
        Auth::None => Outcome::Granted {
            secret: None,
            permissions: None,
            account: None,
            cert_user: None,
            expires: None,
            limits: ConnLimits::default(),
        },
        Auth::Jwt(trust) => jwt_login(trust, creds),
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
                cert_user: None,
                expires: None,
                limits: ConnLimits::default(),
            };
            // As nats-server: an nkey the client presents goes to the nkey users; otherwise,
            // with verify_and_map, the certificate names the user (CONNECT's user name and
            // no_auth_user are not looked at), and CONNECT's password must be that user's:
            // none for a user configured without one (nats-server's comparePasswords).
            let by_nkey = creds.nkey.is_some() && users.iter().any(|u| u.nkey.is_some());
            if creds.map_cert && !by_nkey && users.iter().any(|u| u.nkey.is_none()) {
                let found = creds
                    .cert
                    .as_deref()
                    .and_then(|c| crate::tls_map::find_user(c, users));
                let given = Some(creds.pass.as_deref().unwrap_or(""));
                return match found {
                    Some(u) if secret_matches(&u.password, given, verified) => Outcome::Granted {
                        secret: Some(u.password.clone()),
                        permissions: u.permissions.clone(),
                        account: u.account.clone(),
                        cert_user: Some(u.user.clone()),
                        expires: None,
                        limits: ConnLimits::default(),
                    },
                    _ => denied,
                };
            }
            if let (true, Some(name)) = (creds.is_empty(), no_auth_user) {
                return match users.iter().find(|u| u.user == name) {
                    Some(u) => as_user(u, None),
                    None => Outcome::Denied { unknown_user: true },
                };
            }
            if let Some(key) = creds.nkey.as_deref() {
                // An nkey user: the signature of this connection's nonce proves the key.
                let Some(u) = users.iter().find(|u| u.nkey.as_deref() == Some(key)) else {
                    return Outcome::Denied { unknown_user: true };
                };
                let signed = match (creds.nonce.as_deref(), creds.sig.as_deref()) {
                    (Some(nonce), Some(sig)) => nkey_signed(key, nonce, sig),
                    _ => false,
                };
                return if signed { as_user(u, None) } else { denied };
            }
            let Some(name) = creds.user.as_deref() else {
                return denied;
            };
            // An nkey user's name is its key: it has no password to match.
            // A user configured without a password takes none, or an empty one (nats-server's
            // comparePasswords).
            let given = |u: &crate::config::User| match creds.pass.as_deref() {
                None if u.password.is_empty() => Some(""),
                given => given,
            };
            match users.iter().find(|u| u.user == name && u.nkey.is_none()) {
                None => Outcome::Denied { unknown_user: true },
                Some(u) if secret_matches(&u.password, given(u), verified) => {
                    as_user(u, Some(u.password.clone()))
                }
                Some(_) => denied,
            }
        }
    }
}

/// Operator mode: the client's user JWT, checked through its account to a trusted
/// operator, and its signature of this connection's nonce (`jwt/`). Its `subs` and `payload`
/// limits go with the grant; what it asks for that Sluice does not enforce yet (a `data`
/// limit, source networks, time windows, other connection types) refuses the login, with
/// the reason in the log.
fn jwt_login(trust: &JwtAuth, creds: &Credentials) -> Outcome {
    let denied = Outcome::Denied {
        unknown_user: false,
    };
    let operators = trusted_operators(trust);
    let login = crate::jwt::Login {
        jwt: creds.jwt.as_deref().unwrap_or_default(),
        sig: creds.sig.as_deref(),
        nonce: creds.nonce.as_deref().unwrap_or_default().as_bytes(),
    };
    let lookup = |key: &str| {
        trust
            .accounts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, jwt)| jwt.clone())
    };
    let now = i64::try_from(crate::stats::unix_nanos() / 1_000_000_000).unwrap_or(i64::MAX);
    let who = match crate::jwt::verify_user(login, lookup, &operators, now) {
        Ok(who) => who,
        Err(e) => {
            tracing::debug!(error = %e, "user JWT refused");
            return match e {
                crate::jwt::JwtError::Revoked { .. } => Outcome::Revoked,
                _ => denied,
            };
        }
    };
    if let Some(reason) = unserved_user_limits(&who) {
        tracing::warn!(user = %who.user, account = %who.account, "{reason}: login refused");
        return denied;
    }
    let limits = ConnLimits::from_user_and_account(&who);
    Outcome::Granted {
        secret: None,
        permissions: who.permissions,
        account: Some(who.account),
        cert_user: None,
        expires: who.expires,
        limits,
    }
}

/// The configured operators that check out (`jwt::verify_operator`).
pub(crate) fn trusted_operators(trust: &JwtAuth) -> Vec<crate::jwt::OperatorClaims> {
    trust
        .operators
        .iter()
        .filter_map(|o| crate::jwt::verify_operator(o).ok())
        .collect()
}

/// What a verified user's JWT asks for that Sluice does not enforce yet, if anything.
fn unserved_user_limits(who: &crate::jwt::UserIdentity) -> Option<String> {
    let l = &who.limits;
    if l.data != -1 {
        return Some(format!(
            "the user JWT's data limit {} (only -1, no limit, is served)",
            l.data
        ));
    }
    if !who.user_limits.src.is_empty() || !who.user_limits.times.is_empty() {
        return Some("the user JWT's src or times limits are not served yet".into());
    }
    let types = &who.allowed_connection_types;
    if !types.is_empty() && !types.iter().any(|t| t.eq_ignore_ascii_case("STANDARD")) {
        return Some(format!(
            "the user JWT allows only {types:?} connections (Sluice serves STANDARD ones)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::User;

    /// A JWT's -1 is no limit; 0 (also what an absent field reads as) is a limit of 0.
    #[test]
    fn jwt_limits_become_connection_limits() {
        let l = ConnLimits::from_jwt(-1, 4);
        assert_eq!((l.max_subs, l.max_payload), (None, Some(4)));
        let l = ConnLimits::from_jwt(0, 0);
        assert_eq!((l.max_subs, l.max_payload), (Some(0), Some(0)));
        assert_eq!(ConnLimits::from_jwt(-1, -1), ConnLimits::default());
    }

    /// As nats-server 2.9.10 (checked against it): a user configured without a password
    /// logs in with its name and no password, or an empty one; any other password is
    /// refused.
    #[test]
    fn a_user_without_a_password_logs_in_without_one() {
        let users = Auth::Users(vec![User {
            user: "foo".into(),
            ..User::default()
        }]);
        let ok = |c: &Credentials| {
            matches!(authenticate(&users, c, None, None), Outcome::Granted { .. })
        };
        let name_only = Credentials {
            user: Some("foo".into()),
            ..Credentials::default()
        };
        assert!(ok(&name_only));
        assert!(ok(&creds("foo", "")));
        assert!(!ok(&creds("foo", "x")));
        assert!(!ok(&creds("bar", "")));
    }

    fn creds(user: &str, pass: &str) -> Credentials {
        Credentials {
            user: Some(user.into()),
            pass: Some(pass.into()),
            ..Credentials::default()
        }
    }

    fn nkey_user(key: &nkeys::KeyPair, account: Option<&str>) -> User {
        User {
            user: key.public_key(),
            password: String::new(),
            permissions: None,
            account: account.map(str::to_owned),
            nkey: Some(key.public_key()),
        }
    }

    /// What a client sends: its public key and its signature of `nonce` (URL-safe base64
    /// without padding, as nats.go, nats.py and async-nats encode it).
    fn signed(key: &nkeys::KeyPair, nonce: &str, signed_nonce: &str) -> Credentials {
        use base64::Engine;
        let sig = key.sign(signed_nonce.as_bytes()).unwrap();
        Credentials {
            nkey: Some(key.public_key()),
            sig: Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)),
            nonce: Some(nonce.into()),
            ..Credentials::default()
        }
    }

    #[test]
    fn an_nkey_user_signs_the_nonce_of_its_own_connection() {
        let alice = nkeys::KeyPair::new_user();
        let mallory = nkeys::KeyPair::new_user();
        let users = Auth::Users(vec![nkey_user(&alice, Some("A"))]);
        let login = |c: &Credentials| authenticate(&users, c, None, None);
        match login(&signed(&alice, "n0nce", "n0nce")) {
            Outcome::Granted { account, .. } => assert_eq!(account.as_deref(), Some("A")),
            Outcome::Denied { .. } | Outcome::Revoked => panic!("a good signature is refused"),
        }
        // A signature of another nonce (replayed from another connection), or by another key.
        assert!(!ok(login(&signed(&alice, "n0nce", "other"))));
        let mut forged = signed(&mallory, "n0nce", "n0nce");
        forged.nkey = Some(alice.public_key());
        assert!(!ok(login(&forged)));
        // An unknown key; no signature; no nonce (none was sent).
        assert!(matches!(
            login(&signed(&mallory, "n0nce", "n0nce")),
            Outcome::Denied { unknown_user: true }
        ));
        let mut unsigned = signed(&alice, "n0nce", "n0nce");
        unsigned.sig = None;
        assert!(!ok(login(&unsigned)));
        let mut no_nonce = signed(&alice, "n0nce", "n0nce");
        no_nonce.nonce = None;
        assert!(!ok(login(&no_nonce)));
        // The standard base64 alphabet is taken too (nats-server falls back to it).
        let mut std_sig = signed(&alice, "n0nce", "n0nce");
        use base64::Engine;
        let raw = alice.sign(b"n0nce").unwrap();
        std_sig.sig = Some(base64::engine::general_purpose::STANDARD.encode(raw));
        assert!(ok(login(&std_sig)));
        // Its name is its key, but it has no password to match: an empty one does not.
        assert!(!ok(login(&creds(&alice.public_key(), ""))));
    }

    #[test]
    fn user_nkeys_are_recognised() {
        assert!(is_user_nkey(&nkeys::KeyPair::new_user().public_key()));
        assert!(!is_user_nkey(&nkeys::KeyPair::new_account().public_key()));
        assert!(!is_user_nkey("UNOTAKEY"));
        let seed = nkeys::KeyPair::new_user().seed().unwrap();
        assert!(!is_user_nkey(&seed), "a seed is not a public key");
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
                nkey: None,
            },
            User {
                user: "y".into(),
                password: y,
                permissions: None,
                account: None,
                nkey: None,
            },
            User {
                user: "a".into(),
                password: a,
                permissions: None,
                account: None,
                nkey: None,
            },
            User {
                user: "p".into(),
                password: "plain".into(),
                permissions: None,
                account: None,
                nkey: None,
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

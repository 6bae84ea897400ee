//! Who may connect, and into which account: the `authorization { ... }` block, nats-server's
//! `accounts { NAME { users [...] } }` block and `no_auth_user` (as nats-server's
//! `parseAuthorization`, `parseAccounts`, `parseUsers` and `validateNoAuthUser` read them).
//!
//! Every user, of the authorization block or of an account, ends up in one [`Auth::Users`]
//! list naming its account (`None`: the global account `$G`); the accounts themselves become
//! [`AccountConfig`]s, and `no_auth_user` must name one of the users. The authorization
//! block's default `permissions` apply to its own users only. As in nats-server 2.9.10, a
//! single `user`/`password` or a `token` cannot go with accounts that have users.
//!
//! An account's `exports` and `imports` are read in `exports.rs` and checked against each
//! other by `sluice_server::imports::check_accounts`; its `jetstream` in
//! `account_jetstream.rs`.
//!
//! Stricter than nats-server where it would accept something Sluice does not do: an
//! account's `limits`, `mappings`, `default_permissions` and `nkey`, and the trusted-keys
//! keys are refused as not served yet. A user name listed twice anywhere, an account named
//! `$G` and an account listed twice are errors.

use super::options::{map, permissions, positive_duration, string, unknown, wrong_type};
use super::value::{ConfError, Entry, Kind, Pos, Value};
use super::FileOptions;
use sluice_server::{AccountConfig, Auth, Export, Import, User};
use std::time::Duration;

/// The name nats-server gives its global account (reserved: no configured account has it).
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Top-level keys of nats-server's about accounts that Sluice does not serve yet (its
/// decentralised, JWT-based authentication).
pub(super) const NOT_SERVED: &[&str] = &[
    "resolver_tls",
    "resolver_pinned_accounts",
    "trusted",
    "trusted_keys",
];

/// Keys of an account block that Sluice does not serve yet.
const NOT_SERVED_IN_ACCOUNT: &[&str] = &[
    "limits",
    "mappings",
    "maps",
    "default_permissions",
    "nkey",
    "msg_trace",
    "trace_dest",
];

/// A key whose behaviour is not served yet, refused by name.
pub(super) fn not_served(entry: &Entry, block: Option<&str>) -> ConfError {
    let key = &entry.key;
    ConfError::at(
        &entry.pos,
        match block {
            None => format!("key {key:?} is not served yet"),
            Some(block) => format!("key {key:?} in {block} is not served yet"),
        },
    )
}

/// A user and where its block was written.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub user: User,
    pub pos: Pos,
}

/// What one `authorization { ... }` block says.
#[derive(Debug, Clone)]
pub(super) struct AuthBlock {
    pub auth: Auth,
    pub timeout: Option<Duration>,
    /// Where the block was written.
    pub pos: Pos,
    /// Where each of `auth`'s users was written (for a single user/password: its `user`).
    pub user_pos: Vec<Pos>,
}

/// One account of `accounts { ... }`.
#[derive(Debug, Clone)]
pub(super) struct Account {
    pub name: String,
    pub pos: Pos,
    pub users: Vec<Listed>,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
    /// `jetstream` (`account_jetstream.rs`): `Some` when enabled in the account.
    pub jetstream: Option<sluice_stream::api::types::AccountLimits>,
}

/// `authorization { user password token timeout users permissions }`.
pub(super) fn authorization(key: &str, v: &Value) -> Result<AuthBlock, ConfError> {
    let block = map(key, v)?;
    let (mut user, mut password, mut token, mut timeout) = (None, None, None, None);
    let (mut users, mut defaults) = (None, None);
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "user" | "username" => user = Some((string(k, v)?, v.pos.clone())),
            "password" | "pass" => password = Some(string(k, v)?),
            "token" => token = Some(string(k, v)?),
            "timeout" => timeout = Some(positive_duration(k, v)?),
            "users" => users = Some(users_array(k, v, None)?),
            "permissions" => defaults = Some(permissions(k, v)?),
            _ => unknown(entry, Some("authorization"))?,
        }
    }
    let here = |msg: &str| Err(ConfError::at(&v.pos, format!("authorization: {msg}")));
    let single = user.is_some() || password.is_some();
    if single && token.is_some() {
        return here("cannot have both a user/password and a token");
    }
    if token.is_some() && users.is_some() {
        return here("cannot have both a token and a users array");
    }
    if single && users.is_some() {
        return here("cannot have both a single user/password and a users array");
    }
    let mut user_pos = Vec::new();
    let auth = match (user, password, token, users) {
        (Some(_), None, _, _) => return here("user without a password"),
        (None, Some(_), _, _) => return here("password without a user"),
        (Some((user, pos)), Some(password), _, _) => {
            user_pos.push(pos);
            match &defaults {
                None => Auth::UserPass {
                    user,
                    pass: password,
                },
                Some(p) => Auth::Users(vec![User {
                    user,
                    password,
                    permissions: Some(p.clone()),
                    account: None,
                    nkey: None,
                }]),
            }
        }
        (None, None, Some(token), _) => Auth::Token(token),
        (None, None, None, Some(users)) => {
            let mut list = Vec::with_capacity(users.len());
            for Listed { mut user, pos } in users {
                if user.permissions.is_none() {
                    user.permissions.clone_from(&defaults);
                }
                list.push(user);
                user_pos.push(pos);
            }
            Auth::Users(list)
        }
        (None, None, None, None) => Auth::None,
    };
    Ok(AuthBlock {
        auth,
        timeout,
        pos: v.pos.clone(),
        user_pos,
    })
}

/// `users [ { user, password, permissions } ... ]` (or `{ nkey: U..., permissions }`), of the
/// authorization block (`account` `None`) or of an account.
fn users_array(key: &str, v: &Value, account: Option<&str>) -> Result<Vec<Listed>, ConfError> {
    let Kind::Array(items) = &v.kind else {
        return Err(wrong_type(key, v, "an array of { user, password } blocks"));
    };
    let of_account = account.map(|a| format!("a user of account {a}"));
    let block_name = of_account.as_deref().unwrap_or("a user");
    let in_account = account
        .map(|a| format!(" in account {a}"))
        .unwrap_or_default();
    let mut users: Vec<Listed> = Vec::new();
    for item in items {
        let block = map("users", item)?;
        let (mut user, mut password, mut perms, mut nkey) = (None, None, None, None);
        for entry in &block.entries {
            let (k, v) = (entry.key.as_str(), &entry.value);
            match k {
                "user" | "username" => user = Some(string(k, v)?),
                "password" | "pass" => password = Some(string(k, v)?),
                "permissions" => perms = Some(permissions(k, v)?),
                "nkey" => nkey = Some((string(k, v)?, v.pos.clone())),
                _ => unknown(entry, Some(block_name))?,
            }
        }
        if let Some((key, pos)) = &nkey {
            // nats-server's checks, in its words.
            if user.is_some() || password.is_some() {
                return Err(ConfError::at(
                    &item.pos,
                    "Nkey users do not take usernames or passwords",
                ));
            }
            if !sluice_server::is_user_nkey(key) {
                return Err(ConfError::at(pos, "Not a valid public nkey for a user"));
            }
            if users.iter().any(|u| u.user.nkey.as_ref() == Some(key)) {
                return Err(ConfError::at(
                    &item.pos,
                    format!("Duplicate nkey {key:?} detected"),
                ));
            }
            // An nkey user's name is its key (for no_auth_user and the checks below).
            user = Some(key.clone());
            password = Some(String::new());
        }
        let Some(user) = user else {
            return Err(ConfError::at(
                &item.pos,
                format!("users: a user without \"user\"{in_account}"),
            ));
        };
        // As nats-server: a user listed without a password logs in with none (or an empty
        // one), or is named by its client certificate (`tls { verify_and_map }`).
        let password = password.unwrap_or_default();
        if users.iter().any(|u| u.user.user == user) {
            return Err(ConfError::at(
                &item.pos,
                format!("users: user {user:?} is listed twice{in_account}"),
            ));
        }
        users.push(Listed {
            user: User {
                user,
                password,
                permissions: perms,
                account: account.map(str::to_owned),
                nkey: nkey.map(|(k, _)| k),
            },
            pos: item.pos.clone(),
        });
    }
    Ok(users)
}

/// `accounts { NAME { users [...] } ... }`, or `accounts [ NAME ... ]` (accounts without
/// users).
pub(super) fn accounts(key: &str, v: &Value) -> Result<Vec<Account>, ConfError> {
    let mut list: Vec<Account> = Vec::new();
    let mut add = |name: &str, pos: &Pos, block: AccountBlock| {
        if name == GLOBAL_ACCOUNT {
            return Err(ConfError::at(
                pos,
                format!("accounts: {name:?} is reserved for the global account"),
            ));
        }
        if name.is_empty() {
            return Err(ConfError::at(
                pos,
                "accounts: an account name cannot be empty",
            ));
        }
        if let Some(first) = list.iter().find(|a| a.name == name) {
            return Err(ConfError::at(
                pos,
                format!(
                    "accounts: account {name:?} is listed twice (first at {})",
                    first.pos
                ),
            ));
        }
        list.push(Account {
            name: name.to_owned(),
            pos: pos.clone(),
            users: block.users,
            exports: block.exports,
            imports: block.imports,
            jetstream: block.jetstream,
        });
        Ok(())
    };
    match &v.kind {
        Kind::Array(items) => {
            for item in items {
                let name = string("accounts", item)?;
                add(&name, &item.pos, AccountBlock::default())?;
            }
        }
        Kind::Map(block) => {
            for entry in &block.entries {
                // As nats-server: an entry there only to be a `$variable` is no account.
                if entry.used_as_variable {
                    continue;
                }
                let block = account(&entry.key, &entry.value)?;
                add(&entry.key, &entry.pos, block)?;
            }
        }
        _ => {
            return Err(wrong_type(
                key,
                v,
                "a block { NAME { users [...] } } or an array of account names",
            ))
        }
    }
    Ok(list)
}

/// What one account's block says.
#[derive(Debug, Default)]
struct AccountBlock {
    users: Vec<Listed>,
    exports: Vec<Export>,
    imports: Vec<Import>,
    /// `jetstream` (`account_jetstream.rs`): `Some` when enabled in the account.
    jetstream: Option<sluice_stream::api::types::AccountLimits>,
}

/// One account's block: its users, exports, imports and `jetstream` (the rest is refused).
fn account(name: &str, v: &Value) -> Result<AccountBlock, ConfError> {
    let place = format!("account {name}");
    let block = map(&place, v)?;
    let mut out = AccountBlock::default();
    for entry in &block.entries {
        let v = &entry.value;
        // nats-server lower-cases the keys of an account's block.
        match entry.key.to_ascii_lowercase().as_str() {
            "users" => out.users = users_array(&entry.key, v, Some(name))?,
            "exports" => out.exports = super::exports::exports(&entry.key, v)?,
            "imports" => out.imports = super::exports::imports(&entry.key, v)?,
            "jetstream" => out.jetstream = super::account_jetstream::parse(name, v)?,
            k if NOT_SERVED_IN_ACCOUNT.contains(&k) => {
                return Err(not_served(entry, Some(&place)));
            }
            _ => unknown(entry, Some(&place))?,
        }
    }
    Ok(out)
}

/// `system_account: NAME` must name a configured account, or `$SYS` (the system account
/// the server makes when none is named); nats-server's words otherwise.
pub(super) fn check_system_account(
    name: &str,
    pos: &Pos,
    accounts: Option<&[AccountConfig]>,
) -> Result<(), ConfError> {
    let known = name == "$SYS" || accounts.is_some_and(|a| a.iter().any(|a| a.name == name));
    if known {
        Ok(())
    } else {
        Err(ConfError::at(
            pos,
            "error resolving system account: account missing",
        ))
    }
}

/// Puts the authorization block, the accounts and `no_auth_user` together into `o`: one
/// list of users when accounts have users, each name once, and `no_auth_user` one of them.
pub(super) fn finish(
    authorization: Option<AuthBlock>,
    accounts: Option<Vec<Account>>,
    no_auth_user: Option<(String, Pos)>,
    o: &mut FileOptions,
) -> Result<(), ConfError> {
    o.accounts = accounts.as_ref().map(|list| {
        list.iter()
            .map(|a| AccountConfig {
                name: a.name.clone(),
                exports: a.exports.clone(),
                imports: a.imports.clone(),
            })
            .collect()
    });
    if let (Some(configs), Some(first)) = (&o.accounts, accounts.as_ref().and_then(|l| l.first())) {
        // nats-server names no position for these; the first account's will do.
        sluice_server::imports::check_accounts(configs)
            .map_err(|e| ConfError::at(&first.pos, e))?;
    }
    let accounts = accounts.unwrap_or_default();
    o.jetstream_accounts = (accounts.iter())
        .filter_map(|a| Some((a.name.clone(), a.jetstream.clone()?)))
        .collect();
    o.auth = authorization.as_ref().map(|a| a.auth.clone());
    if accounts.iter().any(|a| !a.users.is_empty()) {
        o.auth = Some(Auth::Users(all_users(authorization.as_ref(), &accounts)?));
    }
    if let Some((name, pos)) = no_auth_user {
        check_no_auth_user(&name, o.auth.as_ref()).map_err(|e| ConfError::at(&pos, e))?;
        o.no_auth_user = Some(name);
    }
    Ok(())
}

/// The authorization block's users (in `$G`) and the accounts' (at least one), each name
/// once.
fn all_users(
    authorization: Option<&AuthBlock>,
    accounts: &[Account],
) -> Result<Vec<User>, ConfError> {
    let global = || "the authorization block".to_owned();
    let mut all: Vec<(User, Pos, String)> = match authorization {
        None => Vec::new(),
        Some(block) => match &block.auth {
            // An authorization block never reads as operator mode.
            Auth::None | Auth::Jwt(_) => Vec::new(),
            // nats-server 2.9.10's checks, in its words (it accepts either with accounts
            // that have no users).
            Auth::Token(_) => {
                return Err(ConfError::at(
                    &block.pos,
                    "Can not have a token and accounts",
                ))
            }
            Auth::UserPass { .. } => {
                return Err(ConfError::at(
                    &block.pos,
                    "Can not have a single user/pass and accounts",
                ))
            }
            Auth::Users(users) => users
                .iter()
                .zip(&block.user_pos)
                .map(|(u, pos)| (u.clone(), pos.clone(), global()))
                .collect(),
        },
    };
    for account in accounts {
        let place = format!("account {}", account.name);
        for listed in &account.users {
            let name = &listed.user.user;
            if let Some((_, first_pos, first_place)) = all.iter().find(|(u, ..)| u.user == *name) {
                return Err(ConfError::at(
                    &listed.pos,
                    format!(
                        "users: user {name:?} is listed twice: in {place}, and in \
                         {first_place} at {first_pos}"
                    ),
                ));
            }
            all.push((listed.user.clone(), listed.pos.clone(), place.clone()));
        }
    }
    Ok(all.into_iter().map(|(u, ..)| u).collect())
}

/// nats-server's `validateNoAuthUser`, in its words: `name` must be one of the users.
fn check_no_auth_user(name: &str, auth: Option<&Auth>) -> Result<(), String> {
    match auth {
        Some(Auth::Users(users)) if users.iter().any(|u| u.user == name) => Ok(()),
        Some(Auth::Users(_)) => Err(format!(
            "no_auth_user: \"{name}\" not present as user or nkey in authorization block or \
             account configuration"
        )),
        _ => Err(format!(
            "no_auth_user: \"{name}\" present, but users/nkeys are not defined"
        )),
    }
}

/// The authentication `--user`/`--pass` or `--auth` give, in place of the file's
/// authorization block: the file's accounts keep their users (a token cannot go with them),
/// and the file's `no_auth_user` must still name a user.
pub fn under_flags(flags: Auth, file: &FileOptions) -> Result<Auth, String> {
    let account_users: Vec<&User> = match &file.auth {
        Some(Auth::Users(users)) => users.iter().filter(|u| u.account.is_some()).collect(),
        _ => Vec::new(),
    };
    let auth = match account_users.first() {
        None => flags,
        Some(first) => {
            let account = first.account.as_deref().unwrap_or_default();
            let mut all = match flags {
                Auth::Token(_) => {
                    return Err(format!(
                        "--auth (a token) cannot be used with users in accounts (user {:?} of \
                         account {account} in the configuration file)",
                        first.user
                    ))
                }
                Auth::UserPass { user, pass } => vec![User {
                    user,
                    password: pass,
                    permissions: None,
                    account: None,
                    nkey: None,
                }],
                Auth::Users(users) => users,
                // Flags never give operator mode.
                Auth::None | Auth::Jwt(_) => Vec::new(),
            };
            for u in account_users {
                if all.iter().any(|a| a.user == u.user) {
                    return Err(format!(
                        "--user {:?} is also a user of account {} in the configuration file",
                        u.user,
                        u.account.as_deref().unwrap_or_default()
                    ));
                }
                all.push(u.clone());
            }
            Auth::Users(all)
        }
    };
    if let Some(name) = &file.no_auth_user {
        check_no_auth_user(name, Some(&auth))?;
    }
    Ok(auth)
}

#[cfg(test)]
#[path = "accounts_tests.rs"]
mod tests;

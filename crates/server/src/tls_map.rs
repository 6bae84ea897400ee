//! `tls { verify_and_map: true }`: the verified client certificate names the user, as
//! nats-server 2.9.10 finds it (`checkClientTLSCertSubject` and the callback of
//! `processClientOrLeafAuthentication` in its `server/auth.go`, `internal/ldap/dn.go`).
//! Candidates are tried in this order, the first user found wins:
//!
//! 1. each SAN email address, then each SAN DNS name, then each SAN URI, as a user name;
//! 2. the subject as a distinguished name: each user whose name parses as an RFC 4514 DN
//!    (`CN=alice,OU=dev,O=Acme,DC=example,DC=com`) equal to the subject (RDN by RDN from the
//!    least significant; attribute types case-insensitive, values exact, the attributes of
//!    a multi-valued RDN in any order), then one with the same RDNs in another order. Only
//!    subjects whose every attribute is CN, SERIALNUMBER, C, L, ST, STREET, O, OU,
//!    POSTALCODE or DC take part;
//! 3. if the subject has `DC` attributes: the subject as Go's `pkix.Name` prints it (below)
//!    followed by `,DC=...` for each DC in certificate order, as a user name;
//! 4. the subject as Go's `pkix.Name.ToRDNSequence().String()`: the attributes Go knows,
//!    grouped by type (several values of one type make one multi-valued RDN, `OU=a+OU=b`),
//!    most specific first: `SERIALNUMBER`, `CN`, `OU`, `O`, `POSTALCODE`, `STREET`, `L`,
//!    `ST`, `C`, with `,+"\<>;` escaped by a backslash, as are a leading or trailing space
//!    and a leading `#` (so `CN=alice,OU=dev,O=Acme`).
//!
//! A certificate with no email, no URI and an empty subject matches nobody, even by DNS
//! name (as in nats-server). nkey users are not candidates (they prove their key instead).
//! The user found still has its password checked against CONNECT's (`auth.rs`): a user
//! configured without one takes a client that sends none.

use crate::cert_names::{Attr, CertNames};
use crate::config::User;

const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// The short name of an attribute type in nats-server's ldap DNs.
fn ldap_type(oid: &str) -> Option<&'static str> {
    Some(match oid {
        OID_DC => "DC",
        _ => go_type(oid)?,
    })
}

/// The short name Go's `pkix` prints for an attribute type it knows.
fn go_type(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// The subject as Go's `pkix.Name.ToRDNSequence().String()` prints it (step 4 above).
pub(crate) fn go_subject_string(subject: &[Vec<Attr>]) -> String {
    let values = |oid: &str| -> Vec<&str> {
        subject
            .iter()
            .flatten()
            .filter(|a| a.oid == oid)
            .filter_map(|a| a.value.as_deref())
            .collect()
    };
    let last = |oid: &str| values(oid).last().map(|v| vec![*v]).unwrap_or_default();
    // ToRDNSequence's order; CommonName and SerialNumber keep only the last value.
    let sequence: [(&str, Vec<&str>); 9] = [
        ("C", values("2.5.4.6")),
        ("ST", values("2.5.4.8")),
        ("L", values("2.5.4.7")),
        ("STREET", values("2.5.4.9")),
        ("POSTALCODE", values("2.5.4.17")),
        ("O", values("2.5.4.10")),
        ("OU", values("2.5.4.11")),
        ("CN", last("2.5.4.3")),
        ("SERIALNUMBER", last("2.5.4.5")),
    ];
    sequence
        .iter()
        .rev()
        .filter(|(_, vals)| !vals.is_empty())
        .map(|(ty, vals)| {
            vals.iter()
                .map(|v| format!("{ty}={}", escape(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's RFC 2253 escaping of an attribute value.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.char_indices() {
        let escaped = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i == v.len() - 1,
            '#' => i == 0,
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `DC=a,DC=b` for the subject's domain components, in certificate order (step 3).
fn go_dcs(subject: &[Vec<Attr>]) -> String {
    subject
        .iter()
        .flatten()
        .filter(|a| a.oid == OID_DC)
        .filter_map(|a| a.value.as_deref().map(|v| format!("DC={v}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A distinguished name: RDNs from the least significant (as written in RFC 4514), each a
/// list of (type, value).
pub(crate) type Dn = Vec<Vec<(String, String)>>;

/// The subject as nats-server's `ldap.FromRawCertSubject` reads it: RDNs reversed; `None`
/// if an attribute has a type outside its list or a value that is not a string.
pub(crate) fn subject_dn(subject: &[Vec<Attr>]) -> Option<Dn> {
    subject
        .iter()
        .rev()
        .filter(|rdn| !rdn.is_empty())
        .map(|rdn| {
            rdn.iter()
                .rev()
                .map(|a| Some((ldap_type(&a.oid)?.to_owned(), a.value.clone()?)))
                .collect()
        })
        .collect()
}

/// Parses a user name as nats-server's `ldap.ParseDN` does (RFC 4514, `\`-escapes and
/// `\XX` hex octets; `#` BER values refused); `None` when it is not a DN.
pub(crate) fn parse_dn(s: &str) -> Option<Dn> {
    let bytes = s.as_bytes();
    let mut dn = Vec::new();
    let mut rdn = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut ty: Option<String> = None;
    let mut trailing = 0usize;
    let take = |buf: &mut Vec<u8>, trailing: &mut usize| {
        let keep = buf.len() - *trailing;
        let s = String::from_utf8_lossy(&buf[..keep]).into_owned();
        buf.clear();
        *trailing = 0;
        s
    };
    let mut i = 0;
    let mut escaping = false;
    while i < bytes.len() {
        let c = bytes[i];
        if escaping {
            trailing = 0;
            escaping = false;
            if b" \"#+,;<=>\\".contains(&c) {
                buf.push(c);
            } else {
                let hex = bytes.get(i..i + 2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                buf.push(u8::from_str_radix(hex, 16).ok()?);
                i += 1;
            }
        } else if c == b'\\' {
            trailing = 0;
            escaping = true;
        } else if c == b'=' {
            ty = Some(take(&mut buf, &mut trailing));
            if bytes.get(i + 1) == Some(&b'#') {
                return None;
            }
        } else if c == b',' || c == b'+' {
            let t = ty.take().filter(|t| !t.is_empty())?;
            rdn.push((t, take(&mut buf, &mut trailing)));
            if c == b',' {
                dn.push(std::mem::take(&mut rdn));
            }
        } else if c == b' ' && buf.is_empty() {
            // leading spaces are dropped
        } else {
            trailing = if c == b' ' { trailing + 1 } else { 0 };
            buf.push(c);
        }
        i += 1;
    }
    if !buf.is_empty() {
        let t = ty.take().filter(|t| !t.is_empty())?;
        rdn.push((t, take(&mut buf, &mut trailing)));
        dn.push(rdn);
    }
    Some(dn)
}

/// Whether two RDNs hold the same attributes (types case-insensitive, values exact).
fn rdn_equal(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let has = |x: &[(String, String)], (t, v): &(String, String)| {
        x.iter()
            .any(|(xt, xv)| xt.eq_ignore_ascii_case(t) && xv == v)
    };
    a.len() == b.len() && a.iter().all(|p| has(b, p)) && b.iter().all(|p| has(a, p))
}

/// nats-server's `DN.Equal`: the same RDNs in the same order.
fn dn_equal(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rdn_equal(x, y))
}

/// nats-server's `DN.RDNsMatch`: every RDN of `a` is somewhere in `b` (same count).
fn dn_rdns_match(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| rdn_equal(x, y)))
}

/// The user `cert` names among `users` (see the module's doc for the order), if any.
pub(crate) fn find_user<'a>(cert: &CertNames, users: &'a [User]) -> Option<&'a User> {
    let candidates: Vec<&User> = users.iter().filter(|u| u.nkey.is_none()).collect();
    let by_name = |name: &str| candidates.iter().copied().find(|u| u.user == name);
    let subject_empty = cert.subject.iter().all(Vec::is_empty);
    if cert.emails.is_empty() && cert.uris.is_empty() && subject_empty {
        return None;
    }
    let sans = cert.emails.iter().chain(&cert.dns).chain(&cert.uris);
    if let Some(u) = sans.into_iter().find_map(|n| by_name(n)) {
        return Some(u);
    }
    if let Some(subject) = subject_dn(&cert.subject) {
        let parsed: Vec<(&User, Dn)> = candidates
            .iter()
            .filter_map(|u| Some((*u, parse_dn(&u.user)?)))
            .collect();
        if let Some((u, _)) = parsed.iter().find(|(_, dn)| dn_equal(dn, &subject)) {
            return Some(u);
        }
        if let Some((u, _)) = parsed.iter().find(|(_, dn)| dn_rdns_match(dn, &subject)) {
            return Some(u);
        }
    }
    let rdn = go_subject_string(&cert.subject);
    let dcs = go_dcs(&cert.subject);
    if !dcs.is_empty() {
        if let Some(u) = by_name(&format!("{rdn},{dcs}")) {
            return Some(u);
        }
    }
    by_name(&rdn)
}

#[cfg(test)]
#[path = "tls_map_tests.rs"]
mod tests;

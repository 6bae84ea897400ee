//! verify_and_map: reading a certificate's names, Go's subject string, nats-server's DN
//! matching, and the order in which candidates are tried.

use super::*;
use crate::auth::{authenticate, Credentials, Outcome};
use crate::cert_names::{parse, parse_name};
use crate::config::Auth;
use rcgen::{CertificateParams, DnType, Ia5String, KeyPair, SanType};
use std::sync::Arc;

const CN: &[u8] = &[0x55, 0x04, 0x03];
const OU: &[u8] = &[0x55, 0x04, 0x0b];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 0x80);
    let mut v = vec![tag, body.len() as u8];
    v.extend_from_slice(body);
    v
}

/// A DER Name from RDNs of (type OID bytes, UTF8String value), in certificate order.
fn name(rdns: &[&[(&[u8], &str)]]) -> Vec<u8> {
    let sets: Vec<u8> = rdns
        .iter()
        .flat_map(|rdn| {
            let atvs: Vec<u8> = rdn
                .iter()
                .flat_map(|(oid, v)| der(0x30, &[der(0x06, oid), der(0x0c, v.as_bytes())].concat()))
                .collect();
            der(0x31, &atvs)
        })
        .collect();
    der(0x30, &sets)
}

fn user(name: &str) -> User {
    User {
        user: name.into(),
        ..User::default()
    }
}

fn users(names: &[&str]) -> Vec<User> {
    names.iter().map(|n| user(n)).collect()
}

fn found<'a>(cert: &CertNames, list: &'a [User]) -> Option<&'a str> {
    find_user(cert, list).map(|u| u.user.as_str())
}

fn cert_der(params: CertificateParams) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn ia5(s: &str) -> Ia5String {
    Ia5String::try_from(s).unwrap()
}

/// alice@acme.test, alice.acme.test, spiffe://acme.test/alice; DC=test,DC=acme,O=Acme,OU=dev,CN=alice
/// (rcgen keeps one value per type, so one DC).
fn alice() -> CertNames {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![
        SanType::Rfc822Name(ia5("alice@acme.test")),
        SanType::DnsName(ia5("alice.acme.test")),
        SanType::URI(ia5("spiffe://acme.test/alice")),
    ];
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(
        DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
        "test",
    );
    p.distinguished_name.push(DnType::OrganizationName, "Acme");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "dev");
    p.distinguished_name.push(DnType::CommonName, "alice");
    parse(&cert_der(p)).expect("rcgen's certificate is read")
}

#[test]
fn an_rcgen_certificate_is_read() {
    let c = alice();
    assert_eq!(c.emails, ["alice@acme.test"]);
    assert_eq!(c.dns, ["alice.acme.test"]);
    assert_eq!(c.uris, ["spiffe://acme.test/alice"]);
    assert_eq!(go_subject_string(&c.subject), "CN=alice,OU=dev,O=Acme");
    assert_eq!(
        subject_dn(&c.subject).unwrap(),
        parse_dn("CN=alice,OU=dev,O=Acme,DC=test").unwrap()
    );
}

#[test]
fn candidates_are_tried_email_dns_uri_dn_then_subject_strings() {
    let c = alice();
    let mut list = users(&[
        "CN=alice,OU=dev,O=Acme",
        "CN=alice,OU=dev,O=Acme,DC=test",
        "spiffe://acme.test/alice",
        "alice.acme.test",
        "alice@acme.test",
        "alice",
    ]);
    let order = [
        "alice@acme.test",
        "alice.acme.test",
        "spiffe://acme.test/alice",
        // The DN match (also the step-3 string here: one DC).
        "CN=alice,OU=dev,O=Acme,DC=test",
        "CN=alice,OU=dev,O=Acme",
    ];
    for want in order {
        assert_eq!(found(&c, &list), Some(want));
        list.retain(|u| u.user != want);
    }
    assert_eq!(found(&c, &list), None, "a CN alone is not the subject");
}

#[test]
fn nkey_users_and_passwords_play_no_part() {
    let c = alice();
    let mut u = user("alice@acme.test");
    u.nkey = Some("UABC".into());
    assert_eq!(found(&c, &[u]), None);
    let mut with_password = user("alice@acme.test");
    with_password.password = "secret".into();
    assert_eq!(found(&c, &[with_password]), Some("alice@acme.test"));
}

#[test]
fn multi_valued_rdns_and_several_values_of_a_type() {
    // Certificate order: DC=com, DC=example, O=Acme, OU=dev, OU=ops, CN=alice+OU=x.
    let der = name(&[
        &[(DC, "com")],
        &[(DC, "example")],
        &[(O, "Acme")],
        &[(OU, "dev")],
        &[(OU, "ops")],
        &[(CN, "alice"), (OU, "x")],
    ]);
    let s = parse_name(&der).unwrap();
    assert_eq!(s.len(), 6);
    // Go groups by type: the OUs make one RDN, in certificate order.
    assert_eq!(go_subject_string(&s), "CN=alice,OU=dev+OU=ops+OU=x,O=Acme");
    // DCs appended in certificate order (not RFC 4514's).
    let c = CertNames {
        subject: s.clone(),
        ..CertNames::default()
    };
    let step3 = "CN=alice,OU=dev+OU=ops+OU=x,O=Acme,DC=com,DC=example";
    assert_eq!(found(&c, &users(&[step3])), Some(step3));
    // The DN match: RFC 4514 order, the multi-valued RDN's attributes in any order, types
    // in any case, spaces after separators dropped.
    let rfc = "ou=x+CN=alice, OU=ops, OU=dev, O=Acme, DC=example, DC=com";
    assert_eq!(found(&c, &users(&[step3, rfc])), Some(rfc));
    // RDNs reordered: matched too (after any exact DN).
    let reordered = "DC=com,DC=example,O=Acme,OU=dev,OU=ops,CN=alice+OU=x";
    assert_eq!(found(&c, &users(&[reordered])), Some(reordered));
    let exact = "CN=alice+OU=x,OU=ops,OU=dev,O=Acme,DC=example,DC=com";
    assert_eq!(found(&c, &users(&[reordered, exact])), Some(exact));
    // Values are exact; a missing or extra RDN is another DN.
    for other in [
        "CN=Alice+OU=x,OU=ops,OU=dev,O=Acme,DC=example,DC=com",
        "CN=alice+OU=x,OU=ops,OU=dev,O=Acme,DC=example",
        "CN=alice,OU=x,OU=ops,OU=dev,O=Acme,DC=example,DC=com",
    ] {
        assert_eq!(found(&c, &users(&[other])), None, "{other}");
    }
}

#[test]
fn unknown_attribute_types_leave_out_the_dn_match() {
    let s = parse_name(&name(&[&[(O, "Acme")], &[(UID, "a1")], &[(CN, "alice")]])).unwrap();
    assert!(subject_dn(&s).is_none());
    let c = CertNames {
        subject: s,
        ..CertNames::default()
    };
    // Go's string has no UID either.
    assert_eq!(
        found(&c, &users(&["CN=alice,O=Acme"])),
        Some("CN=alice,O=Acme")
    );
    assert_eq!(found(&c, &users(&["CN=alice,UID=a1,O=Acme"])), None);
}

#[test]
fn go_escapes_values() {
    let s = parse_name(&name(&[&[(O, "#Acme, Inc.")], &[(CN, " a+b<c>;\"\\ ")]])).unwrap();
    assert_eq!(
        go_subject_string(&s),
        r#"CN=\ a\+b\<c\>\;\"\\\ ,O=\#Acme\, Inc."#
    );
    // And nats-server's ldap parser reads such a name back.
    let c = CertNames {
        subject: s,
        ..CertNames::default()
    };
    let dn = r#"CN=\ a\+b\<c\>\;\"\\\ ,O=\23Acme\2C Inc."#;
    assert_eq!(found(&c, &users(&[dn])), Some(dn));
}

#[test]
fn parse_dn_as_nats_server() {
    let pair = |t: &str, v: &str| (t.to_owned(), v.to_owned());
    assert_eq!(
        parse_dn("CN=a b  ,O=x\\2cy").unwrap(),
        vec![vec![pair("CN", "a b")], vec![pair("O", "x,y")]]
    );
    assert_eq!(parse_dn("alice"), None, "not a DN");
    assert_eq!(parse_dn("CN=#0403"), None, "BER values are refused");
    // A dangling backslash is dropped (nats-server's parser ends before it looks).
    assert_eq!(parse_dn("CN=a\\").unwrap(), vec![vec![pair("CN", "a")]]);
    assert_eq!(parse_dn("CN=a\\2"), None);
    assert_eq!(parse_dn("CN=a\\zz"), None);
    assert_eq!(parse_dn("=a"), None);
    assert_eq!(parse_dn("").unwrap(), Vec::<Vec<(String, String)>>::new());
}

#[test]
fn malformed_certificates_are_none_not_panics() {
    let p = CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
    let good = cert_der(p);
    assert!(parse(&good).is_some());
    for len in 0..good.len() {
        assert!(parse(&good[..len]).is_none(), "truncated at {len}");
    }
    let mut flipped = good.clone();
    for i in 0..flipped.len() {
        flipped[i] ^= 0xff;
        let _ = parse(&flipped);
        flipped[i] ^= 0xff;
    }
    assert!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
}

#[test]
fn an_empty_subject_without_email_or_uri_matches_nobody() {
    let c = CertNames {
        dns: vec!["a.test".into()],
        ..CertNames::default()
    };
    assert_eq!(found(&c, &users(&["a.test"])), None);
    let c = CertNames {
        uris: vec!["urn:a".into()],
        dns: vec!["a.test".into()],
        ..CertNames::default()
    };
    assert_eq!(found(&c, &users(&["a.test"])), Some("a.test"));
}

#[test]
fn authenticate_maps_the_certificate_instead_of_connects_user() {
    let mut alice_user = user("alice@acme.test");
    alice_user.account = Some("A".into());
    let auth = Auth::Users(vec![alice_user, user("bob")]);
    let mapped = |cert: Option<CertNames>, user: Option<&str>| Credentials {
        map_cert: true,
        cert: cert.map(Arc::new),
        user: user.map(str::to_owned),
        pass: user.map(|_| String::new()),
        ..Credentials::default()
    };
    match authenticate(
        &auth,
        &mapped(Some(alice()), Some("bob")),
        None,
        Some("bob"),
    ) {
        Outcome::Granted {
            account, cert_user, ..
        } => {
            assert_eq!(account.as_deref(), Some("A"));
            // Reported as the connection's user (events), not CONNECT's "bob".
            assert_eq!(cert_user.as_deref(), Some("alice@acme.test"));
        }
        Outcome::Denied { .. } | Outcome::Revoked => panic!("alice's certificate is refused"),
    }
    let denied = |c: &Credentials| {
        matches!(
            authenticate(&auth, c, None, Some("bob")),
            Outcome::Denied { .. }
        )
    };
    // No certificate (a plaintext client with allow_non_tls): no user, not even
    // no_auth_user or CONNECT's.
    assert!(denied(&mapped(None, Some("bob"))));
    assert!(denied(&mapped(None, None)));
    let stranger = CertNames {
        emails: vec!["eve@acme.test".into()],
        ..CertNames::default()
    };
    assert!(denied(&mapped(Some(stranger), None)));
    // CONNECT's password must be the mapped user's: none for one configured without.
    let mut with_pass = mapped(Some(alice()), None);
    with_pass.pass = Some("x".into());
    assert!(denied(&with_pass));
    let mut secret = user("alice@acme.test");
    secret.password = "s3cret".into();
    let auth_pw = Auth::Users(vec![secret]);
    let pw_ok = |pass: Option<&str>| {
        let mut c = mapped(Some(alice()), None);
        c.pass = pass.map(str::to_owned);
        matches!(
            authenticate(&auth_pw, &c, None, None),
            Outcome::Granted { .. }
        )
    };
    assert!(pw_ok(Some("s3cret")));
    assert!(!pw_ok(Some("wrong")));
    assert!(!pw_ok(None));
    // Without verify_and_map, the same certificate means nothing.
    let mut plain = mapped(Some(alice()), Some("bob"));
    plain.map_cert = false;
    assert!(!denied(&plain), "bob with an empty password, as configured");
}

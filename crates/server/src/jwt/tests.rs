//! Decoding, `.creds` and permission conversion, on tokens written by sluice-jwt-fixtures.

use super::*;
use crate::config;
use sluice_jwt_fixtures::{
    claims_json, replace_claims, swap_signature, AccountFixture, KeyPair, OperatorFixture,
    UserFixture,
};
use std::time::Duration;

#[test]
fn an_operator_jwt_decodes_with_its_signing_keys() {
    let op = OperatorFixture::with("OP", |c| {
        c.nats.system_account = Some("ASYS".into());
        c.nats.account_server_url = Some("http://example/jwt/v1".into());
    });
    let claims = decode_operator(&op.jwt).unwrap();
    assert_eq!(claims.public_key(), op.public_key());
    assert_eq!(claims.claims.issuer, op.public_key());
    assert_eq!(claims.claims.name, "OP");
    assert_eq!(claims.nats.signing_keys, vec![op.signing_key.public_key()]);
    assert_eq!(claims.nats.system_account, "ASYS");
    assert_eq!(claims.nats.account_server_url, "http://example/jwt/v1");
    assert!(claims.trusts(&op.public_key()));
    assert!(claims.trusts(&op.signing_key.public_key()));
    assert!(!claims.trusts(&KeyPair::new_operator().public_key()));
}

#[test]
fn an_account_jwt_decodes_limits_keys_and_revocations() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.account.as_mut().unwrap().conn = Some(7);
        limits.nats.as_mut().unwrap().payload = Some(1024);
        limits.jetstream = Some(sluice_jwt_fixtures::nats_jwt_rs::account::JetStreamLimits {
            memory_storage: Some(1 << 20),
            disk_storage: Some(-1),
            streams: Some(3),
            consumer: Some(4),
            max_bytes_required: Some(true),
            ..Default::default()
        });
        c.nats.revocations = Some([("UX".to_string(), 42u64)].into_iter().collect());
    });
    let claims = decode_account(&acc.jwt).unwrap();
    assert_eq!(claims.public_key(), acc.public_key());
    let l = &claims.nats.limits;
    assert_eq!((l.conn, l.payload, l.subs, l.leaf), (7, 1024, -1, -1));
    assert!(l.wildcards);
    assert_eq!(l.jetstream.mem_storage, 1 << 20);
    assert_eq!(l.jetstream.disk_storage, -1);
    assert_eq!((l.jetstream.streams, l.jetstream.consumer), (3, 4));
    assert!(l.jetstream.max_bytes_required);
    assert_eq!(claims.nats.revocations.get("UX"), Some(&42));
    assert_eq!(claims.nats.signing_keys.len(), 1);
    assert_eq!(
        claims.nats.signing_keys[0].key,
        acc.signing_key.public_key()
    );
    assert_eq!(claims.nats.signing_keys[0].scope, None);
}

#[test]
fn a_scoped_signing_key_decodes_with_its_template() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let mut json = claims_json(&acc.jwt);
    json["nats"]["signing_keys"] = serde_json::json!([
        "AKEY",
        {"kind": "user_scope", "key": "ASCOPED", "role": "dev",
         "template": {"pub": {"allow": ["dev.>"]}, "subs": 5}}
    ]);
    let forged = replace_claims(&acc.jwt, &json);
    // The claims no longer match the signature...
    assert!(matches!(
        decode_account(&forged),
        Err(JwtError::Signature { .. })
    ));
    // ...but their JSON is what a scoped key looks like.
    let nats: Account = serde_json::from_value(json["nats"].clone()).unwrap();
    assert_eq!(nats.signing_keys[0].key, "AKEY");
    let scope = nats.signing_keys[1].scope.as_ref().unwrap();
    assert_eq!(
        (scope.key.as_str(), scope.role.as_str()),
        ("ASCOPED", "dev")
    );
    assert_eq!(scope.template.permissions.publish.allow, vec!["dev.>"]);
    assert_eq!(scope.template.limits.subs, 5);
}

#[test]
fn a_user_jwt_decodes_permissions_and_limits() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let user = UserFixture::with("alice", &acc.key, |c| {
        let p = &mut c.nats.permissions;
        p.permissions.publish.allow = vec!["a.>".into()];
        p.permissions.subscribe.deny = vec!["secret".into()];
        p.permissions.resp = Some(sluice_jwt_fixtures::ResponsePermission {
            max_messages: 3,
            ttl: Duration::from_secs(5),
        });
        p.bearer_token = Some(true);
        p.allowed_connection_types = Some(vec!["STANDARD".into()]);
    });
    let claims = decode_user(&user.jwt).unwrap();
    assert_eq!(claims.claims.subject, user.public_key());
    assert_eq!(claims.account(), acc.public_key());
    let l = &claims.nats.limits;
    assert_eq!(l.permissions.publish.allow, vec!["a.>"]);
    assert_eq!(l.permissions.subscribe.deny, vec!["secret"]);
    assert_eq!(
        l.permissions.resp,
        Some(ResponsePermission {
            max_msgs: 3,
            ttl_nanos: 5_000_000_000
        })
    );
    assert_eq!(
        (l.limits.subs, l.limits.data, l.limits.payload),
        (-1, -1, -1)
    );
    assert!(l.bearer_token);
    assert_eq!(l.allowed_connection_types, vec!["STANDARD"]);
}

#[test]
fn absent_limits_are_zero_and_src_reads_both_spellings() {
    let user: User = serde_json::from_str(r#"{"src": "10.0.0.0/8, 192.168.1.1/32"}"#).unwrap();
    assert_eq!(user.limits.limits, NatsLimits::default());
    assert_eq!(
        user.limits.user_limits.src,
        vec!["10.0.0.0/8", "192.168.1.1/32"]
    );
    let user: User = serde_json::from_str(
        r#"{"src": ["10.0.0.0/8"], "times": [{"start": "08:00:00", "end": "17:00:00"}],
            "times_location": "UTC", "some_future_field": {"x": 1}}"#,
    )
    .unwrap();
    assert_eq!(user.limits.user_limits.src, vec!["10.0.0.0/8"]);
    assert_eq!(user.limits.user_limits.times[0].end, "17:00:00");
    assert_eq!(user.limits.user_limits.locale, "UTC");
}

#[test]
fn malformed_tokens_say_what_is_wrong() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let user = UserFixture::new("u", &acc.key);
    assert_eq!(decode_user("a.b"), Err(JwtError::Parts(2)));
    assert_eq!(
        decode_user("!!.b.c"),
        Err(JwtError::Base64 { part: "header" })
    );
    let (h, rest) = user.jwt.split_once('.').unwrap();
    let bad_header = format!(
        "{}.{rest}",
        sluice_jwt_fixtures::base64url(br#"{"typ":"JWT","alg":"HS256"}"#)
    );
    assert_eq!(
        decode_user(&bad_header),
        Err(JwtError::Algorithm("HS256".into()))
    );
    let other = UserFixture::new("v", &acc.key);
    assert_eq!(
        decode_user(&swap_signature(&user.jwt, &other.jwt)),
        Err(JwtError::Signature {
            issuer: acc.public_key()
        })
    );
    // A user JWT is no account JWT.
    assert!(matches!(
        decode_account(&user.jwt),
        Err(JwtError::KeyType { what: "issuer", .. })
    ));
    // An account JWT is no operator JWT, even with the right issuer kind.
    assert!(matches!(
        decode_operator(&acc.jwt),
        Err(JwtError::ClaimType {
            expected: ClaimType::Operator,
            got: "account"
        })
    ));
    // A newer version is refused.
    let mut json = claims_json(&user.jwt);
    json["nats"]["version"] = 3.into();
    assert_eq!(
        decode_user(&replace_claims(&user.jwt, &json)),
        Err(JwtError::Version(3))
    );
    assert!(h.starts_with("eyJ"));
}

#[test]
fn creds_text_gives_the_jwt_and_seed() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let user = UserFixture::new("u", &acc.key);
    let creds = parse_creds(&user.creds()).unwrap();
    assert_eq!(creds.jwt, user.jwt);
    assert_eq!(creds.seed, user.seed());
    assert!(
        !format!("{creds:?}").contains(&user.seed()),
        "Debug hides the seed"
    );
    let crlf = user.creds().replace('\n', "\r\n");
    assert_eq!(parse_creds(&crlf).unwrap().jwt, user.jwt);
    let jwt_only = user.creds().split("*****").next().unwrap().to_owned();
    assert_eq!(
        parse_creds(&jwt_only),
        Err(JwtError::CredsBlock("nkey seed"))
    );
    assert_eq!(parse_creds("nothing"), Err(JwtError::CredsBlock("JWT")));
    let account_seed = sluice_jwt_fixtures::creds(&user.jwt, &acc.key.seed().unwrap());
    assert_eq!(parse_creds(&account_seed), Err(JwtError::CredsSeed));
    assert_eq!(parse_decorated_jwt(&format!("  {}\n", op.jwt)), op.jwt);
    let decorated = format!(
        "-----BEGIN NATS OPERATOR JWT-----\n{}\n------END NATS OPERATOR JWT------\n",
        op.jwt
    );
    assert_eq!(parse_decorated_jwt(&decorated), op.jwt);
}

#[test]
fn jwt_permissions_convert_as_nats_server_builds_them() {
    assert_eq!(to_config_permissions(&Permissions::default()), None);
    let p = Permissions {
        publish: Permission {
            allow: vec!["a.>".into()],
            deny: vec!["a.b".into()],
        },
        subscribe: Permission::default(),
        resp: Some(ResponsePermission::default()),
    };
    assert_eq!(
        to_config_permissions(&p),
        Some(config::Permissions {
            publish: Some(config::SubjectPermission {
                allow: vec!["a.>".into()],
                deny: vec!["a.b".into()],
            }),
            subscribe: None,
            allow_responses: Some(config::ResponsePermission {
                max: 1,
                expires: Duration::from_secs(120)
            }),
        })
    );
    let p = Permissions {
        subscribe: Permission {
            allow: vec![],
            deny: vec!["x".into()],
        },
        resp: Some(ResponsePermission {
            max_msgs: 5,
            ttl_nanos: 1_000_000_000,
        }),
        ..Permissions::default()
    };
    let c = to_config_permissions(&p).unwrap();
    assert_eq!(c.publish, None);
    assert_eq!(c.subscribe.unwrap().deny, vec!["x"]);
    assert_eq!(
        c.allow_responses,
        Some(config::ResponsePermission {
            max: 5,
            expires: Duration::from_secs(1)
        })
    );
}

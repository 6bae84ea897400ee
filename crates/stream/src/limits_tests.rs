//! The limit decisions, case by case, with nats-server 2.9.10's outcomes.

use super::*;

fn file(max_bytes: i64) -> StreamAsk {
    StreamAsk {
        storage: StorageType::File,
        max_bytes,
        max_consumers: -1,
        replicas: 1,
    }
}

fn mem(max_bytes: i64) -> StreamAsk {
    StreamAsk {
        storage: StorageType::Memory,
        ..file(max_bytes)
    }
}

fn none() -> AccountLimits {
    AccountLimits::default()
}

fn check(limits: &AccountLimits, usage: &AccountUsage, ask: &StreamAsk) -> Result<(), LimitError> {
    check_stream(
        limits,
        &ServerLimits::default(),
        usage,
        &Reserved::default(),
        ask,
        true,
    )
}

#[test]
fn no_limits_allow_anything() {
    let usage = AccountUsage {
        streams: 1000,
        reserved: Reserved {
            memory: i64::MAX / 2,
            store: i64::MAX / 2,
        },
    };
    assert_eq!(check(&none(), &usage, &file(i64::MAX)), Ok(()));
    assert_eq!(check(&none(), &usage, &mem(-1)), Ok(()));
}

#[test]
fn max_streams_counts_on_create_only() {
    let limits = AccountLimits {
        max_streams: 2,
        ..none()
    };
    let at = |n| AccountUsage {
        streams: n,
        ..Default::default()
    };
    assert_eq!(check(&limits, &at(1), &file(-1)), Ok(()));
    assert_eq!(
        check(&limits, &at(2), &file(-1)),
        Err(LimitError::MaxStreams)
    );
    let update = check_stream(
        &limits,
        &ServerLimits::default(),
        &at(2),
        &Reserved::default(),
        &file(-1),
        false,
    );
    assert_eq!(update, Ok(()));
    // 0 is no limit.
    let zero = AccountLimits {
        max_streams: 0,
        ..none()
    };
    assert_eq!(check(&zero, &at(50), &file(-1)), Ok(()));
}

#[test]
fn a_stream_may_not_allow_more_consumers_than_the_account() {
    let limits = AccountLimits {
        max_consumers: 3,
        ..none()
    };
    let ask = |n| StreamAsk {
        max_consumers: n,
        ..file(-1)
    };
    let u = AccountUsage::default();
    assert_eq!(check(&limits, &u, &ask(3)), Ok(()));
    assert_eq!(check(&limits, &u, &ask(-1)), Ok(()));
    assert_eq!(check(&limits, &u, &ask(4)), Err(LimitError::MaxConsumers));
}

#[test]
fn max_bytes_reserve_against_the_account_by_storage() {
    let limits = AccountLimits {
        max_storage: 1000,
        max_memory: 100,
        ..none()
    };
    let with = |store, memory| AccountUsage {
        streams: 1,
        reserved: Reserved { memory, store },
    };
    assert_eq!(check(&limits, &with(0, 0), &file(1000)), Ok(()));
    assert_eq!(
        check(&limits, &with(0, 0), &file(1001)),
        Err(LimitError::Storage)
    );
    assert_eq!(
        check(&limits, &with(600, 0), &file(401)),
        Err(LimitError::Storage)
    );
    assert_eq!(check(&limits, &with(600, 0), &file(400)), Ok(()));
    // Memory is its own.
    assert_eq!(check(&limits, &with(1000, 0), &mem(100)), Ok(()));
    assert_eq!(
        check(&limits, &with(0, 50), &mem(51)),
        Err(LimitError::Memory)
    );
    // Without max_bytes a stream takes 1 byte: refused only once all is reserved.
    assert_eq!(check(&limits, &with(999, 0), &file(-1)), Ok(()));
    assert_eq!(
        check(&limits, &with(1000, 0), &file(-1)),
        Err(LimitError::Storage)
    );
    // A limit of 0 allows nothing; -1 everything.
    let zero = AccountLimits {
        max_storage: 0,
        ..none()
    };
    assert_eq!(
        check(&zero, &with(0, 0), &file(-1)),
        Err(LimitError::Storage)
    );
    assert_eq!(check(&zero, &with(0, 0), &mem(5)), Ok(()));
}

#[test]
fn replicas_multiply_the_account_reservation() {
    let limits = AccountLimits {
        max_storage: 1000,
        ..none()
    };
    let r3 = StreamAsk {
        replicas: 3,
        ..file(334)
    };
    let u = AccountUsage::default();
    assert_eq!(check(&limits, &u, &r3), Err(LimitError::Storage));
    let r3 = StreamAsk {
        replicas: 3,
        ..file(333)
    };
    assert_eq!(check(&limits, &u, &r3), Ok(()));
    assert_eq!(r3.reservation(), 999);
}

#[test]
fn the_server_limit_counts_every_account() {
    let server = ServerLimits {
        max_memory: 10,
        max_store: 100,
    };
    let reserved = Reserved {
        memory: 5,
        store: 60,
    };
    let go = |ask: &StreamAsk| {
        check_stream(
            &none(),
            &server,
            &AccountUsage::default(),
            &reserved,
            ask,
            true,
        )
    };
    assert_eq!(go(&file(40)), Ok(()));
    assert_eq!(go(&file(41)), Err(LimitError::Storage));
    assert_eq!(go(&mem(5)), Ok(()));
    assert_eq!(go(&mem(6)), Err(LimitError::Memory));
}

#[test]
fn max_bytes_required_and_per_stream_caps() {
    let limits = AccountLimits {
        max_bytes_required: true,
        storage_max_stream_bytes: 500,
        memory_max_stream_bytes: 50,
        ..none()
    };
    let u = AccountUsage::default();
    assert_eq!(
        check(&limits, &u, &file(-1)),
        Err(LimitError::MaxBytesRequired)
    );
    assert_eq!(
        check(&limits, &u, &file(0)),
        Err(LimitError::MaxBytesRequired)
    );
    assert_eq!(check(&limits, &u, &file(500)), Ok(()));
    assert_eq!(
        check(&limits, &u, &file(501)),
        Err(LimitError::MaxStreamBytes)
    );
    assert_eq!(
        check(&limits, &u, &mem(51)),
        Err(LimitError::MaxStreamBytes)
    );
}

#[test]
fn refusal_order_is_nats_servers() {
    // Every limit broken at once: max_streams first, then max_consumers, then bytes.
    let limits = AccountLimits {
        max_streams: 1,
        max_consumers: 1,
        max_storage: 10,
        max_bytes_required: true,
        ..none()
    };
    let mut u = AccountUsage {
        streams: 1,
        reserved: Reserved {
            memory: 0,
            store: 10,
        },
    };
    let ask = StreamAsk {
        max_consumers: 2,
        ..file(20)
    };
    assert_eq!(check(&limits, &u, &ask), Err(LimitError::MaxStreams));
    u.streams = 0;
    assert_eq!(check(&limits, &u, &ask), Err(LimitError::MaxConsumers));
    let ask = file(20);
    assert_eq!(check(&limits, &u, &ask), Err(LimitError::Storage));
    // Fully reserved and no max_bytes: the request as sent adds nothing, so 10113 first.
    assert_eq!(
        check(&limits, &u, &file(-1)),
        Err(LimitError::MaxBytesRequired)
    );
}

#[test]
fn errors_are_nats_servers() {
    let cases = [
        (
            LimitError::MaxStreams,
            400,
            10027,
            "maximum number of streams reached",
        ),
        (
            LimitError::MaxConsumers,
            400,
            10026,
            "maximum consumers limit reached",
        ),
        (
            LimitError::Memory,
            500,
            10028,
            "insufficient memory resources available",
        ),
        (
            LimitError::Storage,
            500,
            10047,
            "insufficient storage resources available",
        ),
        (
            LimitError::MaxBytesRequired,
            400,
            10113,
            "account requires a stream config to have max bytes set",
        ),
        (
            LimitError::MaxStreamBytes,
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        ),
    ];
    for (e, code, err_code, description) in cases {
        let json = serde_json::to_value(e.api()).unwrap();
        assert_eq!(json["code"], code, "{e:?}");
        assert_eq!(json["err_code"], err_code, "{e:?}");
        assert_eq!(json["description"], description, "{e:?}");
        assert_eq!(e.to_string(), description);
    }
}

#[test]
fn server_reservations_check_and_change_together() {
    let r = ServerReservations::new(ServerLimits {
        max_memory: -1,
        max_store: 100,
    });
    let fits = |reserved: &Reserved, ask: &StreamAsk| {
        (reserved.store + ask.reservation() <= 100)
            .then_some(())
            .ok_or(LimitError::Storage)
    };
    let a = file(60);
    assert_eq!(r.reserve(None, &a, |res| fits(res, &a)), Ok(()));
    let b = file(50);
    assert_eq!(
        r.reserve(None, &b, |res| fits(res, &b)),
        Err(LimitError::Storage)
    );
    assert_eq!(r.reserved().store, 60, "a refusal reserves nothing");
    // An update replaces the stream's own reservation.
    let a2 = file(90);
    assert_eq!(r.reserve(Some(&a), &a2, |res| fits(res, &a2)), Ok(()));
    assert_eq!(r.reserved().store, 90);
    r.release(&a2);
    assert_eq!(r.reserved(), Reserved::default());
    // Streams without max_bytes reserve nothing.
    let c = file(-1);
    assert_eq!(r.reserve(None, &c, |_| Ok::<(), LimitError>(())), Ok(()));
    assert_eq!(r.reserved(), Reserved::default());
}

#[test]
fn accounts_must_fit_the_server_at_startup() {
    let server = ServerLimits {
        max_memory: 100,
        max_store: 1000,
    };
    let acc = |max_memory, max_storage| AccountLimits {
        max_memory,
        max_storage,
        ..none()
    };
    assert_eq!(accounts_fit(&server, &[acc(50, 500), acc(50, 500)]), Ok(()));
    assert_eq!(
        accounts_fit(&server, &[acc(50, 500), acc(-1, 501)]),
        Err(LimitError::Storage)
    );
    assert_eq!(
        accounts_fit(&server, &[acc(101, 2000)]),
        Err(LimitError::Memory)
    );
    // Unlimited accounts, or an unlimited server, always fit.
    assert_eq!(accounts_fit(&server, &[none(), none()]), Ok(()));
    let open = ServerLimits::default();
    assert_eq!(accounts_fit(&open, &[acc(i64::MAX, i64::MAX)]), Ok(()));
}

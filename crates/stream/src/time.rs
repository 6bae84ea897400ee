//! Timestamps as the JetStream API writes them.
//!
//! nats-server formats every `time.Time` in its JSON with Go's `time.RFC3339Nano` in UTC:
//! `2026-11-22T23:42:04.77115754Z`. Go trims trailing zeros from the fraction (so there may be
//! anywhere from 0 to 9 digits, and none at all, without the dot, on a whole second). A time
//! that was never set is Go's zero `time.Time`, written `0001-01-01T00:00:00Z` (StreamState's
//! `first_ts`/`last_ts` of an empty stream): that instant does not fit in i64 nanoseconds, so
//! [`Timestamp`] carries it as a distinct value, [`Timestamp::ZERO`].

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Go's zero `time.Time` as RFC 3339.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Unix time now, in nanoseconds.
pub fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// `ns` (Unix nanoseconds) as Go's `time.RFC3339Nano` in UTC: fraction with trailing zeros
/// trimmed, no fraction at all on a whole second.
pub fn format_rfc3339_nanos(ns: i64) -> String {
    let dt = DateTime::<Utc>::from_timestamp_nanos(ns).naive_utc();
    format_naive(&dt)
}

fn format_naive(dt: &NaiveDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    // A leap second shows as nanosecond >= 1e9 in chrono; Go never produces one.
    let nanos = dt.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Why a timestamp did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    /// Not RFC 3339.
    #[error("invalid RFC 3339 time {0:?}")]
    Invalid(String),
    /// Valid, but outside what i64 Unix nanoseconds can hold (about 1677..2262), and not Go's
    /// zero time.
    #[error("time {0:?} out of range")]
    OutOfRange(String),
}

/// Parses RFC 3339 (any number of fraction digits, `Z` or a numeric offset) to Unix
/// nanoseconds. Go's zero time is out of range here: use [`Timestamp::parse`] to accept it.
pub fn parse_rfc3339_nanos(s: &str) -> Result<i64, TimeParseError> {
    let dt = DateTime::parse_from_rfc3339(s).map_err(|_| TimeParseError::Invalid(s.to_owned()))?;
    dt.timestamp_nanos_opt()
        .ok_or_else(|| TimeParseError::OutOfRange(s.to_owned()))
}

/// A point in time as the API carries it: Unix nanoseconds, or Go's zero time (never set).
///
/// Serialises as an RFC 3339 string exactly as nats-server writes it; deserialises any RFC 3339
/// string (and `null`, as Go leaves a field unset on `null`, giving the zero time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(Option<i64>);

impl Timestamp {
    /// Go's zero `time.Time` (`0001-01-01T00:00:00Z`): "never".
    pub const ZERO: Timestamp = Timestamp(None);

    /// The instant `ns` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(ns: i64) -> Self {
        Timestamp(Some(ns))
    }

    /// Like [`from_unix_nanos`](Self::from_unix_nanos), but 0 means "never" ([`ZERO`](Self::ZERO)):
    /// the stores' convention for the first/last time of an empty stream.
    pub const fn from_unix_nanos_or_zero(ns: i64) -> Self {
        if ns == 0 {
            Timestamp(None)
        } else {
            Timestamp(Some(ns))
        }
    }

    /// Now.
    pub fn now() -> Self {
        Timestamp(Some(now_ns()))
    }

    /// True for Go's zero time.
    pub const fn is_zero(&self) -> bool {
        self.0.is_none()
    }

    /// Unix nanoseconds, or `None` for the zero time.
    pub const fn unix_nanos(&self) -> Option<i64> {
        self.0
    }

    /// Parses RFC 3339; `0001-01-01T00:00:00Z` (at any offset or precision) is the zero time.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        let dt =
            DateTime::parse_from_rfc3339(s).map_err(|_| TimeParseError::Invalid(s.to_owned()))?;
        match dt.timestamp_nanos_opt() {
            Some(ns) => Ok(Timestamp(Some(ns))),
            None => {
                let utc = dt.naive_utc();
                if format_naive(&utc) == GO_ZERO_TIME {
                    Ok(Timestamp::ZERO)
                } else {
                    Err(TimeParseError::OutOfRange(s.to_owned()))
                }
            }
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ns) => f.write_str(&format_rfc3339_nanos(ns)),
            None => f.write_str(GO_ZERO_TIME),
        }
    }
}

impl From<i64> for Timestamp {
    /// Unix nanoseconds (0 is the epoch, not "never": see
    /// [`Timestamp::from_unix_nanos_or_zero`]).
    fn from(ns: i64) -> Self {
        Timestamp::from_unix_nanos(ns)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(Timestamp::ZERO),
            Some(s) => Timestamp::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_go() {
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nanos(1_000_000_000 + 500_000_000),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(format_rfc3339_nanos(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(Timestamp::ZERO.to_string(), GO_ZERO_TIME);
    }
}

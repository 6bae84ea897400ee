//! Serde helpers shared by the API JSON types: Go's encoding/json habits (`null` leaves a
//! field at its default; zero values are omitted where Go uses `omitempty`).

use serde::{Deserialize, Deserializer};

/// Deserialises `null` as the type's default (Go leaves a field untouched on `null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserialises a paging `offset` (Go's `int`): `null` is 0, and so is a negative number, as
/// nats-server v2.11.17 clamps it (v2.9 and v2.10 panic on one: "slice bounds out of range").
/// Anything else that is not an integer in Go's `int` range is an error (10025), as in Go.
pub(crate) fn paging_offset<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let offset = Option::<i64>::deserialize(d)?.unwrap_or_default();
    Ok(usize::try_from(offset.max(0)).unwrap_or(usize::MAX))
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

//! Subject lookup helpers of the index: a fast hasher for the subject map, and [`Matcher`], a
//! subject filter resolved against the interned subjects.

use super::SubjInfo;
use sluice_protocol::subject::subject_matches;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash: subjects are short and trusted enough; SipHash costs more than the rest of an append.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A resolved subject filter.
pub(super) enum Matcher<'a> {
    All,
    Nothing,
    One(u32),
    /// Matching subject ids as a bitmap, and the sequences they span.
    Set {
        set: Vec<bool>,
        lo: u64,
        hi: u64,
    },
    /// Many subjects: match each subject id when first met while scanning (0 unknown, 1 yes,
    /// 2 no) instead of testing every subject up front.
    Lazy {
        pattern: &'a str,
        memo: Vec<u8>,
    },
}

/// Above this many subjects a wildcard filter for a forward scan is matched lazily.
pub(super) const EAGER_SUBJECTS: usize = 1024;

impl Matcher<'_> {
    #[inline]
    pub(super) fn hits(&mut self, id: u32, infos: &[SubjInfo]) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Nothing => false,
            Matcher::One(one) => id == *one,
            Matcher::Set { set, .. } => set[id as usize],
            Matcher::Lazy { pattern, memo } => {
                let m = &mut memo[id as usize];
                if *m == 0 {
                    *m = if subject_matches(pattern, &infos[id as usize].name) {
                        1
                    } else {
                        2
                    };
                }
                *m == 1
            }
        }
    }
}

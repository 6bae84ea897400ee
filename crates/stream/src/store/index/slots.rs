//! [`Slots`]: the index's sequence-ordered slots, a double-ended queue in fixed-size chunks,
//! of which a file store keeps only a few in memory.
//!
//! A `VecDeque` doubles its buffer as it grows: a stream of 3 M messages held 72 MiB of index
//! and briefly needed 108 MiB more while it reallocated, and copying that much took the
//! process's memory-map lock long enough to stall other threads for tens of milliseconds.
//! Here slots live in chunks (4096 slots by default); growing adds one chunk, and the queue of
//! chunks (a few hundred for millions of messages) is all that ever reallocates. Chunks
//! emptied at the front are dropped, one spare is kept for the back.
//!
//! With a pager ([`super::pager`], file stores) at most `resident_max` chunks stay in memory:
//! the newest one always, and otherwise those pushed or changed most recently. The others are
//! written out and read back when read ([`Slots::get`], [`Slots::scan`]: through the pager,
//! without becoming resident) or changed ([`Slots::get_mut`], and [`Slots::take`] unless it
//! is a lone removal: they become resident again, and another chunk goes out). Paging changes
//! no answer, only where the slots are kept. What stays in memory per paged-out chunk is its
//! entry in the queue (32 bytes for 4096 slots).

use super::pager::{PageOut, Shared};
use std::collections::VecDeque;
use std::ops::{Deref, Range};

/// Slots per chunk without a pager (log2).
const CHUNK_BITS: u32 = 12;

type Slab<T> = Box<[Option<T>]>;

enum Chunk<T> {
    /// In memory; `touched` orders chunks for eviction (higher: used more recently).
    Mem { slots: Slab<T>, touched: u64 },
    /// Paged out to the pager's slab `at`.
    Out { at: u32 },
}

/// A present slot's entry: borrowed from a resident chunk, or from a chunk read back.
pub(crate) enum SlotRef<'a, T> {
    Mem(&'a T),
    Paged(Shared<T>, usize),
}

impl<T> Deref for SlotRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            SlotRef::Mem(e) => e,
            SlotRef::Paged(chunk, o) => chunk[*o].as_ref().expect("a present slot"),
        }
    }
}

/// A chunk's slots for reading.
enum View<'a, T> {
    Mem(&'a [Option<T>]),
    Paged(Shared<T>),
}

impl<T> Deref for View<'_, T> {
    type Target = [Option<T>];

    fn deref(&self) -> &[Option<T>] {
        match self {
            View::Mem(s) => s,
            View::Paged(s) => s,
        }
    }
}

/// A queue of `Option<T>` slots addressed by position from the front.
pub(crate) struct Slots<T> {
    chunks: VecDeque<Chunk<T>>,
    /// Position of slot 0 in the first chunk.
    head: usize,
    len: usize,
    spare: Option<Slab<T>>,
    bits: u32,
    /// Chunks ever dropped at the front: `chunks[c]` is chunk number `dropped + c`.
    dropped: u64,
    pager: Option<Box<dyn PageOut<T>>>,
    /// Chunks in memory, and the clock for `Chunk::Mem::touched`.
    resident: usize,
    clock: u64,
    /// The chunk of the last [`Slots::take`] (+1; 0: none).
    last_take: u64,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
            spare: None,
            bits: CHUNK_BITS,
            dropped: 0,
            pager: None,
            resident: 0,
            clock: 0,
            last_take: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Pages chunks out through `pager` from now on; the queue must be empty.
    pub(crate) fn set_pager(&mut self, pager: Box<dyn PageOut<T>>) {
        assert_eq!(self.len, 0, "set_pager on a queue with slots");
        self.clear();
        self.spare = None;
        self.bits = pager.chunk_bits();
        self.pager = Some(pager);
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Chunks held in memory (without the spare).
    #[cfg(test)]
    pub(crate) fn resident(&self) -> usize {
        self.resident
    }

    /// Reads from the pager so far (chunks or lone slots).
    #[cfg(test)]
    pub(crate) fn page_reads(&self) -> u64 {
        self.pager.as_ref().map_or(0, |p| p.reads())
    }

    /// Bytes of slots held in memory (resident chunks and the spare).
    pub(crate) fn resident_bytes(&self) -> usize {
        let slab = std::mem::size_of::<Option<T>>() << self.bits;
        (self.resident + usize::from(self.spare.is_some())) * slab
    }

    fn chunk_len(&self) -> usize {
        1 << self.bits
    }

    #[inline]
    fn at(&self, i: usize) -> (usize, usize) {
        let p = self.head + i;
        (p >> self.bits, p & (self.chunk_len() - 1))
    }

    fn new_slab(&mut self) -> Slab<T> {
        let n = self.chunk_len();
        self.spare
            .take()
            .unwrap_or_else(|| std::iter::repeat_with(|| None).take(n).collect())
    }

    fn view(&self, c: usize) -> View<'_, T> {
        match &self.chunks[c] {
            Chunk::Mem { slots, .. } => View::Mem(slots),
            Chunk::Out { at } => {
                let pager = self.pager.as_ref().expect("paged out without a pager");
                View::Paged(pager.load(self.dropped + c as u64, *at))
            }
        }
    }

    /// The entry in slot `i`, if the slot exists and holds one.
    pub(crate) fn get(&self, i: usize) -> Option<SlotRef<'_, T>> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.at(i);
        match &self.chunks[c] {
            Chunk::Mem { slots, .. } => slots[o].as_ref().map(SlotRef::Mem),
            Chunk::Out { at } => {
                let pager = self.pager.as_ref().expect("paged out without a pager");
                let (s, o) = pager.load_one(self.dropped + c as u64, *at, o);
                s[o].is_some().then(|| SlotRef::Paged(s, o))
            }
        }
    }

    /// Calls `f(i, slot)` for slots `r` in order until it returns false; false if it did.
    pub(crate) fn scan(
        &self,
        r: Range<usize>,
        mut f: impl FnMut(usize, Option<&T>) -> bool,
    ) -> bool {
        let end = r.end.min(self.len);
        let mut i = r.start.min(end);
        while i < end {
            let (c, o) = self.at(i);
            let n = (self.chunk_len() - o).min(end - i);
            let view = self.view(c);
            for (k, s) in view[o..o + n].iter().enumerate() {
                if !f(i + k, s.as_ref()) {
                    return false;
                }
            }
            i += n;
        }
        true
    }

    /// Like [`Slots::scan`], from the back of `r` to its front.
    pub(crate) fn scan_rev(
        &self,
        r: Range<usize>,
        mut f: impl FnMut(usize, Option<&T>) -> bool,
    ) -> bool {
        let end = r.end.min(self.len);
        let start = r.start.min(end);
        let mut i = end;
        while i > start {
            let (c, o) = self.at(i - 1);
            let n = (o + 1).min(i - start);
            let view = self.view(c);
            for (k, s) in view[o + 1 - n..=o].iter().enumerate().rev() {
                if !f(i - n + k, s.as_ref()) {
                    return false;
                }
            }
            i -= n;
        }
        true
    }

    /// Takes the entry out of slot `i`. A lone removal from a paged-out chunk empties the slot
    /// in the page file (the chunk stays out); removals from the first chunk or a second one
    /// in a row from the same chunk (expiry, purges: many in a row) page the chunk in.
    pub(crate) fn take(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.at(i);
        let no = self.dropped + c as u64;
        let lone = c > 0 && std::mem::replace(&mut self.last_take, no + 1) != no + 1;
        if let (Chunk::Out { at }, true) = (&self.chunks[c], lone) {
            let pager = self.pager.as_mut().expect("paged out without a pager");
            match pager.take_one(no, *at, o) {
                Ok(v) => return v,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot update a paged-out index chunk; paging it in");
                }
            }
        }
        self.get_mut(i)?.take()
    }

    /// Slot `i` for changing (its chunk is made resident).
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Option<T>> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.at(i);
        self.make_resident(c);
        match &mut self.chunks[c] {
            Chunk::Mem { slots, .. } => Some(&mut slots[o]),
            Chunk::Out { .. } => unreachable!("made resident"),
        }
    }

    fn make_resident(&mut self, c: usize) {
        self.clock += 1;
        let now = self.clock;
        match &mut self.chunks[c] {
            Chunk::Mem { touched, .. } => *touched = now,
            &mut Chunk::Out { at } => {
                let pager = self.pager.as_mut().expect("paged out without a pager");
                let slots = pager.take(self.dropped + c as u64, at);
                self.chunks[c] = Chunk::Mem {
                    slots,
                    touched: now,
                };
                self.resident += 1;
                self.evict(c);
            }
        }
    }

    /// Pages chunks out (least recently touched first, never `keep` nor the newest) until at
    /// most `resident_max` stay in memory. A chunk that cannot be written out stays.
    fn evict(&mut self, keep: usize) {
        let Some(max) = self.pager.as_ref().map(|p| p.resident_max()) else {
            return;
        };
        while self.resident > max {
            let last = self.chunks.len() - 1;
            let victim = (0..last)
                .filter(|&c| c != keep)
                .filter_map(|c| match &self.chunks[c] {
                    Chunk::Mem { touched, .. } => Some((*touched, c)),
                    Chunk::Out { .. } => None,
                })
                .min();
            let Some((_, c)) = victim else { return };
            let pager = self.pager.as_mut().expect("a pager");
            let Chunk::Mem { slots, .. } = &self.chunks[c] else {
                unreachable!("chosen among resident chunks")
            };
            match pager.store(slots) {
                Ok(at) => {
                    let old = std::mem::replace(&mut self.chunks[c], Chunk::Out { at });
                    self.resident -= 1;
                    if let (Chunk::Mem { mut slots, .. }, None) = (old, &self.spare) {
                        slots.iter_mut().for_each(|s| *s = None);
                        self.spare = Some(slots);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot page out index chunk; keeping it in memory");
                    return;
                }
            }
        }
    }

    pub(crate) fn push_back(&mut self, v: Option<T>) {
        let (c, o) = self.at(self.len);
        if c == self.chunks.len() {
            let slots = self.new_slab();
            self.clock += 1;
            self.chunks.push_back(Chunk::Mem {
                slots,
                touched: self.clock,
            });
            self.resident += 1;
            self.evict(c);
        }
        match &mut self.chunks[c] {
            Chunk::Mem { slots, .. } => slots[o] = v,
            Chunk::Out { .. } => unreachable!("the newest chunk is never paged out"),
        }
        self.len += 1;
    }

    /// Drops the first `n` slots, which must all be empty.
    pub(crate) fn drop_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        let n = n.min(self.len);
        self.head += n;
        self.len -= n;
        if self.len == 0 {
            self.clear();
            return;
        }
        while self.head >= self.chunk_len() {
            let chunk = self.chunks.pop_front().expect("a first chunk");
            self.release(chunk, self.dropped);
            self.dropped += 1;
            self.head -= self.chunk_len();
        }
    }

    /// Lets go of a dropped chunk (its slots are all empty or no longer wanted).
    fn release(&mut self, chunk: Chunk<T>, no: u64) {
        match chunk {
            Chunk::Mem { mut slots, .. } => {
                self.resident -= 1;
                if self.spare.is_none() {
                    slots.iter_mut().for_each(|s| *s = None);
                    self.spare = Some(slots);
                }
            }
            Chunk::Out { at } => {
                if let Some(p) = self.pager.as_mut() {
                    p.free(no, at);
                }
            }
        }
    }

    /// Takes the first slot out.
    #[cfg(test)]
    pub(crate) fn pop_front(&mut self) -> Option<Option<T>> {
        let v = self.get_mut(0)?.take();
        self.drop_front(1);
        Some(v)
    }

    /// Empties the queue (keeping one chunk as the spare).
    pub(crate) fn clear(&mut self) {
        let n = self.chunks.len() as u64;
        while let Some(chunk) = self.chunks.pop_front() {
            if let Chunk::Mem { mut slots, .. } = chunk {
                if self.spare.is_none() {
                    slots.iter_mut().for_each(|s| *s = None);
                    self.spare = Some(slots);
                }
            }
        }
        if let Some(p) = self.pager.as_mut() {
            p.clear();
        }
        self.dropped += n;
        self.resident = 0;
        self.head = 0;
        self.len = 0;
    }

    /// Takes every present entry out, front to back, as `f(i, entry)`, leaving the queue empty.
    pub(crate) fn drain_all(&mut self, mut f: impl FnMut(usize, T)) {
        let (head, len) = (self.head, self.len);
        let chunk_len = self.chunk_len();
        let chunks = std::mem::take(&mut self.chunks);
        let n = chunks.len() as u64;
        for (c, chunk) in chunks.into_iter().enumerate() {
            let slots = match chunk {
                Chunk::Mem { slots, .. } => slots,
                Chunk::Out { at } => {
                    let p = self.pager.as_mut().expect("paged out without a pager");
                    p.take(self.dropped + c as u64, at)
                }
            };
            for (o, s) in slots.into_vec().into_iter().enumerate() {
                let p = c * chunk_len + o;
                if p < head || p >= head + len {
                    continue;
                }
                if let Some(e) = s {
                    f(p - head, e);
                }
            }
        }
        self.clear();
        self.dropped += n;
    }
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;

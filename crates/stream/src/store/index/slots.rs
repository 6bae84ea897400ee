//! [`Slots`]: the index's sequence-ordered slots, a double-ended queue in fixed-size chunks.
//!
//! A `VecDeque` doubles its buffer as it grows: a stream of 3 M messages held 72 MiB of index
//! and briefly needed 108 MiB more while it reallocated, and copying that much took the
//! process's memory-map lock long enough to stall other threads for tens of milliseconds.
//! Here slots live in chunks of [`CHUNK`]; growing adds one chunk, and the queue of chunk
//! pointers (a few hundred for millions of messages) is all that ever reallocates. Chunks
//! emptied at the front are dropped, one spare is kept for the back.

use std::collections::VecDeque;

/// Slots per chunk (a power of two).
const CHUNK: usize = 4096;

type Chunk<T> = Box<[Option<T>]>;

fn new_chunk<T>() -> Chunk<T> {
    std::iter::repeat_with(|| None).take(CHUNK).collect()
}

/// A queue of `Option<T>` slots addressed by position from the front.
pub(crate) struct Slots<T> {
    chunks: VecDeque<Chunk<T>>,
    /// Position of slot 0 in the first chunk.
    head: usize,
    len: usize,
    spare: Option<Chunk<T>>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
            spare: None,
        }
    }
}

impl<T> Slots<T> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn at(&self, i: usize) -> (usize, usize) {
        let p = self.head + i;
        (p / CHUNK, p % CHUNK)
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Option<T>> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.at(i);
        Some(&self.chunks[c][o])
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Option<T>> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.at(i);
        Some(&mut self.chunks[c][o])
    }

    pub(crate) fn front(&self) -> Option<&Option<T>> {
        self.get(0)
    }

    pub(crate) fn push_back(&mut self, v: Option<T>) {
        let (c, o) = self.at(self.len);
        if c == self.chunks.len() {
            let chunk = self.spare.take().unwrap_or_else(new_chunk);
            self.chunks.push_back(chunk);
        }
        self.chunks[c][o] = v;
        self.len += 1;
    }

    pub(crate) fn pop_front(&mut self) -> Option<Option<T>> {
        if self.len == 0 {
            return None;
        }
        let v = self.chunks[0][self.head].take();
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        } else if self.head == CHUNK {
            // The first chunk is used up (every slot taken): it goes, or becomes the spare.
            let chunk = self.chunks.pop_front().expect("a first chunk");
            self.spare.get_or_insert(chunk);
            self.head = 0;
        }
        Some(v)
    }

    /// Empties the queue (keeping one chunk as the spare).
    pub(crate) fn clear(&mut self) {
        if let Some(mut chunk) = self.chunks.pop_front() {
            chunk.iter_mut().for_each(|s| *s = None);
            self.spare = Some(chunk);
        }
        self.chunks.clear();
        self.head = 0;
        self.len = 0;
    }

    /// Takes every slot out, front to back, leaving the queue empty.
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = Option<T>> {
        let mut chunks = std::mem::take(&mut self.chunks);
        let (head, len) = (self.head, self.len);
        self.head = 0;
        self.len = 0;
        (0..len).map(move |i| {
            let p = head + i;
            chunks[p / CHUNK][p % CHUNK].take()
        })
    }

    /// The slots at positions `r`, front to back (double-ended, exact size).
    pub(crate) fn range(
        &self,
        r: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = &Option<T>> + ExactSizeIterator {
        let end = r.end.min(self.len);
        let start = r.start.min(end);
        (start..end).map(move |i| {
            let (c, o) = self.at(i);
            &self.chunks[c][o]
        })
    }

    /// Every slot, front to back.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Option<T>> + ExactSizeIterator {
        self.range(0..self.len)
    }
}

impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = Option<T>;

    fn index(&self, i: usize) -> &Option<T> {
        self.get(i).expect("slot index in range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on a `VecDeque` and on `Slots` give the same contents.
    #[test]
    fn behaves_as_a_vecdeque() {
        let mut model: VecDeque<Option<u64>> = VecDeque::new();
        let mut s: Slots<u64> = Slots::default();
        // A deterministic mix: long runs of pushes, pops, takes in the middle, clears.
        let mut x: u64 = 12345;
        for step in 0..60_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (x >> 33) % 10 {
                0..=5 => {
                    let v = (step % 7 != 0).then_some(step);
                    model.push_back(v);
                    s.push_back(v);
                }
                6 | 7 => assert_eq!(model.pop_front(), s.pop_front(), "pop at {step}"),
                8 if !model.is_empty() => {
                    let i = (x as usize) % model.len();
                    assert_eq!(
                        model.get_mut(i).map(Option::take),
                        s.get_mut(i).map(Option::take)
                    );
                }
                9 if step % 5000 == 9 => {
                    model.clear();
                    s.clear();
                }
                _ => {}
            }
            assert_eq!(model.len(), s.len());
            if step % 997 == 0 {
                assert!(model.iter().eq(s.iter()), "contents at {step}");
                assert!(model.iter().rev().eq(s.iter().rev()), "reversed at {step}");
                let n = model.len();
                assert!(model.range(n / 3..n / 2).eq(s.range(n / 3..n / 2)));
                assert_eq!(model.front(), s.front());
            }
        }
        let all: Vec<_> = s.take_all().collect();
        assert_eq!(all, model.drain(..).collect::<Vec<_>>());
        assert_eq!(s.len(), 0);
        s.push_back(Some(1));
        assert_eq!(s[0], Some(1));
    }

    #[test]
    fn memory_follows_the_live_slots() {
        let mut s: Slots<u64> = Slots::default();
        for i in 0..10 * CHUNK as u64 {
            s.push_back(Some(i));
        }
        assert_eq!(s.chunks.len(), 10);
        for _ in 0..9 * CHUNK {
            s.pop_front();
        }
        assert_eq!(s.chunks.len(), 1, "chunks emptied at the front are dropped");
        assert_eq!(s.front(), Some(&Some(9 * CHUNK as u64)));
    }
}

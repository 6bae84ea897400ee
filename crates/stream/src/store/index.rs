//! The in-memory index both stores share: one slot per sequence from the first present
//! message to the last assigned one, plus per-subject counts and first/last sequences.
//!
//! Removal is split in two: a read-only *plan* ([`Plan`], chosen by [`Index::plan_purge`] or
//! [`Index::plan_expire`]) says what goes, and [`Index::apply`] removes it. The file store
//! writes its tombstones between the two, so a failed write leaves the index untouched.
//!
//! A file store's index pages old chunks of slots out of memory ([`Index::set_pager`],
//! `index/pager.rs`); the per-subject bookkeeping stays in memory. Readers get entries as
//! [`SlotRef`]s, which borrow from memory or from a chunk read back.

use super::StoreState;
use sluice_protocol::subject::{has_wildcard, subject_matches};
use std::sync::Arc;

mod matcher;
mod pager;
mod plan;
mod slots;

use matcher::{FxMap, Matcher, EAGER_SUBJECTS};

use slots::Slots;

pub(crate) use pager::{PageOut, Paged, Pager, PagingConfig};
pub(crate) use slots::SlotRef;

pub(crate) use plan::MAX_SEQ;

/// What an index slot must tell about its message.
pub(crate) trait Entry {
    /// Interned subject id (see [`Index::intern`]).
    fn subj(&self) -> u32;
    fn ts(&self) -> i64;
    /// The message's size as its store counts it ([`super::MsgStore::msg_size`]).
    fn size(&self) -> u64;
}

/// Per-subject bookkeeping. `first`/`last` are exact outside a removal batch; inside one they
/// are bounds (first <= real first, last >= real last) until [`Index::finish`] fixes them.
struct SubjInfo {
    name: Arc<str>,
    count: u64,
    first: u64,
    last: u64,
    dirty_first: bool,
    dirty_last: bool,
}

/// What a removal takes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every message; first_seq becomes last_seq + 1.
    All,
    /// Every message below `below`; if `below` > last_seq + 1 the sequence jumps so that the
    /// next message gets `below` (nats-server's Compact).
    Below(u64),
    /// These sequences, ascending.
    Seqs(Vec<u64>),
}

pub(crate) struct Index<E> {
    /// Sequence of `slots[0]`; equals first_seq while the store has messages.
    base: u64,
    slots: Slots<E>,
    last_seq: u64,
    last_ts: i64,
    msgs: u64,
    bytes: u64,
    /// Live timestamps never go backwards (lets expiry stop at the first young message).
    monotonic: bool,
    ids: FxMap<Arc<str>, u32>,
    infos: Vec<SubjInfo>,
    free: Vec<u32>,
    /// Subject of the previous append, to skip hashing on runs of one subject.
    last_subj: u32,
    dirty: Vec<u32>,
    /// `(base, ts)`: the time of the message at `base`, remembered because `state()` is asked
    /// for on every publish and the first chunk of a long file stream is paged out (reading
    /// its slot back each time cost a `pread` per call: a quarter of the publish rate).
    first_ts: parking_lot::Mutex<Option<(u64, i64)>>,
}

impl<E: Entry> Default for Index<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Entry> Index<E> {
    pub fn new() -> Self {
        Index {
            base: 1,
            slots: Slots::default(),
            last_seq: 0,
            last_ts: 0,
            msgs: 0,
            bytes: 0,
            monotonic: true,
            ids: FxMap::default(),
            infos: Vec::new(),
            free: Vec::new(),
            last_subj: u32::MAX,
            dirty: Vec::new(),
            first_ts: parking_lot::Mutex::new(None),
        }
    }

    /// Pages old chunks of slots out through `pager` from now on (the index must be empty).
    pub fn set_pager(&mut self, pager: Box<dyn PageOut<E>>) {
        self.slots.set_pager(pager);
    }

    /// Bytes of slots held in memory.
    pub fn resident_bytes(&self) -> usize {
        self.slots.resident_bytes()
    }

    /// Chunks of slots held in memory, and reads from the pager so far.
    #[cfg(test)]
    pub fn paging_stats(&self) -> (usize, u64) {
        (self.slots.resident(), self.slots.page_reads())
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn last_ts(&self) -> i64 {
        self.last_ts
    }

    pub fn msgs(&self) -> u64 {
        self.msgs
    }

    pub fn first_seq(&self) -> u64 {
        if self.msgs > 0 {
            self.base
        } else {
            self.last_seq + 1
        }
    }

    pub fn state(&self) -> StoreState {
        let first_seq = self.first_seq();
        let first_ts = self.first_ts();
        let num_deleted = if self.msgs > 0 {
            self.last_seq - first_seq + 1 - self.msgs
        } else {
            0
        };
        StoreState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq,
            first_ts,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: self.ids.len() as u64,
            num_deleted,
        }
    }

    /// The time of the first message (0 if none). A message's time never changes, so it is
    /// remembered for the sequence it was read at, until the index is emptied and refilled
    /// ([`Index::push`] forgets it then, as the sequence may be used again).
    fn first_ts(&self) -> i64 {
        if self.msgs == 0 {
            return 0;
        }
        let mut memo = self.first_ts.lock();
        if let Some((seq, ts)) = *memo {
            if seq == self.base {
                return ts;
            }
        }
        match self.slots.get(0).map(|e| e.ts()) {
            Some(ts) => {
                *memo = Some((self.base, ts));
                ts
            }
            None => 0,
        }
    }

    /// The id of `subject`, creating it (with no messages yet) if needed. Call right before
    /// [`Index::push`], which gives it its first message.
    pub fn intern(&mut self, subject: &str) -> u32 {
        if let Some(info) = self.infos.get(self.last_subj as usize) {
            if info.count > 0 && &*info.name == subject {
                return self.last_subj;
            }
        }
        let id = match self.ids.get(subject) {
            Some(&id) => id,
            None => {
                let name: Arc<str> = Arc::from(subject);
                let info = SubjInfo {
                    name: name.clone(),
                    count: 0,
                    first: 0,
                    last: 0,
                    dirty_first: false,
                    dirty_last: false,
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.infos[id as usize] = info;
                        id
                    }
                    None => {
                        self.infos.push(info);
                        (self.infos.len() - 1) as u32
                    }
                };
                self.ids.insert(name, id);
                id
            }
        };
        self.last_subj = id;
        id
    }

    /// The interned name of a subject id that has messages.
    pub fn subject_name(&self, id: u32) -> &Arc<str> {
        &self.infos[id as usize].name
    }

    /// Adds a message at `seq` (> last_seq; skipped sequences become gaps). `entry.subj()`
    /// must come from [`Index::intern`].
    pub fn push(&mut self, seq: u64, entry: E) {
        debug_assert!(seq > self.last_seq);
        let ts = entry.ts();
        if self.msgs == 0 {
            self.slots.clear();
            self.base = seq;
            self.monotonic = true;
            // A new first message; its sequence may have been used before (emptied, then the
            // next sequence set back), so what was remembered for it is stale.
            *self.first_ts.get_mut() = None;
        } else {
            if ts < self.last_ts {
                self.monotonic = false;
            }
            for _ in self.last_seq + 1..seq {
                self.slots.push_back(None);
            }
        }
        let info = &mut self.infos[entry.subj() as usize];
        if info.count == 0 {
            info.first = seq;
        }
        info.count += 1;
        info.last = seq;
        info.dirty_last = false;
        self.msgs += 1;
        self.bytes += entry.size();
        self.last_seq = seq;
        self.last_ts = ts;
        self.slots.push_back(Some(entry));
    }

    /// Raises last_seq to `next - 1` if it is lower (a segment's base sequence on replay).
    pub fn set_floor(&mut self, next: u64, ts: i64) {
        if next > self.last_seq + 1 {
            if self.msgs > 0 {
                for _ in self.last_seq + 1..next {
                    self.slots.push_back(None);
                }
            } else {
                self.base = next;
            }
            self.last_seq = next - 1;
            self.last_ts = ts;
        }
    }

    /// Drops everything; the next message gets `next`.
    pub fn reset(&mut self, next: u64, ts: i64) {
        // Nothing to visit: paged-out chunks need not be read back.
        self.slots.clear();
        self.apply(&Plan::All, |_, _| {});
        self.last_seq = next.max(1) - 1;
        self.last_ts = ts;
        self.base = self.last_seq + 1;
    }

    pub fn get(&self, seq: u64) -> Option<SlotRef<'_, E>> {
        if seq < self.base {
            return None;
        }
        self.slots.get((seq - self.base) as usize)
    }

    /// Calls `f` on the live messages with `from <= seq < to`, ascending.
    pub fn each_live_in(&self, from: u64, to: u64, mut f: impl FnMut(u64, &E)) {
        let start = from.max(self.base);
        let end = to.min(self.last_seq + 1).max(start);
        let skip = (start - self.base) as usize;
        let base = self.base;
        self.slots
            .scan(skip..skip + (end - start) as usize, |i, s| {
                if let Some(e) = s {
                    f(base + i as u64, e);
                }
                true
            });
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut E> {
        if seq < self.base {
            return None;
        }
        self.slots.get_mut((seq - self.base) as usize)?.as_mut()
    }

    /// Removes one message; subject bounds stay loose until [`Index::finish`].
    pub fn remove_deferred(&mut self, seq: u64) -> Option<E> {
        self.remove_raw(seq)
    }

    fn remove_raw(&mut self, seq: u64) -> Option<E> {
        if seq < self.base {
            return None;
        }
        let i = (seq - self.base) as usize;
        let e = self.slots.take(i)?;
        self.msgs -= 1;
        self.bytes -= e.size();
        let id = e.subj();
        let info = &mut self.infos[id as usize];
        info.count -= 1;
        if info.count == 0 {
            let name = info.name.clone();
            info.dirty_first = false;
            info.dirty_last = false;
            self.ids.remove(&*name);
            self.free.push(id);
        } else if seq == info.first || seq == info.last {
            info.dirty_first |= seq == info.first;
            info.dirty_last |= seq == info.last;
            self.dirty.push(id);
        }
        if self.msgs == 0 {
            self.slots.clear();
            self.base = self.last_seq + 1;
            self.monotonic = true;
        } else if i == 0 {
            let mut gaps = 0;
            self.slots.scan(0..self.slots.len(), |_, s| {
                gaps += usize::from(s.is_none());
                s.is_none()
            });
            self.slots.drop_front(gaps);
            self.base += gaps as u64;
        }
        Some(e)
    }

    /// Removes one message.
    pub fn remove(&mut self, seq: u64) -> Option<E> {
        let e = self.remove_raw(seq);
        self.finish();
        e
    }

    /// Makes subject first/last exact again after raw removals: one forward and one backward
    /// pass over the slots, however many subjects moved.
    pub fn finish(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        let (mut need_first, mut need_last) = (0usize, 0usize);
        let (mut from, mut to) = (u64::MAX, 0u64);
        for &id in &dirty {
            let info = &self.infos[id as usize];
            if info.count == 0 {
                continue;
            }
            if info.dirty_first {
                need_first += 1;
                from = from.min(info.first);
            }
            if info.dirty_last {
                need_last += 1;
                to = to.max(info.last);
            }
        }
        let (base, infos) = (self.base, &mut self.infos);
        if need_first > 0 {
            let skip = (from.max(base) - base) as usize;
            self.slots.scan(skip..self.slots.len(), |i, s| {
                if let Some(e) = s {
                    let info = &mut infos[e.subj() as usize];
                    if info.dirty_first {
                        info.first = base + i as u64;
                        info.dirty_first = false;
                        need_first -= 1;
                    }
                }
                need_first > 0
            });
        }
        if need_last > 0 && to >= base {
            let end = (to.min(self.last_seq) + 1 - base) as usize;
            self.slots.scan_rev(0..end, |i, s| {
                if let Some(e) = s {
                    let info = &mut infos[e.subj() as usize];
                    if info.dirty_last {
                        info.last = base + i as u64;
                        info.dirty_last = false;
                        need_last -= 1;
                    }
                }
                need_last > 0
            });
        }
        debug_assert!(need_first == 0 && need_last == 0);
        dirty.clear();
        self.dirty = dirty;
    }

    /// Removes what `plan` selects, calling `on_remove` for each message; returns how many.
    pub fn apply(&mut self, plan: &Plan, mut on_remove: impl FnMut(u64, E)) -> u64 {
        let before = self.msgs;
        match plan {
            Plan::All => {
                let base = self.base;
                self.slots.drain_all(|i, e| on_remove(base + i as u64, e));
                self.ids.clear();
                self.infos.clear();
                self.free.clear();
                self.dirty.clear();
                self.last_subj = u32::MAX;
                self.msgs = 0;
                self.bytes = 0;
                self.base = self.last_seq + 1;
                self.monotonic = true;
            }
            &Plan::Below(below) => {
                while self.msgs > 0 && self.base < below {
                    let seq = self.base;
                    if let Some(e) = self.remove_raw(seq) {
                        on_remove(seq, e);
                    }
                }
                if below > self.last_seq + 1 {
                    self.set_floor(below, self.last_ts);
                }
            }
            Plan::Seqs(seqs) => {
                for &seq in seqs {
                    if let Some(e) = self.remove_raw(seq) {
                        on_remove(seq, e);
                    }
                }
            }
        }
        self.finish();
        before - self.msgs
    }

    /// Resolves `filter`; `lazy` allows [`Matcher::Lazy`] (fine for forward scans).
    fn matcher<'a>(&self, filter: Option<&'a str>, lazy: bool) -> Matcher<'a> {
        let f = match filter {
            None | Some("") | Some(">") => return Matcher::All,
            Some(f) => f,
        };
        if !has_wildcard(f) {
            return self
                .ids
                .get(f)
                .map_or(Matcher::Nothing, |&id| Matcher::One(id));
        }
        if lazy && self.ids.len() > EAGER_SUBJECTS {
            let memo = vec![0u8; self.infos.len()];
            return Matcher::Lazy { pattern: f, memo };
        }
        let mut set = vec![false; self.infos.len()];
        let (mut lo, mut hi) = (u64::MAX, 0);
        for (name, &id) in &self.ids {
            if subject_matches(f, name) {
                set[id as usize] = true;
                let info = &self.infos[id as usize];
                lo = lo.min(info.first);
                hi = hi.max(info.last);
            }
        }
        if hi == 0 {
            Matcher::Nothing
        } else {
            Matcher::Set { set, lo, hi }
        }
    }

    /// Calls `f` on each live message matching `m` from `from` on, until it returns false.
    fn scan(&self, m: &mut Matcher<'_>, from: u64, mut f: impl FnMut(u64, &E) -> bool) {
        let (lo, hi) = match m {
            Matcher::Nothing => return,
            Matcher::One(id) => {
                let info = &self.infos[*id as usize];
                (info.first, info.last)
            }
            Matcher::Set { lo, hi, .. } => (*lo, *hi),
            _ => (self.base, self.last_seq),
        };
        let start = from.max(lo).max(self.base);
        if self.msgs == 0 || start > hi {
            return;
        }
        let skip = (start - self.base) as usize;
        let end = skip + (hi - start + 1) as usize;
        let (base, infos) = (self.base, &self.infos);
        self.slots.scan(skip..end, |i, slot| match slot {
            Some(e) if m.hits(e.subj(), infos) => f(base + i as u64, e),
            _ => true,
        });
    }

    /// First live message at or after `from` whose subject matches `filter`.
    pub fn next_matching(&self, from: u64, filter: Option<&str>) -> Option<(u64, SlotRef<'_, E>)> {
        let mut m = self.matcher(filter, true);
        let mut found = None;
        self.scan(&mut m, from, |seq, _| {
            found = Some(seq);
            false
        });
        found.and_then(|seq| Some((seq, self.get(seq)?)))
    }

    /// Newest live message whose subject matches `filter`.
    pub fn last_matching(&self, filter: &str) -> Option<(u64, SlotRef<'_, E>)> {
        let seq = match self.matcher(Some(filter), false) {
            Matcher::Nothing => return None,
            Matcher::All => (self.msgs > 0).then(|| self.last_live())?,
            Matcher::One(id) => self.infos[id as usize].last,
            Matcher::Set { hi, .. } => hi,
            Matcher::Lazy { .. } => unreachable!("not lazy"),
        };
        Some((seq, self.get(seq)?))
    }

    fn last_live(&self) -> u64 {
        let mut back = 0;
        self.slots.scan_rev(0..self.slots.len(), |_, s| {
            back += u64::from(s.is_none());
            s.is_none()
        });
        self.last_seq - back
    }

    pub fn subject_count(&self, subject: &str) -> u64 {
        self.ids
            .get(subject)
            .map_or(0, |&id| self.infos[id as usize].count)
    }

    pub fn first_seq_of_subject(&self, subject: &str) -> Option<u64> {
        self.ids
            .get(subject)
            .map(|&id| self.infos[id as usize].first)
    }

    pub fn subjects(&self) -> Vec<(Arc<str>, u64)> {
        self.ids
            .iter()
            .map(|(name, &id)| (name.clone(), self.infos[id as usize].count))
            .collect()
    }
}

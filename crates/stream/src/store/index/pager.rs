//! [`Pager`]: where a file store's index keeps the chunks of slots it paged out of memory.
//!
//! A paged-out chunk is written, entry by entry in a fixed-size encoding ([`Paged`]), to one
//! slab of a page file in the stream's directory. The file is unlinked as soon as it is
//! created: it only lives as long as the store is open (the index is rebuilt from the segments
//! on open anyway), a crash leaves nothing behind, and its pages sit in the OS page cache, not
//! in the process's memory. Freed slabs are reused, so the file is as large as the most chunks
//! ever paged out at once.
//!
//! Reads of paged-out chunks go through a small cache of decoded chunks shared behind a lock
//! (reads come through `&self`), so a consumer walking old messages costs one `pread` per
//! chunk, not one per message.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An index entry with a fixed-size encoding, so that chunks of them can be paged out.
pub(crate) trait Paged: Sized {
    /// Bytes per encoded slot.
    const BYTES: usize;
    /// Writes a slot (`None`: an empty one) to `out` (`BYTES` long).
    fn put(slot: Option<&Self>, out: &mut [u8]);
    /// Reads back what [`Paged::put`] wrote.
    fn get(b: &[u8]) -> Option<Self>;
}

/// A chunk of slots read back from the page file.
pub(crate) type Shared<T> = Arc<[Option<T>]>;

/// What [`super::slots::Slots`] needs from a pager (object-safe, so that the slots of a memory
/// store, which never pages, need no bounds on their entry type).
pub(crate) trait PageOut<T>: Send + Sync {
    /// log2 of the slots per chunk.
    fn chunk_bits(&self) -> u32;
    /// How many chunks may stay in memory.
    fn resident_max(&self) -> usize;
    /// Writes a chunk out; returns the slab it went to.
    fn store(&mut self, slots: &[Option<T>]) -> io::Result<u32>;
    /// Chunk number `no` (a cache key), paged out to slab `at`, for reading.
    fn load(&self, no: u64, at: u32) -> Shared<T>;
    /// Slot `o` of chunk number `no`, paged out to slab `at`, for reading: the chunk and the
    /// slot's position in it. A lone read loads just the slot; one that follows the previous
    /// read closely in the same chunk (a reader going forward), the whole chunk (into the
    /// cache).
    fn load_one(&self, no: u64, at: u32, o: usize) -> (Shared<T>, usize);
    /// Takes slot `o` out of chunk number `no`, paged out to slab `at`, leaving it empty in
    /// the page file. On an error nothing changed.
    fn take_one(&mut self, no: u64, at: u32, o: usize) -> io::Result<Option<T>>;
    /// Chunk number `no` back from slab `at` for keeps (the slab is freed).
    fn take(&mut self, no: u64, at: u32) -> Box<[Option<T>]>;
    /// Forgets slab `at` of chunk number `no` (the chunk was dropped).
    fn free(&mut self, no: u64, at: u32);
    /// Forgets everything paged out.
    fn clear(&mut self);
    /// Reads from the page file so far, of chunks or lone slots (for tests).
    #[cfg(test)]
    fn reads(&self) -> u64;
}

/// A read this close after the previous one in a chunk counts as a forward walk.
const SEQUENTIAL: usize = 16;

/// Paging settings of a file store's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PagingConfig {
    /// log2 of the slots per chunk.
    pub chunk_bits: u32,
    /// Chunks kept in memory (the newest, and those changed most recently).
    pub resident: usize,
    /// Paged-out chunks kept decoded after a read.
    pub cached: usize,
}

impl Default for PagingConfig {
    fn default() -> Self {
        PagingConfig {
            chunk_bits: 12,
            resident: 16,
            cached: 4,
        }
    }
}

impl PagingConfig {
    /// The default, or what `SLUICE_INDEX_PAGING` says: `off`, or
    /// `<chunk_bits>,<resident>,<cached>` (tests run the whole suite with tiny chunks this way).
    pub fn from_env() -> Option<PagingConfig> {
        let Ok(v) = std::env::var("SLUICE_INDEX_PAGING") else {
            return Some(PagingConfig::default());
        };
        if v == "off" {
            return None;
        }
        let n: Vec<usize> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
        match n[..] {
            [bits, resident, cached] if (1..=20).contains(&bits) && resident > 0 => {
                Some(PagingConfig {
                    chunk_bits: bits as u32,
                    resident,
                    cached,
                })
            }
            _ => {
                tracing::warn!(value = %v, "SLUICE_INDEX_PAGING not understood; using the default");
                Some(PagingConfig::default())
            }
        }
    }
}

/// The page file and the cache of chunks read from it.
pub(crate) struct Pager<T> {
    dir: PathBuf,
    /// Created (and unlinked) on the first page-out.
    file: Option<File>,
    config: PagingConfig,
    /// Slabs free for reuse, and how many the file holds.
    free: Vec<u32>,
    slabs: u32,
    buf: Vec<u8>,
    /// Recently read chunks by number, least recently used first.
    cache: Mutex<Vec<(u64, Shared<T>)>>,
    /// Where the last lone slot read was: chunk number and slot.
    last_one: Mutex<Option<(u64, usize)>>,
    reads: AtomicU64,
}

impl<T: Paged> Pager<T> {
    pub fn new(dir: PathBuf, config: PagingConfig) -> Pager<T> {
        Pager {
            dir,
            file: None,
            config,
            free: Vec::new(),
            slabs: 0,
            buf: Vec::new(),
            cache: Mutex::new(Vec::new()),
            last_one: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    fn slab_bytes(&self) -> u64 {
        (T::BYTES as u64) << self.config.chunk_bits
    }

    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            let path = self.dir.join("index.pages");
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            self.file = Some(file);
        }
        Ok(self.file.as_ref().expect("just opened"))
    }

    /// Reads and decodes slab `at`. A page file that cannot be read back is fatal: the index
    /// would be wrong, and its readers cannot fail.
    fn read(&self, at: u32) -> Box<[Option<T>]> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut b = vec![0u8; self.slab_bytes() as usize];
        let res = match &self.file {
            Some(f) => f.read_exact_at(&mut b, u64::from(at) * self.slab_bytes()),
            None => Err(io::Error::other("no page file")),
        };
        if let Err(e) = res {
            panic!(
                "index page file of {} unreadable (slab {at}): {e}",
                self.dir.display()
            );
        }
        b.chunks_exact(T::BYTES).map(T::get).collect()
    }

    /// Reads slot `o` of slab `at` alone (fatal on failure, as [`Pager::read`]).
    fn read_one(&self, at: u32, o: usize) -> Option<T> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut b = vec![0u8; T::BYTES];
        let off = u64::from(at) * self.slab_bytes() + (o * T::BYTES) as u64;
        let res = match &self.file {
            Some(f) => f.read_exact_at(&mut b, off),
            None => Err(io::Error::other("no page file")),
        };
        if let Err(e) = res {
            panic!(
                "index page file of {} unreadable (slab {at}): {e}",
                self.dir.display()
            );
        }
        T::get(&b)
    }

    fn forget(&self, no: u64) {
        self.cache.lock().retain(|(n, _)| *n != no);
    }
}

impl<T: Paged + Send + Sync> PageOut<T> for Pager<T> {
    fn chunk_bits(&self) -> u32 {
        self.config.chunk_bits
    }

    fn resident_max(&self) -> usize {
        self.config.resident
    }

    fn store(&mut self, slots: &[Option<T>]) -> io::Result<u32> {
        let at = match self.free.pop() {
            Some(at) => at,
            None => {
                if self.slabs == u32::MAX {
                    return Err(io::Error::other("page file full"));
                }
                self.slabs += 1;
                self.slabs - 1
            }
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(slots.len() * T::BYTES, 0);
        for (s, out) in slots.iter().zip(buf.chunks_exact_mut(T::BYTES)) {
            T::put(s.as_ref(), out);
        }
        let off = u64::from(at) * self.slab_bytes();
        let res = self.file().and_then(|f| f.write_all_at(&buf, off));
        self.buf = buf;
        if let Err(e) = res {
            self.free.push(at);
            return Err(e);
        }
        Ok(at)
    }

    fn load(&self, no: u64, at: u32) -> Shared<T> {
        let mut cache = self.cache.lock();
        if let Some(i) = cache.iter().position(|(n, _)| *n == no) {
            let hit = cache.remove(i);
            let chunk = hit.1.clone();
            cache.push(hit);
            return chunk;
        }
        let chunk: Shared<T> = self.read(at).into();
        if self.config.cached > 0 {
            if cache.len() >= self.config.cached {
                cache.remove(0);
            }
            cache.push((no, chunk.clone()));
        }
        chunk
    }

    fn load_one(&self, no: u64, at: u32, o: usize) -> (Shared<T>, usize) {
        let cached = {
            let cache = self.cache.lock();
            cache.iter().find(|(n, _)| *n == no).map(|(_, c)| c.clone())
        };
        if let Some(chunk) = cached {
            return (chunk, o);
        }
        let last = self.last_one.lock().replace((no, o));
        if matches!(last, Some((n, p)) if n == no && p < o && o - p <= SEQUENTIAL) {
            return (self.load(no, at), o);
        }
        let one: Shared<T> = Arc::from(vec![self.read_one(at, o)]);
        (one, 0)
    }

    fn take_one(&mut self, no: u64, at: u32, o: usize) -> io::Result<Option<T>> {
        let v = self.read_one(at, o);
        if v.is_some() {
            let off = u64::from(at) * self.slab_bytes() + (o * T::BYTES) as u64;
            let mut empty = vec![0u8; T::BYTES];
            T::put(None, &mut empty);
            self.file()?.write_all_at(&empty, off)?;
            self.forget(no);
        }
        Ok(v)
    }

    fn take(&mut self, no: u64, at: u32) -> Box<[Option<T>]> {
        self.forget(no);
        let slots = self.read(at);
        self.free.push(at);
        slots
    }

    fn free(&mut self, no: u64, at: u32) {
        self.forget(no);
        self.free.push(at);
    }

    fn clear(&mut self) {
        self.cache.lock().clear();
        if let (Some(f), true) = (&self.file, self.slabs > 0) {
            // Gives the disk space back; a failure only leaves the file larger.
            let _ = f.set_len(0);
        }
        self.free.clear();
        self.slabs = 0;
    }

    #[cfg(test)]
    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

//! A small read-ahead window for segment reads.

use super::Segment;
use std::os::unix::fs::FileExt;

/// Read-ahead when reads look sequential (a consumer catching up).
const READ_AHEAD: usize = 64 * 1024;

/// The last window read from a segment file. A read right after the previous one fetches
/// `READ_AHEAD` bytes, so sequential reads cost one `pread` per window; other reads fetch
/// just their record.
#[derive(Default)]
pub(crate) struct ReadCache {
    /// Segment id of the window (0: none).
    seg: u64,
    start: u64,
    /// Holds the window in `..valid`.
    data: Vec<u8>,
    valid: usize,
    /// Where the last record read ended.
    last_end: u64,
}

impl ReadCache {
    pub(crate) fn read(&mut self, seg: &Segment, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let end = off + len as u64;
        let hit = self.seg == seg.id && off >= self.start && end <= self.start + self.valid as u64;
        if !hit {
            let sequential = self.seg == seg.id
                && off >= self.last_end
                && off - self.last_end < READ_AHEAD as u64;
            let want = if sequential { len.max(READ_AHEAD) } else { len };
            if self.data.len() < want {
                self.data.resize(want, 0);
            }
            self.seg = 0;
            let mut got = 0;
            while got < len || (sequential && got < want) {
                match seg
                    .file
                    .read_at(&mut self.data[got..want], off + got as u64)
                {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if got < len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.valid = got;
            self.seg = seg.id;
            self.start = off;
        }
        self.last_end = end;
        let at = (off - self.start) as usize;
        Ok(self.data[at..at + len].to_vec())
    }

    /// Forgets the window (its file changed under it).
    pub(crate) fn clear(&mut self) {
        self.seg = 0;
    }
}

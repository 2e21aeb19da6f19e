//! The buffered segment reader (source document 004): a segment read from a
//! non-seekable source is teed to a temp file while it is sent, so a failed
//! attempt starts again from the segment's first byte by reading the temp
//! file — the source itself is read exactly once. The temp files live under
//! a disk budget; a segment that does not fit is streamed unbuffered (and
//! counted), which is python-swiftclient's behaviour: that segment cannot be
//! retried once bytes of it were sent. Memory stays at a few fixed-size
//! chunks whatever the segment size.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex, OnceLock};

use md5::{Digest, Md5};

use super::body::Body;

/// Bytes per read from the source.
pub const READ_CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the sender (the memory bound, with one chunk held).
const READ_AHEAD: usize = 4;

/// A non-seekable source, read on its own thread so reading overlaps
/// sending; at most [`READ_AHEAD`] chunks wait in between.
pub struct StreamSource {
    rx: Receiver<io::Result<Vec<u8>>>,
    held: Vec<u8>,
    held_pos: usize,
    eof: bool,
    /// Bytes taken from the source so far.
    pub consumed: u64,
}

impl StreamSource {
    /// Starts reading `input` on a thread.
    pub fn spawn(mut input: Box<dyn Read + Send>) -> StreamSource {
        let (tx, rx) = sync_channel(READ_AHEAD);
        std::thread::spawn(move || loop {
            let mut chunk = vec![0u8; READ_CHUNK];
            match input.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        });
        StreamSource {
            rx,
            held: Vec::new(),
            held_pos: 0,
            eof: false,
            consumed: 0,
        }
    }

    /// Whether the source has ended (waits for the next chunk to know).
    pub fn at_end(&mut self) -> io::Result<bool> {
        self.refill()?;
        Ok(self.eof)
    }

    fn refill(&mut self) -> io::Result<()> {
        while self.held_pos == self.held.len() && !self.eof {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.held = chunk;
                    self.held_pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.eof = true,
            }
        }
        Ok(())
    }

    /// Copies up to `buf.len()` bytes; 0 only at the end of the source.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let n = buf.len().min(self.held.len() - self.held_pos);
        buf[..n].copy_from_slice(&self.held[self.held_pos..self.held_pos + n]);
        self.held_pos += n;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// Temp files that exist right now, so a Ctrl-C handler can remove them.
fn live_temps() -> &'static Mutex<HashSet<PathBuf>> {
    static LIVE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Removes every live temp file (from a signal-handling thread, before the
/// process exits). Holding the registry lock afterwards stops new ones from
/// being created: `exit` follows while the lock is held.
pub fn remove_all_temps() -> usize {
    let mut n = 0;
    if let Ok(mut live) = live_temps().lock() {
        for p in live.drain() {
            if std::fs::remove_file(&p).is_ok() {
                n += 1;
            }
        }
        // Keep the lock: a new temp file would need it.
        std::mem::forget(live);
    }
    n
}

/// A temp file that removes itself when dropped (confirmed or abandoned).
struct TempFile {
    file: File,
    path: PathBuf,
}

impl TempFile {
    fn create(dir: &Path, name: &str) -> io::Result<TempFile> {
        let path = dir.join(format!(
            ".paco-upload-{}-{name}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut live = live_temps()
            .lock()
            .map_err(|_| io::Error::other("temp registry poisoned"))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        live.insert(path.clone());
        Ok(TempFile { file, path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Ok(mut live) = live_temps().lock() {
            live.remove(&self.path);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The disk budget shared by the segments being buffered.
#[derive(Debug)]
pub struct Budget {
    dir: PathBuf,
    limit: u64,
    used: Mutex<u64>,
}

impl Budget {
    /// `limit` bytes of temp files under `dir`.
    pub fn new(dir: PathBuf, limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            dir,
            limit,
            used: Mutex::new(0),
        })
    }

    /// The directory temp files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn reserve(self: &Arc<Self>, n: u64) -> Option<Reservation> {
        let mut used = self.used.lock().ok()?;
        if used.checked_add(n).is_none_or(|total| total > self.limit) {
            return None;
        }
        *used += n;
        Some(Reservation {
            budget: self.clone(),
            n,
        })
    }
}

/// Budget held by one segment's temp file, given back on drop.
struct Reservation {
    budget: Arc<Budget>,
    n: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Ok(mut used) = self.budget.used.lock() {
            *used -= self.n;
        }
    }
}

/// One segment of a stream: up to `limit` bytes taken from the source,
/// teed to a temp file when the budget allowed one. Sent chunked (its length
/// is known only when the source says so).
pub struct StreamSegment<'a> {
    source: &'a mut StreamSource,
    limit: u64,
    buffer: Option<(TempFile, Reservation)>,
    /// Bytes taken from the source (and teed, when buffered).
    taken: u64,
    /// Read position in the current attempt.
    pos: u64,
    md5: Md5,
}

impl<'a> StreamSegment<'a> {
    /// Starts a segment of at most `limit` bytes; buffered when `budget`
    /// has room for a whole segment, otherwise unbuffered (see
    /// [`StreamSegment::buffered`]).
    pub fn new(
        source: &'a mut StreamSource,
        limit: u64,
        budget: &Arc<Budget>,
        label: &str,
    ) -> io::Result<StreamSegment<'a>> {
        let buffer = match budget.reserve(limit) {
            Some(r) => Some((TempFile::create(budget.dir(), label)?, r)),
            None => None,
        };
        Ok(StreamSegment {
            source,
            limit,
            buffer,
            taken: 0,
            pos: 0,
            md5: Md5::new(),
        })
    }

    /// Whether the segment is teed to a temp file (and so retryable).
    pub fn buffered(&self) -> bool {
        self.buffer.is_some()
    }

    /// The temp file's path, while there is one.
    pub fn temp_path(&self) -> Option<&Path> {
        self.buffer.as_ref().map(|(t, _)| t.path.as_path())
    }

    /// Bytes of the segment read so far (its size once sent completely).
    pub fn size(&self) -> u64 {
        self.taken
    }

    /// Hex MD5 of what the current attempt sent.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5.clone().finalize())
    }

    /// Drops the temp file and gives back its budget (the segment is
    /// confirmed, or the upload abandoned).
    pub fn release(&mut self) {
        self.buffer = None;
    }
}

impl Body for StreamSegment<'_> {
    fn len(&self) -> Option<u64> {
        None
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.taken {
            // A retry: replay what the temp file holds.
            let Some((t, _)) = &self.buffer else {
                return Err(io::Error::other("segment replay without a buffer"));
            };
            let want = (buf.len() as u64).min(self.taken - self.pos) as usize;
            let n = t.file.read_at(&mut buf[..want], self.pos)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment temp file shorter than written",
                ));
            }
            self.md5.update(&buf[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let want = (buf.len() as u64).min(self.limit - self.taken) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.source.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(0);
        }
        if let Some((t, _)) = &self.buffer {
            t.file.write_all_at(&buf[..n], self.taken)?;
        }
        self.md5.update(&buf[..n]);
        self.taken += n as u64;
        self.pos = self.taken;
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), String> {
        if self.buffer.is_none() && self.taken > 0 {
            return Err(format!(
                "segment not buffered ({} bytes of it already read from the stream)",
                self.taken
            ));
        }
        self.pos = 0;
        self.md5 = Md5::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(seg: &mut StreamSegment<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1000];
        loop {
            let n = seg.read(&mut buf).expect("read");
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn buffered_segment_replays_from_temp_without_rereading_the_source() {
        let dir = tempfile::tempdir().expect("dir");
        let budget = Budget::new(dir.path().to_path_buf(), 10_000);
        let input = data(12_345);
        let mut src = StreamSource::spawn(Box::new(io::Cursor::new(input.clone())));
        let mut seg = StreamSegment::new(&mut src, 5000, &budget, "s0").expect("segment");
        assert!(seg.buffered());
        // First attempt fails after 1500 bytes.
        let mut buf = vec![0u8; 1500];
        let n = seg.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], &input[..n]);
        seg.rewind().expect("rewind");
        let got = drain(&mut seg);
        assert_eq!(got, &input[..5000]);
        assert_eq!(seg.md5_hex(), hex::encode(Md5::digest(&input[..5000])));
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
        seg.release();
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        drop(seg);
        assert_eq!(src.consumed, 5000);
        let mut seg = StreamSegment::new(&mut src, 5000, &budget, "s1").expect("segment");
        assert_eq!(drain(&mut seg), &input[5000..10_000]);
        drop(seg);
        let mut seg = StreamSegment::new(&mut src, 5000, &budget, "s2").expect("segment");
        assert_eq!(drain(&mut seg), &input[10_000..]);
        assert_eq!(seg.size(), 2345);
        drop(seg);
        assert!(src.at_end().expect("eof"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn no_budget_means_unbuffered_and_not_rewindable_once_read() {
        let dir = tempfile::tempdir().expect("dir");
        let budget = Budget::new(dir.path().to_path_buf(), 4999);
        let input = data(6000);
        let mut src = StreamSource::spawn(Box::new(io::Cursor::new(input.clone())));
        let mut seg = StreamSegment::new(&mut src, 5000, &budget, "s0").expect("segment");
        assert!(!seg.buffered());
        assert!(seg.rewind().is_ok(), "nothing read yet: a retry is free");
        let mut buf = [0u8; 10];
        seg.read(&mut buf).expect("read");
        assert!(seg.rewind().is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn budget_is_shared_and_given_back() {
        let dir = tempfile::tempdir().expect("dir");
        let budget = Budget::new(dir.path().to_path_buf(), 100);
        let a = budget.reserve(60).expect("first fits");
        assert!(budget.reserve(60).is_none());
        drop(a);
        assert!(budget.reserve(100).is_some());
    }
}

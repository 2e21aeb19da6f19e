//! The DiskFile interface, after Swift's: how the object server finds, reads,
//! writes and deletes one object, whatever the layout on disk.

#![allow(async_fn_in_trait)] // used on one thread only; futures need not be Send

use std::rc::Rc;

use monoio::buf::IoBuf;

use crate::common::timestamp::Timestamp;

use super::metadata::{Metadata, MetadataError};

/// Why a disk operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DiskFileError {
    /// An I/O error from the filesystem.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored file is damaged.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The device is full.
    #[error("device full")]
    NoSpace,
    /// The name can not be stored in this layout (400).
    #[error("{0}")]
    BadName(String),
    /// The name collides with something already stored, such as a file
    /// where a directory is needed (409, as Swift-on-File answers).
    #[error("{0}")]
    Conflict(String),
    /// The metadata does not fit where this layout keeps it (400).
    #[error("{0}")]
    MetadataTooLarge(String),
}

impl DiskFileError {
    /// Maps an I/O error, singling out a full device (507 in Swift).
    pub fn from_io(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT) {
            DiskFileError::NoSpace
        } else {
            DiskFileError::Io(e)
        }
    }
}

/// What is stored for one name, once its files are resolved.
pub enum ObjectState {
    /// Nothing has ever been stored (or it was reclaimed).
    Missing,
    /// The newest event is a delete at this time.
    Deleted(Timestamp),
    /// An object exists.
    Present(OpenObject),
}

/// An object open for reading.
pub struct OpenObject {
    /// The open data file; the body is its first `content_length` bytes.
    pub file: Rc<monoio::fs::File>,
    /// Metadata of the data file with any newer POST metadata applied.
    pub metadata: Metadata,
    /// Body length.
    pub content_length: u64,
    /// The body's first bytes, read while finding the metadata (the whole
    /// body of a small object): sent from memory instead of read again.
    pub head: bytes::Bytes,
    /// Timestamp of the data file (the object's `X-Timestamp`).
    pub data_timestamp: Timestamp,
    /// Timestamp of the newest POST, if newer than the data.
    pub meta_timestamp: Option<Timestamp>,
}

impl OpenObject {
    /// Lets go of the object's file by an awaited close, not a drop (see
    /// `runtime::closing`); a response body still holding it closes it.
    pub async fn close(self) {
        crate::runtime::closing::close_shared(self.file).await;
    }

    /// The newest of the data and POST timestamps: what a later write must beat.
    pub fn newest_timestamp(&self) -> Timestamp {
        self.meta_timestamp
            .map_or(self.data_timestamp, |m| m.max(self.data_timestamp))
    }
}

/// One object name's files. Implementations: `hashed` (Swift's layout)
/// and `onfile` (Swift-on-File's plain files).
pub trait DiskFile {
    /// The writer `create` returns.
    type Writer: DiskFileWriter;

    /// The hex hash of the object's name (Swift's `hash_path`), naming its
    /// queued container updates and expiries.
    fn name_hash(&self) -> &str;

    /// Resolves the current state from the files present.
    async fn open(&self) -> Result<ObjectState, DiskFileError>;

    /// Starts writing a new version; nothing is visible until `commit`.
    async fn create(&self) -> Result<Self::Writer, DiskFileError>;

    /// Stores POST metadata at `timestamp` (a `.meta` file).
    async fn write_metadata(
        &self,
        timestamp: Timestamp,
        meta: &Metadata,
    ) -> Result<(), DiskFileError>;

    /// Stores a delete at `timestamp` (a `.ts` tombstone).
    async fn delete(&self, timestamp: Timestamp, meta: &Metadata) -> Result<(), DiskFileError>;

    /// `delete`, running `alongside` (the container update) while the
    /// tombstone's directory entry is being made durable, as
    /// [`DiskFileWriter::commit_with`] does for data.
    async fn delete_with<F: std::future::Future>(
        &self,
        timestamp: Timestamp,
        meta: &Metadata,
        alongside: F,
    ) -> (Result<(), DiskFileError>, Option<F::Output>) {
        match self.delete(timestamp, meta).await {
            Ok(()) => (Ok(()), Some(alongside.await)),
            Err(e) => (Err(e), None),
        }
    }
}

/// Streams a new object version to disk.
pub trait DiskFileWriter {
    /// Appends the bytes of `buf`; the buffer comes back for reuse.
    async fn write<B: IoBuf>(&mut self, buf: B) -> (Result<(), DiskFileError>, B);

    /// Bytes written so far.
    fn written(&self) -> u64;

    /// Switches the writer to block writes past the page cache
    /// ([`DiskFileWriter::write_block_at`]) when its storage takes them;
    /// `false` leaves it buffered (`write` only).
    fn start_direct(&mut self) -> bool {
        false
    }

    /// Writes `buf`, whole blocks at a block-aligned address, at `offset`
    /// (a block boundary at or past [`DiskFileWriter::written`]), after
    /// [`DiskFileWriter::start_direct`] said yes. Several may be in flight
    /// at once; once all are done, [`DiskFileWriter::advance_to`] moves
    /// the end of the file past them.
    async fn write_block_at<B: IoBuf>(
        &self,
        buf: B,
        offset: u64,
    ) -> (Result<(), DiskFileError>, B) {
        let _ = offset;
        (
            Err(DiskFileError::Io(std::io::Error::other(
                "this storage has no direct block writes",
            ))),
            buf,
        )
    }

    /// The block writes up to `end` are all done: later `write`s append
    /// from there.
    fn advance_to(&mut self, end: u64) {
        let _ = end;
    }

    /// Stores `meta` with the data, makes the file durable and moves it into
    /// place as the version at `timestamp`. Only after this returns `Ok`
    /// may the write be acknowledged.
    async fn commit(self, timestamp: Timestamp, meta: &Metadata) -> Result<(), DiskFileError>;

    /// `commit`, running `alongside` once the new version is in place, while
    /// its directory entries are being made durable, rather than after.
    /// `alongside` is the container update: both must be durable before the
    /// write is acknowledged, and neither depends on the other, so waiting
    /// for them one after the other only adds a flush to every write. The
    /// update does not start until the data itself is durable and renamed
    /// into place, so a failure or crash can at worst leave a listing row
    /// for a version whose directory entry was lost (as a write that failed
    /// its quorum does in Swift), never an acknowledged write without one.
    /// `None` means the commit failed before `alongside` started.
    async fn commit_with<F: std::future::Future>(
        self,
        timestamp: Timestamp,
        meta: &Metadata,
        alongside: F,
    ) -> (Result<(), DiskFileError>, Option<F::Output>)
    where
        Self: Sized,
    {
        match self.commit(timestamp, meta).await {
            Ok(()) => (Ok(()), Some(alongside.await)),
            Err(e) => (Err(e), None),
        }
    }

    /// Throws the partial write away.
    async fn abort(self);
}

/// Bytes of a large object after which the kernel is asked to start
/// writing them to the device.
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// Starts (without waiting for) the device write of every whole
/// [`WRITEBACK_STEP`] the append from `before` to `after` completed, so the
/// fsync at commit only waits for the last few MiB instead of the whole
/// object. Advisory: a filesystem that refuses it (NFS, FUSE) loses nothing.
fn start_writeback(file: &monoio::fs::File, before: u64, after: u64) {
    let from = before / WRITEBACK_STEP * WRITEBACK_STEP;
    let to = after / WRITEBACK_STEP * WRITEBACK_STEP;
    if to > from {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain syscall on a descriptor this file owns; with only
        // SYNC_FILE_RANGE_WRITE it queues writeback and returns.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                from as libc::off64_t,
                (to - from) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
}

/// Writes `buf` at `*written` (the end of what a writer has written so far)
/// and advances it: the append every layout's writer does for each body
/// buffer. The buffer comes back for reuse either way.
pub async fn append_at<B: IoBuf>(
    file: &monoio::fs::File,
    buf: B,
    written: &mut u64,
) -> (Result<(), DiskFileError>, B) {
    let len = buf.bytes_init() as u64;
    let (res, buf) = file.write_all_at(buf, *written).await;
    match res {
        Ok(()) => {
            let before = *written;
            *written += len;
            start_writeback(file, before, *written);
            (Ok(()), buf)
        }
        Err(e) => (Err(DiskFileError::from_io(e)), buf),
    }
}

//! The write side of the hashed layout: a [`HashedWriter`] stages a
//! version in `tmp/`, then places it (trailer, data flush, hash directory,
//! link or rename) and makes it durable alongside the container update,
//! as the write protocol in docs/on-disk-format.md orders it.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use monoio::buf::IoBuf;
use monoio::fs::{File, OpenOptions};

use crate::common::timestamp::Timestamp;

use super::super::direct::DirectIo;
use super::super::diskfile::{DiskFileError, DiskFileWriter};
use super::super::metadata::{self, Metadata};
use super::super::tmpfile::{self, LinkVia};
use super::{list_dir, Ext};

/// Removes the versions in `dir` that a newer one has superseded.
///
/// Runs as its own task after the write is acknowledged: the old files are
/// unreachable once the new version is in place, and an unlink (freeing
/// blocks, a discard on some mounts) would otherwise delay every overwrite's
/// answer. Losing this to a crash or a shutdown only leaves files that the
/// next write removes, and a concurrent cleanup of the same directory can
/// only remove files that are obsolete for it too (a version never becomes
/// current again once a newer one exists).
async fn remove_obsolete(dir: PathBuf) {
    if let Ok(listing) = list_dir(&dir).await {
        for name in listing.obsolete {
            let _ = monoio::fs::remove_file(dir.join(name)).await;
        }
    }
}

/// Fsyncs the parents of directories just made. The write is acknowledged
/// only after all of them, and no order among them matters for that, so
/// they are flushed two at a time (a new suffix directory makes the
/// partition directory and the suffix directory change).
async fn fsync_dirs(dirs: &[PathBuf]) -> io::Result<()> {
    let mut rest = dirs;
    while let [a, b, tail @ ..] = rest {
        let (ra, rb) = monoio::join!(fsync_dir(a), fsync_dir(b));
        ra?;
        rb?;
        rest = tail;
    }
    if let [last] = rest {
        fsync_dir(last).await?;
    }
    Ok(())
}

/// Opens a directory and fsyncs it through the ring, making renames and
/// creations in it durable (the object writers and the expirer queue).
pub(crate) async fn fsync_dir(dir: &Path) -> io::Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .await?;
    let synced = f.sync_all().await;
    let closed = f.close().await;
    synced.and(closed)
}

/// Creates `dir` and any missing parents below `root`, returning the
/// directories whose entries changed (each parent of a new directory).
async fn make_dirs(root: &Path, dir: &Path) -> io::Result<Vec<PathBuf>> {
    match monoio::fs::create_dir(dir).await {
        Ok(()) => return Ok(dir.parent().map(Path::to_path_buf).into_iter().collect()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Vec::new()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let rel = dir
        .strip_prefix(root)
        .map_err(|_| io::Error::other("directory outside device"))?;
    let mut changed = Vec::new();
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        match monoio::fs::create_dir(&cur).await {
            Ok(()) => changed.push(parent),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(changed)
}

/// Where a version being written lives until it is placed.
#[derive(Debug)]
pub(super) enum Staged {
    /// A file in `tmp/`, renamed into place.
    Named(PathBuf),
    /// An `O_TMPFILE` inode with no name, linked into place.
    Unnamed(LinkVia),
}

/// A version being written in `tmp/`.
#[derive(Debug)]
pub struct HashedWriter {
    pub(super) file: Option<File>,
    pub(super) staged: Staged,
    pub(super) dir: PathBuf,
    pub(super) root: PathBuf,
    pub(super) written: u64,
    /// Whole aligned blocks of a large body skip the page cache (see
    /// `direct`), once the receive loop starts it.
    pub(super) direct: DirectIo,
    pub(super) ext: Ext,
    pub(super) done: bool,
}

impl DiskFileWriter for HashedWriter {
    async fn write<B: IoBuf>(&mut self, buf: B) -> (Result<(), DiskFileError>, B) {
        let Some(file) = self.file.as_ref() else {
            return (Err(io::Error::other("writer already closed").into()), buf);
        };
        self.direct.append(file, buf, &mut self.written).await
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn start_direct(&mut self) -> bool {
        match self.file.as_ref() {
            Some(file) => self.direct.start(file),
            None => false,
        }
    }

    async fn write_block_at<B: IoBuf>(
        &self,
        buf: B,
        offset: u64,
    ) -> (Result<(), DiskFileError>, B) {
        let Some(file) = self.file.as_ref() else {
            return (Err(io::Error::other("writer already closed").into()), buf);
        };
        self.direct.write_at(file, buf, offset).await
    }

    fn advance_to(&mut self, end: u64) {
        debug_assert!(end >= self.written);
        self.written = end;
    }

    async fn commit(self, timestamp: Timestamp, meta: &Metadata) -> Result<(), DiskFileError> {
        self.commit_with(timestamp, meta, async {}).await.0
    }

    async fn commit_with<F: std::future::Future>(
        mut self,
        timestamp: Timestamp,
        meta: &Metadata,
        alongside: F,
    ) -> (Result<(), DiskFileError>, Option<F::Output>) {
        let placed = self.place(timestamp, meta).await;
        let (made_dir, linked) = match placed {
            Ok(placed) => placed,
            Err(e) => return (Err(e), None),
        };
        let (synced, inode, out) =
            monoio::join!(fsync_dir(&self.dir), sync_linked(linked), alongside);
        if let Err(e) = synced.and(inode) {
            return (Err(e.into()), Some(out));
        }
        // A directory made just now holds nothing older.
        if !made_dir {
            monoio::spawn(remove_obsolete(std::mem::take(&mut self.dir)));
        }
        (Ok(()), Some(out))
    }

    async fn abort(mut self) {
        if let Some(f) = self.file.take() {
            let _ = f.close().await;
        }
        if let Staged::Named(path) = &self.staged {
            let _ = monoio::fs::remove_file(path).await;
        }
        self.done = true;
    }
}

impl HashedWriter {
    /// Writes the metadata trailer, makes the file durable and links or
    /// renames it into the hash directory (made if missing, its new entry
    /// and those of any parent made with it made durable). Returns whether
    /// the hash directory was made and, for a linked file, the file: its
    /// link count changed too. The hash directory's own fsync is left to
    /// the caller.
    async fn place(
        &mut self,
        timestamp: Timestamp,
        meta: &Metadata,
    ) -> Result<(bool, Option<File>), DiskFileError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("writer already closed"))?;
        // The trailer is not block-aligned: it goes through the page cache.
        self.direct.finish(&file).map_err(DiskFileError::from_io)?;
        let trailer = metadata::encode_trailer(meta, self.written);
        let (res, _) = file.write_all_at(trailer, self.written).await;
        res.map_err(DiskFileError::from_io)?;
        // The hash directory is made, and its entry in its parent flushed,
        // while the data is flushed: an empty directory is harmless (it
        // reads as no object, as Swift's, which makes it before the body
        // even arrives), so only the link or rename has to wait for the
        // data, and only the hash directory's fsync is left after it.
        let dirs = async {
            let changed = make_dirs(&self.root, &self.dir).await?;
            fsync_dirs(&changed).await?;
            Ok::<bool, io::Error>(!changed.is_empty())
        };
        let (synced, made) = monoio::join!(file.sync_data(), dirs);
        synced.map_err(DiskFileError::from_io)?;
        let made_dir = made?;
        let target = self
            .dir
            .join(format!("{}{}", timestamp.internal(), self.ext.suffix()));
        let linked = match &self.staged {
            Staged::Named(tmp) => {
                file.close().await?;
                monoio::fs::rename(tmp, &target).await?;
                None
            }
            Staged::Unnamed(via) => {
                link_replacing(&file, *via, &target).await?;
                Some(file)
            }
        };
        self.done = true;
        Ok((made_dir, linked))
    }
}

/// Links the unnamed `file` as `target`. A name already there (a write
/// with the same timestamp) is replaced, as a rename would.
async fn link_replacing(file: &File, via: LinkVia, target: &Path) -> io::Result<()> {
    match tmpfile::link(file.as_raw_fd(), via, target) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            match monoio::fs::remove_file(target).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            tmpfile::link(file.as_raw_fd(), via, target)
        }
        other => other,
    }
}

/// Makes a just-linked file's inode durable, then closes it. Its data is
/// durable already; this writes its new link count (metadata `fdatasync`
/// may skip), which journaling filesystems commit with the directory fsync
/// anyway (the fsyncs then share one commit) but ext4 without a journal
/// writes only when the file itself is synced.
async fn sync_linked(file: Option<File>) -> io::Result<()> {
    let Some(file) = file else {
        return Ok(());
    };
    file.sync_all().await?;
    file.close().await
}

impl Drop for HashedWriter {
    fn drop(&mut self) {
        if !self.done {
            // An error path dropped the writer without abort: never leave the
            // staged file behind (an unnamed one goes with its descriptor).
            if let Staged::Named(path) = &self.staged {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

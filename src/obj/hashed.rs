//! Swift's `hashed` object layout:
//! `<device>/objects/<part>/<suffix>/<hash>/<timestamp>.{data,ts,meta}`, with
//! writes staged in `<device>/tmp/` (unnamed where the filesystem allows,
//! see `super::tmpfile`) and linked or renamed into place once durable.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use monoio::fs::{File, OpenOptions};

use crate::common::hash::{hash_hex, hash_path, partition, HashConf};
use crate::common::timestamp::Timestamp;
use crate::runtime::closing::close_read_only;

use super::direct::DirectIo;
use super::dirents;
use super::diskfile::{DiskFile, DiskFileError, DiskFileWriter, ObjectState, OpenObject};
use super::metadata::{self, Metadata, FOOTER_LEN};
use super::tmpfile::{self, LinkVia};

#[path = "hashed_writer.rs"]
mod writer;
pub(crate) use writer::fsync_dir;
pub use writer::HashedWriter;
use writer::Staged;

/// Bytes read from the end of a file in one go to find its metadata; most
/// metadata fits, so opening an object costs one read.
const TAIL_READ: usize = 16 * 1024;

/// Hands out [`HashedDiskFile`]s for one device.
#[derive(Debug, Clone)]
pub struct HashedManager {
    device_root: PathBuf,
    /// `objects` for policy 0, `objects-N` for policy N (as Swift).
    objects_dir: String,
    /// `tmp` for policy 0, `tmp-N` for policy N.
    tmp_dir: String,
    hash_conf: HashConf,
    part_power: u8,
    /// How writes staged as unnamed files are linked into place; `None`:
    /// stage them as named files in `tmp/` (found at start-up).
    link: Option<LinkVia>,
}

impl HashedManager {
    /// A manager for the device at `device_root` (created if missing). Temp
    /// files left by a crash are removed: no writer can be running yet.
    pub fn new(device_root: PathBuf, hash_conf: HashConf, part_power: u8) -> io::Result<Self> {
        Self::for_policy(device_root, hash_conf, part_power, 0)
    }

    /// A manager for storage policy `index` on the device: Swift's
    /// `objects-N/` and `tmp-N/` for N > 0.
    pub fn for_policy(
        device_root: PathBuf,
        hash_conf: HashConf,
        part_power: u8,
        index: u32,
    ) -> io::Result<Self> {
        assert!(part_power <= 32, "part power over 32");
        let suffix = if index == 0 {
            String::new()
        } else {
            format!("-{index}")
        };
        let objects_dir = format!("objects{suffix}");
        let tmp_dir = format!("tmp{suffix}");
        std::fs::create_dir_all(device_root.join(&objects_dir))?;
        std::fs::create_dir_all(device_root.join(&tmp_dir))?;
        let link = tmpfile::probe(&device_root.join(&tmp_dir));
        Ok(HashedManager {
            device_root,
            objects_dir,
            tmp_dir,
            hash_conf,
            part_power,
            link,
        })
    }

    /// The same manager staging writes as named files in `tmp/`, the path
    /// taken where `O_TMPFILE` is not available.
    #[cfg(test)]
    pub(crate) fn with_named_staging(mut self) -> Self {
        self.link = None;
        self
    }

    /// Removes staged writes that no process is finishing (at start-up).
    pub fn clean_tmp(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.device_root.join(&self.tmp_dir))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The device directory this manager stores under.
    pub fn device_root(&self) -> &Path {
        &self.device_root
    }

    /// The disk file for `/account/container/object`.
    pub fn get(self: &Rc<Self>, account: &str, container: &str, object: &str) -> HashedDiskFile {
        // hash_path only fails without a container, which this signature rules out.
        let digest =
            hash_path(&self.hash_conf, account, Some(container), Some(object)).unwrap_or([0u8; 16]);
        let hash = hash_hex(&digest);
        let part = partition(&digest, self.part_power);
        let suffix = &hash[hash.len() - 3..];
        // One allocation for the whole path rather than one per join.
        let root = self.device_root.as_os_str().len();
        let mut dir = PathBuf::with_capacity(root + self.objects_dir.len() + 52);
        dir.push(&self.device_root);
        dir.push(&self.objects_dir);
        dir.push(part.to_string());
        dir.push(suffix);
        dir.push(&hash);
        HashedDiskFile {
            manager: self.clone(),
            dir,
            hash,
            partition: part,
        }
    }
}

/// One object name's hash directory.
#[derive(Debug)]
pub struct HashedDiskFile {
    manager: Rc<HashedManager>,
    dir: PathBuf,
    hash: String,
    partition: u32,
}

/// The kinds of file a hash directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ext {
    Data,
    Meta,
    Tombstone,
}

impl Ext {
    fn suffix(self) -> &'static str {
        match self {
            Ext::Data => ".data",
            Ext::Meta => ".meta",
            Ext::Tombstone => ".ts",
        }
    }
}

fn parse_name(name: &str) -> Option<(Timestamp, Ext)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let ext = match ext {
        "data" => Ext::Data,
        "meta" => Ext::Meta,
        "ts" => Ext::Tombstone,
        _ => return None,
    };
    Timestamp::parse(stem).ok().map(|t| (t, ext))
}

/// The files that decide an object's state, newest first within each kind.
#[derive(Debug, Default)]
struct Listing {
    /// Newest `.data` or `.ts`.
    newest: Option<(Timestamp, Ext)>,
    /// Newest `.meta` newer than `newest`.
    meta: Option<Timestamp>,
    /// The file names of `newest` and `meta`, as listed.
    newest_name: Option<String>,
    meta_name: Option<String>,
    /// Files superseded by the two above.
    obsolete: Vec<String>,
}

async fn list_dir(dir: &Path) -> io::Result<Listing> {
    let (handle, listing) = open_dir(dir).await?;
    close_dir(handle).await;
    Ok(listing)
}

/// Closes a directory opened by [`open_dir`] by an awaited close, not a
/// drop (see `runtime::closing`).
async fn close_dir(handle: Option<File>) {
    if let Some(h) = handle {
        close_read_only(h).await;
    }
}

/// Opens and lists a hash directory. The open directory (`None` when it
/// does not exist) lets the caller open the listed files without walking
/// the whole path again.
async fn open_dir(dir: &Path) -> io::Result<(Option<File>, Listing)> {
    // readdir has no io_uring op, but open and close do: only the
    // getdents64 calls are syscalls of their own (a hash directory holds a
    // handful of names). The caller closes it with `close_dir`.
    let handle = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .await
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, Listing::default())),
        Err(e) => return Err(e),
    };
    let mut files: Vec<(Timestamp, Ext, String)> = Vec::new();
    let read = dirents::for_each_name_in(handle.as_raw_fd(), &mut |raw: &[u8]| {
        if let Some((ts, ext)) = std::str::from_utf8(raw).ok().and_then(parse_name) {
            files.push((ts, ext, String::from_utf8_lossy(raw).into_owned()));
        }
    });
    if let Err(e) = read {
        close_dir(Some(handle)).await;
        return Err(e);
    }
    Ok((Some(handle), sorted_listing(files)))
}

/// Picks the files that decide the object's state from a hash directory's
/// parsed names.
fn sorted_listing(mut files: Vec<(Timestamp, Ext, String)>) -> Listing {
    files.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut listing = Listing::default();
    for (ts, ext, name) in files {
        match ext {
            Ext::Data | Ext::Tombstone if listing.newest.is_none() => {
                listing.newest = Some((ts, ext));
                listing.newest_name = Some(name);
            }
            Ext::Meta if listing.newest.is_none() && listing.meta.is_none() => {
                listing.meta = Some(ts);
                listing.meta_name = Some(name);
            }
            _ => listing.obsolete.push(name),
        }
    }
    // A .meta only matters on top of a .data.
    if listing.newest.is_none_or(|(_, e)| e == Ext::Tombstone) {
        if let Some(m) = listing.meta.take() {
            listing.meta_name = None;
            listing
                .obsolete
                .push(format!("{}{}", m.internal(), Ext::Meta.suffix()));
        }
    }
    listing
}

/// Opens `name`, just listed in `dir`. Relative to the open directory when
/// the kernel can do it from its caches alone (no path walk, and never
/// waiting for the disk on the worker); otherwise through the ring, which
/// hands a lookup that needs the disk to its own workers.
async fn open_listed(handle: Option<&File>, dir: &Path, name: &str) -> io::Result<File> {
    if let Some(h) = handle {
        if let Some(f) = dirents::open_cached(h.as_raw_fd(), name.as_bytes())? {
            return File::from_std(f);
        }
    }
    File::open(dir.join(name)).await
}

/// Reads a file's metadata. The first read takes the file's first
/// `TAIL_READ` bytes: for a small object that is the whole file (body,
/// metadata and footer in one read, no statx), and for a large one it is
/// the start of the body, which a GET sends from memory. Returns the
/// metadata, the body length and the bytes read from offset 0.
async fn read_file_metadata(file: &File) -> Result<(Metadata, u64, Bytes), DiskFileError> {
    let (res, head) = file.read_at(Vec::with_capacity(TAIL_READ), 0).await;
    let n = res?;
    if (FOOTER_LEN..TAIL_READ).contains(&n) {
        // A short read of a regular file means end of file; the footer's
        // own length check confirms it.
        if let Ok(footer) = metadata::parse_footer(&head[n - FOOTER_LEN..n], n as u64) {
            let at = n - FOOTER_LEN - footer.meta_len;
            let meta = metadata::decode_meta(&head[at..n - FOOTER_LEN], &footer)?;
            let body_len = footer.body_len;
            let mut head = Bytes::from(head);
            head.truncate(body_len as usize);
            return Ok((meta, body_len, head));
        }
    }
    let file_len = file.metadata().await?.len();
    if file_len < FOOTER_LEN as u64 {
        return Err(metadata::MetadataError::Corrupt("file shorter than a footer").into());
    }
    let tail_len = (file_len as usize).min(TAIL_READ);
    let tail = read_exact_at(file, tail_len, file_len - tail_len as u64).await?;
    let footer = metadata::parse_footer(&tail[tail_len - FOOTER_LEN..], file_len)?;
    let block_start = footer.body_len;
    let meta = if footer.meta_len + FOOTER_LEN <= tail_len {
        let at = tail_len - FOOTER_LEN - footer.meta_len;
        metadata::decode_meta(&tail[at..tail_len - FOOTER_LEN], &footer)?
    } else {
        let block = read_exact_at(file, footer.meta_len, block_start).await?;
        metadata::decode_meta(&block, &footer)?
    };
    let mut head = Bytes::from(head);
    head.truncate((n as u64).min(footer.body_len) as usize);
    Ok((meta, footer.body_len, head))
}

async fn read_exact_at(file: &File, len: usize, pos: u64) -> Result<Vec<u8>, DiskFileError> {
    let (res, buf) = file.read_exact_at(Vec::with_capacity(len), pos).await;
    res?;
    Ok(buf)
}

impl HashedDiskFile {
    /// The object's hash (hex), naming its directory.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The object's partition.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The object's hash directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn open_once(&self) -> Result<ObjectState, DiskFileError> {
        let (handle, listing) = open_dir(&self.dir).await?;
        // The files are opened relative to the directory, which then closes
        // while they are read (on every path, errors included).
        let opened = self.open_listed_files(handle.as_ref(), &listing).await;
        let ((), state) = monoio::join!(close_dir(handle), async move {
            let (data_ts, file, meta_file) = match opened? {
                Ok(files) => files,
                Err(state) => return Ok(state),
            };
            let (mut meta, content_length, head) = read_file_metadata(&file).await?;
            if let Some(mf) = meta_file {
                let (post, _, _) = read_file_metadata(&mf).await?;
                close_read_only(mf).await;
                apply_post(&mut meta, post);
            }
            Ok(ObjectState::Present(OpenObject {
                file: Rc::new(file),
                metadata: meta,
                content_length,
                head,
                data_timestamp: data_ts,
                meta_timestamp: listing.meta,
            }))
        });
        state
    }

    /// Opens the data file (and `.meta`) that `listing` names, or says why
    /// there is no object to open.
    async fn open_listed_files(
        &self,
        handle: Option<&File>,
        listing: &Listing,
    ) -> Result<Result<(Timestamp, File, Option<File>), ObjectState>, DiskFileError> {
        let (data_ts, ext) = match listing.newest {
            None => return Ok(Err(ObjectState::Missing)),
            Some(n) => n,
        };
        if ext == Ext::Tombstone {
            return Ok(Err(ObjectState::Deleted(data_ts)));
        }
        // The names as listed: no need to format them again.
        let Some(data_name) = listing.newest_name.as_deref() else {
            return Ok(Err(ObjectState::Missing));
        };
        let file = open_listed(handle, &self.dir, data_name).await?;
        let meta_file = match &listing.meta_name {
            Some(name) => match open_listed(handle, &self.dir, name).await {
                Ok(f) => Some(f),
                Err(e) => {
                    close_read_only(file).await;
                    return Err(e.into());
                }
            },
            None => None,
        };
        Ok(Ok((data_ts, file, meta_file)))
    }

    async fn write_marker(
        &self,
        ext: Ext,
        timestamp: Timestamp,
        meta: &Metadata,
    ) -> Result<(), DiskFileError> {
        self.create_with(ext).await?.commit(timestamp, meta).await
    }

    async fn create_with(&self, ext: Ext) -> Result<HashedWriter, DiskFileError> {
        let tmp_dir = self.manager.device_root.join(&self.manager.tmp_dir);
        let (file, staged) = match self.manager.link {
            Some(via) => match OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o644)
                .open(&tmp_dir)
                .await
            {
                Ok(file) => (file, Staged::Unnamed(via)),
                Err(e) if tmpfile::refused(&e) => self.create_named(tmp_dir).await?,
                Err(e) => return Err(DiskFileError::from_io(e)),
            },
            None => self.create_named(tmp_dir).await?,
        };
        Ok(HashedWriter {
            file: Some(file),
            staged,
            dir: self.dir.clone(),
            root: self.manager.device_root.join(&self.manager.objects_dir),
            written: 0,
            // A direct write waits for the device: only where file I/O
            // waits off the worker thread (io_uring).
            direct: if crate::runtime::file_io_off_thread() {
                DirectIo::new()
            } else {
                DirectIo::disabled()
            },
            ext,
            done: false,
        })
    }

    /// A named staging file in `tmp_dir`.
    async fn create_named(&self, tmp_dir: PathBuf) -> Result<(File, Staged), DiskFileError> {
        let mut path = tmp_dir;
        path.push(format!("{}-{:016x}.tmp", self.hash, rand::random::<u64>()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .await
            .map_err(DiskFileError::from_io)?;
        Ok((file, Staged::Named(path)))
    }
}

/// A POST replaces the user metadata and the headers a POST may set, and
/// keeps what describes the data (size, ETag, name).
pub(super) fn apply_post(meta: &mut Metadata, post: Metadata) {
    meta.retain(|k, _| !super::server::is_post_replaced(k));
    for (k, v) in post {
        if super::server::is_post_replaced(&k) || k.eq_ignore_ascii_case("Content-Type") {
            meta.insert(k, v);
        }
    }
}

impl DiskFile for HashedDiskFile {
    type Writer = HashedWriter;

    fn name_hash(&self) -> &str {
        &self.hash
    }

    async fn open(&self) -> Result<ObjectState, DiskFileError> {
        // A concurrent write's cleanup may unlink a file between listing and
        // opening it; the listing is then stale, so look again.
        let mut tries = 0;
        loop {
            match self.open_once().await {
                Err(DiskFileError::Io(e)) if e.kind() == io::ErrorKind::NotFound && tries < 3 => {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn create(&self) -> Result<HashedWriter, DiskFileError> {
        self.create_with(Ext::Data).await
    }

    async fn write_metadata(
        &self,
        timestamp: Timestamp,
        meta: &Metadata,
    ) -> Result<(), DiskFileError> {
        self.write_marker(Ext::Meta, timestamp, meta).await
    }

    async fn delete(&self, timestamp: Timestamp, meta: &Metadata) -> Result<(), DiskFileError> {
        self.write_marker(Ext::Tombstone, timestamp, meta).await
    }

    async fn delete_with<F: std::future::Future>(
        &self,
        timestamp: Timestamp,
        meta: &Metadata,
        alongside: F,
    ) -> (Result<(), DiskFileError>, Option<F::Output>) {
        match self.create_with(Ext::Tombstone).await {
            Ok(w) => w.commit_with(timestamp, meta, alongside).await,
            Err(e) => (Err(e), None),
        }
    }
}

#[cfg(test)]
#[path = "hashed_tests.rs"]
mod tests;

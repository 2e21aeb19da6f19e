//! Swift-on-File's layout (the `onfile` storage policy): each object is a
//! plain file `<mount>/<account>/<container>/<object>` holding exactly the
//! object's bytes, so other programs on a GPFS, Gluster or NFS mount read
//! and list the same data. One replica; durability is the filesystem's, but
//! a write is still fsync'd (file, xattrs and directory) before its 2xx.
//!
//! Metadata lives in one extended attribute, `user.paco.meta` (JSON), on
//! the file; an object name ending in `/` with `Content-Type:
//! application/directory` and no body is a directory marker and becomes a
//! directory carrying that attribute. ext4 keeps about 4 KiB of xattrs per
//! inode, so metadata larger than [`MAX_META_BYTES`] is refused with a 400
//! instead of being cut. See `docs/on-disk-format.md`.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use monoio::buf::IoBuf;
use monoio::fs::File;

use crate::common::hash::{hash_hex, hash_path, HashConf};
use crate::common::timestamp::Timestamp;

use super::diskfile::{
    append_at, DiskFile, DiskFileError, DiskFileWriter, ObjectState, OpenObject,
};
use super::metadata::Metadata;

/// The extended attribute holding an object's metadata.
const XATTR_NAME: &[u8] = b"user.paco.meta\0";
/// Largest metadata (JSON bytes) stored: what fits in one ext4 xattr block
/// beside the attribute's own header.
pub const MAX_META_BYTES: usize = 4000;
/// Temp files of writes in progress start with this; object names may not.
const TMP_PREFIX: &str = ".paco-tmp-";
/// Metadata key of the newest POST's timestamp (the data's is `X-Timestamp`).
const POST_TS_KEY: &str = "Paco-Post-Timestamp";
/// Longest path component most filesystems accept (NAME_MAX).
const NAME_MAX: usize = 255;

/// Whether a Content-Type marks a directory object (Swift-on-File's
/// `application/directory`, parameters ignored).
pub fn is_directory_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/directory"))
}

/// Hands out [`OnfileDiskFile`]s under one mount.
#[derive(Debug, Clone)]
pub struct OnfileManager {
    mount: PathBuf,
    hash_conf: HashConf,
}

fn bad(msg: String) -> DiskFileError {
    DiskFileError::BadName(msg)
}

/// Checks one path component; `what` names it in the error.
fn check_component(c: &str, what: &str) -> Result<(), DiskFileError> {
    if c.is_empty() {
        return Err(bad(format!(
            "{what} cannot begin, end, or have contiguous forward slashes \
             in the onfile storage policy"
        )));
    }
    if c == "." || c == ".." {
        return Err(bad(format!(
            "{what} cannot contain '.' or '..' as a path component \
             in the onfile storage policy"
        )));
    }
    if c.contains('\0') {
        return Err(bad(format!("{what} cannot contain NUL bytes")));
    }
    if c.len() > NAME_MAX {
        return Err(bad(format!(
            "{what} has a path component longer than {NAME_MAX} bytes, \
             which the onfile storage policy cannot store"
        )));
    }
    if c.starts_with(TMP_PREFIX) {
        return Err(bad(format!(
            "{what} cannot have a path component starting with {TMP_PREFIX:?} \
             in the onfile storage policy"
        )));
    }
    Ok(())
}

impl OnfileManager {
    /// A manager for the filesystem mounted at `mount`, which must exist
    /// (a missing mount means the shared filesystem is not mounted).
    pub fn new(mount: PathBuf, hash_conf: HashConf) -> io::Result<Self> {
        if !std::fs::metadata(&mount)?.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                mount.display()
            )));
        }
        Ok(OnfileManager { mount, hash_conf })
    }

    /// The mount objects are stored under.
    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// The disk file for `/account/container/object`; `directory` when the
    /// request creates a directory marker. Names that cannot be a path
    /// below the mount are refused here, before anything touches the disk.
    pub fn get(
        self: &Rc<Self>,
        account: &str,
        container: &str,
        object: &str,
        directory: bool,
    ) -> Result<OnfileDiskFile, DiskFileError> {
        check_component(account, "Account name")?;
        check_component(container, "Container name")?;
        // `dir/` and `dir` name the same directory; only a directory
        // marker may be created with the slash.
        let name = object.strip_suffix('/').unwrap_or(object);
        for c in name.split('/') {
            check_component(c, "Object name")?;
        }
        let digest =
            hash_path(&self.hash_conf, account, Some(container), Some(object)).unwrap_or([0u8; 16]);
        let path = self.mount.join(account).join(container).join(name);
        Ok(OnfileDiskFile {
            manager: self.clone(),
            path,
            directory,
            trailing_slash: name.len() != object.len(),
            hash: hash_hex(&digest),
        })
    }
}

/// One object's file (or directory, for a directory marker).
#[derive(Debug)]
pub struct OnfileDiskFile {
    manager: Rc<OnfileManager>,
    path: PathBuf,
    directory: bool,
    trailing_slash: bool,
    hash: String,
}

/// Reads the metadata attribute; `None` when the file has none.
fn get_meta(fd: i32) -> Result<Option<Metadata>, DiskFileError> {
    let mut buf = vec![0u8; MAX_META_BYTES + 512];
    // SAFETY: the name is NUL-terminated and the buffer is valid for its length.
    let n = unsafe {
        libc::fgetxattr(
            fd,
            XATTR_NAME.as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) => Ok(None),
            Some(libc::ERANGE) => Err(super::metadata::MetadataError::Corrupt(
                "onfile metadata attribute too large",
            )
            .into()),
            _ => Err(e.into()),
        };
    }
    buf.truncate(n as usize);
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|_| super::metadata::MetadataError::Corrupt("onfile metadata is not JSON").into())
}

/// Encodes `meta`, refusing what would not fit in the attribute.
fn encode_meta(meta: &Metadata) -> Result<Vec<u8>, DiskFileError> {
    let json = serde_json::to_vec(meta).map_err(io::Error::other)?;
    if json.len() > MAX_META_BYTES {
        return Err(DiskFileError::MetadataTooLarge(format!(
            "Metadata too large for the onfile storage policy: {} bytes, \
             at most {MAX_META_BYTES} fit in its extended attribute",
            json.len()
        )));
    }
    Ok(json)
}

/// Writes the metadata attribute (replacing any, atomically).
fn set_meta(fd: i32, json: &[u8]) -> Result<(), DiskFileError> {
    // SAFETY: the name is NUL-terminated and `json` is valid for its length.
    let rc = unsafe {
        libc::fsetxattr(
            fd,
            XATTR_NAME.as_ptr().cast(),
            json.as_ptr().cast(),
            json.len(),
            0,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // ext4 answers ENOSPC when the attribute block is full.
        Some(libc::E2BIG | libc::ERANGE | libc::ENOSPC) => {
            Err(DiskFileError::MetadataTooLarge(format!(
                "Metadata too large for the onfile storage policy: the filesystem \
                 refused {} bytes of extended attributes",
                json.len()
            )))
        }
        Some(libc::ENOTSUP) => Err(io::Error::other(
            "the onfile mount does not support user extended attributes",
        )
        .into()),
        _ => Err(e.into()),
    }
}

/// Opens `path` without following a final symlink (another program's link
/// could point outside the mount).
fn open_nofollow(path: &Path, directory: bool) -> io::Result<std::fs::File> {
    let mut flags = libc::O_NOFOLLOW | libc::O_CLOEXEC;
    if directory {
        flags |= libc::O_DIRECTORY;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ELOOP)
    )
}

/// fsyncs an open file through the runtime (io_uring where available), so
/// the worker keeps serving while the filesystem commits.
async fn sync_file(file: std::fs::File) -> io::Result<()> {
    let f = File::from_std(file)?;
    f.sync_all().await?;
    f.close().await
}

/// fsyncs a directory, making the entries changed in it durable.
async fn fsync_dir(dir: &Path) -> io::Result<()> {
    sync_file(open_nofollow(dir, true)?).await
}

/// Creates `dir` and its missing parents below `root`, returning the
/// directories whose entries changed. A component that exists as a file is
/// a name conflict (409).
fn make_dirs(root: &Path, dir: &Path) -> Result<Vec<PathBuf>, DiskFileError> {
    let rel = dir
        .strip_prefix(root)
        .map_err(|_| io::Error::other("directory outside the mount"))?;
    let mut changed = Vec::new();
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        match std::fs::create_dir(&cur) {
            Ok(()) => changed.push(parent),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !std::fs::symlink_metadata(&cur)?.is_dir() {
                    return Err(conflict_file(root, &cur));
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(conflict_file(root, &parent));
            }
            Err(e) => return Err(DiskFileError::from_io(e)),
        }
    }
    Ok(changed)
}

fn conflict_file(root: &Path, at: &Path) -> DiskFileError {
    let rel = at.strip_prefix(root).unwrap_or(at);
    DiskFileError::Conflict(format!(
        "{} already exists as a file; it cannot also be a directory",
        rel.display()
    ))
}

impl OnfileDiskFile {
    fn relative(&self) -> String {
        self.path
            .strip_prefix(&self.manager.mount)
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }

    fn parent(&self) -> &Path {
        self.path.parent().unwrap_or(&self.manager.mount)
    }

    /// The container directory: cleanup of empty parents stops here.
    fn container_dir(&self) -> PathBuf {
        let rel = self.path.strip_prefix(&self.manager.mount).ok();
        let mut comps = rel.into_iter().flat_map(|r| r.components());
        let mut dir = self.manager.mount.clone();
        for c in comps.by_ref().take(2) {
            dir.push(c);
        }
        dir
    }

    /// Removes directories left empty (and not markers) between the object
    /// and its container, so a later object may reuse their names.
    fn prune_parents(&self) {
        let stop = self.container_dir();
        let mut dir = self.path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == stop || !d.starts_with(&stop) {
                break;
            }
            let marker = open_nofollow(&d, true)
                .ok()
                .and_then(|f| get_meta(f.as_raw_fd()).ok().flatten())
                .is_some();
            if marker || std::fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }

    fn state_of(&self, file: std::fs::File) -> Result<ObjectState, DiskFileError> {
        let Some(mut meta) = get_meta(file.as_raw_fd())? else {
            // A directory that only holds other objects, or a file another
            // program wrote: not an object of this store.
            return Ok(ObjectState::Missing);
        };
        let stat = file.metadata()?;
        let content_length = if stat.is_dir() { 0 } else { stat.len() };
        let data_timestamp = meta
            .get("X-Timestamp")
            .and_then(|t| Timestamp::parse(t).ok())
            .ok_or(super::metadata::MetadataError::Corrupt(
                "onfile metadata without X-Timestamp",
            ))?;
        let meta_timestamp = meta
            .remove(POST_TS_KEY)
            .and_then(|t| Timestamp::parse(&t).ok());
        Ok(ObjectState::Present(OpenObject {
            file: Rc::new(File::from_std(file)?),
            metadata: meta,
            content_length,
            head: bytes::Bytes::new(),
            data_timestamp,
            meta_timestamp,
        }))
    }
}

impl DiskFile for OnfileDiskFile {
    type Writer = OnfileWriter;

    fn name_hash(&self) -> &str {
        &self.hash
    }

    async fn open(&self) -> Result<ObjectState, DiskFileError> {
        // O_NOFOLLOW|O_RDONLY opens files and directories alike.
        match open_nofollow(&self.path, false) {
            Ok(f) => self.state_of(f),
            Err(e) if is_missing(&e) => Ok(ObjectState::Missing),
            Err(e) => Err(e.into()),
        }
    }

    async fn create(&self) -> Result<OnfileWriter, DiskFileError> {
        if self.trailing_slash && !self.directory {
            return Err(bad(
                "Object name cannot end with '/' in the onfile storage policy \
                 unless it is a directory marker (Content-Type: application/directory)"
                    .into(),
            ));
        }
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.is_dir() && !self.directory => {
                return Err(DiskFileError::Conflict(format!(
                    "{} already exists as a directory",
                    self.relative()
                )))
            }
            Ok(m) if !m.is_dir() && self.directory => {
                return Err(conflict_file(&self.manager.mount, &self.path))
            }
            _ => {}
        }
        if self.directory {
            return Ok(OnfileWriter {
                target: self.path.clone(),
                mount: self.manager.mount.clone(),
                tmp: None,
                written: 0,
                directory: true,
            });
        }
        let changed = make_dirs(&self.manager.mount, self.parent())?;
        let tmp_path = self.parent().join(format!(
            "{TMP_PREFIX}{}-{:016x}",
            self.hash,
            rand::random::<u64>()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp_path)
            .map_err(DiskFileError::from_io)?;
        Ok(OnfileWriter {
            target: self.path.clone(),
            mount: self.manager.mount.clone(),
            tmp: Some(Tmp {
                file: Some(File::from_std(file)?),
                path: tmp_path,
                new_dirs: changed,
            }),
            written: 0,
            directory: false,
        })
    }

    async fn write_metadata(
        &self,
        timestamp: Timestamp,
        meta: &Metadata,
    ) -> Result<(), DiskFileError> {
        let file = open_nofollow(&self.path, false)?;
        let mut stored = get_meta(file.as_raw_fd())?.unwrap_or_default();
        super::hashed::apply_post(&mut stored, meta.clone());
        stored.insert(POST_TS_KEY.into(), timestamp.internal());
        let json = encode_meta(&stored)?;
        set_meta(file.as_raw_fd(), &json)?;
        sync_file(file).await.map_err(DiskFileError::from_io)?;
        Ok(())
    }

    async fn delete(&self, _timestamp: Timestamp, _meta: &Metadata) -> Result<(), DiskFileError> {
        let stat = match std::fs::symlink_metadata(&self.path) {
            Ok(s) => s,
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if stat.is_dir() {
            // A marker over other objects keeps the directory and loses
            // only its metadata, as Swift-on-File leaves non-empty
            // directories in place.
            match std::fs::remove_dir(&self.path) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
                    let d = open_nofollow(&self.path, true)?;
                    // SAFETY: the name is NUL-terminated.
                    let rc =
                        unsafe { libc::fremovexattr(d.as_raw_fd(), XATTR_NAME.as_ptr().cast()) };
                    if rc != 0 {
                        let e = io::Error::last_os_error();
                        if e.raw_os_error() != Some(libc::ENODATA) {
                            return Err(e.into());
                        }
                    }
                    sync_file(d).await?;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            std::fs::remove_file(&self.path)?;
        }
        fsync_dir(self.parent()).await?;
        self.prune_parents();
        Ok(())
    }
}

/// A file write's temp file, in the target's directory so the final rename
/// never crosses filesystems.
#[derive(Debug)]
struct Tmp {
    file: Option<File>,
    path: PathBuf,
    /// Directories whose entries changed while making the target's parents.
    new_dirs: Vec<PathBuf>,
}

/// Writes one object (or creates one directory marker).
#[derive(Debug)]
pub struct OnfileWriter {
    target: PathBuf,
    mount: PathBuf,
    tmp: Option<Tmp>,
    written: u64,
    directory: bool,
}

impl DiskFileWriter for OnfileWriter {
    async fn write<B: IoBuf>(&mut self, buf: B) -> (Result<(), DiskFileError>, B) {
        if buf.bytes_init() == 0 {
            return (Ok(()), buf);
        }
        let Some(file) = self.tmp.as_ref().and_then(|t| t.file.as_ref()) else {
            return (
                Err(DiskFileError::BadName(
                    "A directory marker (Content-Type: application/directory) \
                     cannot have a body in the onfile storage policy"
                        .into(),
                )),
                buf,
            );
        };
        append_at(file, buf, &mut self.written).await
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn commit(mut self, timestamp: Timestamp, meta: &Metadata) -> Result<(), DiskFileError> {
        let mut meta = meta.clone();
        meta.insert("X-Timestamp".into(), timestamp.internal());
        let json = encode_meta(&meta)?;
        if self.directory {
            let mut changed = make_dirs(&self.mount, &self.target)?;
            let d = open_nofollow(&self.target, true)?;
            set_meta(d.as_raw_fd(), &json)?;
            sync_file(d).await.map_err(DiskFileError::from_io)?;
            changed.sort();
            changed.dedup();
            for dir in changed {
                fsync_dir(&dir).await?;
            }
            return Ok(());
        }
        let Some(mut tmp) = self.tmp.take() else {
            return Err(io::Error::other("writer already closed").into());
        };
        let result = async {
            let file = tmp
                .file
                .take()
                .ok_or_else(|| io::Error::other("writer already closed"))?;
            set_meta(file.as_raw_fd(), &json)?;
            // fsync, not fdatasync: the attribute is inode metadata.
            file.sync_all().await.map_err(DiskFileError::from_io)?;
            file.close().await?;
            if let Err(e) = monoio::fs::rename(&tmp.path, &self.target).await {
                return Err(match e.raw_os_error() {
                    Some(libc::EISDIR) | Some(libc::ENOTEMPTY) | Some(libc::EEXIST) => {
                        DiskFileError::Conflict(format!(
                            "{} already exists as a directory",
                            self.target
                                .strip_prefix(&self.mount)
                                .unwrap_or(&self.target)
                                .display()
                        ))
                    }
                    _ => DiskFileError::from_io(e),
                });
            }
            let mut dirs = std::mem::take(&mut tmp.new_dirs);
            if let Some(p) = self.target.parent() {
                dirs.push(p.to_path_buf());
            }
            dirs.sort();
            dirs.dedup();
            for dir in dirs {
                fsync_dir(&dir).await?;
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp.path);
        }
        result
    }

    async fn abort(mut self) {
        if let Some(mut tmp) = self.tmp.take() {
            if let Some(f) = tmp.file.take() {
                let _ = f.close().await;
            }
            let _ = std::fs::remove_file(&tmp.path);
        }
    }
}

impl Drop for OnfileWriter {
    fn drop(&mut self) {
        // An error path dropped the writer without abort or commit: never
        // leave the temp file beside the objects.
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(&tmp.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(dir: &Path) -> Rc<OnfileManager> {
        let conf = HashConf {
            prefix: String::new(),
            suffix: "t".into(),
        };
        Rc::new(OnfileManager::new(dir.to_path_buf(), conf).expect("manager"))
    }

    fn meta() -> Metadata {
        let mut m = Metadata::new();
        m.insert("Content-Type".into(), "text/plain".into());
        m.insert("ETag".into(), "x".into());
        m
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn names_that_escape_the_mount_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manager(dir.path());
        for (a, c, o) in [
            ("a", "c", "../x"),
            ("a", "c", "x/../../y"),
            ("a", "c", "/abs"),
            ("a", "c", "x//y"),
            ("a", "c", "x/."),
            ("a", "c", "x\0y"),
            ("..", "c", "o"),
            ("a", ".", "o"),
            ("a", "c", "dir//"),
            ("a", "c", ".paco-tmp-x"),
        ] {
            assert!(
                matches!(m.get(a, c, o, false), Err(DiskFileError::BadName(_))),
                "{a}/{c}/{o} was accepted"
            );
        }
        assert!(m.get("a", "c", "dir/", true).is_ok());
        let file_with_slash = m.get("a", "c", "dir/", false).expect("name");
        assert!(matches!(
            run(file_with_slash.create()),
            Err(DiskFileError::BadName(_))
        ));
        assert!(m.get("a", "c", "x/y z.txt", false).is_ok());
    }

    #[test]
    fn object_is_a_plain_file_with_xattr_metadata() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manager(dir.path());
        run(async {
            let df = m.get("a", "c", "d1/d2/obj", false).expect("name");
            let mut w = df.create().await.expect("create");
            let (r, _) = w.write(b"hello".to_vec()).await;
            r.expect("write");
            w.commit(Timestamp::parse("1.0").expect("ts"), &meta())
                .await
                .expect("commit");
            let path = dir.path().join("a/c/d1/d2/obj");
            assert_eq!(std::fs::read(&path).expect("read"), b"hello");
            let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
                .expect("readdir")
                .collect();
            assert_eq!(names.len(), 1, "a temp file was left behind");
            match df.open().await.expect("open") {
                ObjectState::Present(o) => {
                    assert_eq!(o.content_length, 5);
                    assert_eq!(o.metadata.get("ETag").map(String::as_str), Some("x"));
                }
                _ => panic!("object missing"),
            }
            // A file where a directory is needed, and the reverse: 409.
            let below = m.get("a", "c", "d1/d2/obj/under", false).expect("name");
            assert!(matches!(
                below.create().await,
                Err(DiskFileError::Conflict(_))
            ));
            let over = m.get("a", "c", "d1/d2", false).expect("name");
            assert!(matches!(
                over.create().await,
                Err(DiskFileError::Conflict(_))
            ));
            // Oversized metadata is refused and leaves the object alone.
            let mut big = meta();
            big.insert("X-Object-Meta-Big".into(), "v".repeat(MAX_META_BYTES));
            let mut w = df.create().await.expect("create");
            let (r, _) = w.write(b"other".to_vec()).await;
            r.expect("write");
            assert!(matches!(
                w.commit(Timestamp::parse("2.0").expect("ts"), &big).await,
                Err(DiskFileError::MetadataTooLarge(_))
            ));
            assert_eq!(std::fs::read(&path).expect("read"), b"hello");
            df.delete(Timestamp::parse("3.0").expect("ts"), &Metadata::new())
                .await
                .expect("delete");
            assert!(!path.exists());
            assert!(
                !dir.path().join("a/c/d1").exists(),
                "empty parents were left behind"
            );
            assert!(matches!(df.open().await, Ok(ObjectState::Missing)));
        });
    }

    #[test]
    fn directory_markers_become_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manager(dir.path());
        run(async {
            let df = m.get("a", "c", "photos/", true).expect("name");
            let w = df.create().await.expect("create");
            let mut dm = meta();
            dm.insert("Content-Type".into(), "application/directory".into());
            w.commit(Timestamp::parse("1.0").expect("ts"), &dm)
                .await
                .expect("commit");
            assert!(dir.path().join("a/c/photos").is_dir());
            let read = m.get("a", "c", "photos/", false).expect("name");
            match read.open().await.expect("open") {
                ObjectState::Present(o) => assert_eq!(o.content_length, 0),
                _ => panic!("marker missing"),
            }
            // A plain directory without metadata is no object.
            std::fs::create_dir(dir.path().join("a/c/plain")).expect("mkdir");
            let plain = m.get("a", "c", "plain", false).expect("name");
            assert!(matches!(plain.open().await, Ok(ObjectState::Missing)));
        });
    }
}

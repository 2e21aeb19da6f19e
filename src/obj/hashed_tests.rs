//! Tests of the hashed layout: listing names, and the commit's order with
//! the container update.

use super::*;
use crate::runtime::on_both_drivers;

/// A manager for a new device in `dir`, staging writes unnamed or named.
fn manager(dir: &Path, named: bool) -> Rc<HashedManager> {
    let m = HashedManager::new(dir.to_path_buf(), HashConf::default(), 10).expect("manager");
    assert!(
        named || m.link.is_some(),
        "unnamed staging asked for without O_TMPFILE"
    );
    Rc::new(if named { m.with_named_staging() } else { m })
}

/// The staging ways to test in `dir`: unnamed and named where the
/// filesystem takes `O_TMPFILE` (ext4, XFS and tmpfs do), only named where
/// it does not (overlayfs before Linux 6.6), with a note that the unnamed
/// way went untested.
fn staging_ways(dir: &Path) -> &'static [bool] {
    if super::tmpfile::probe(dir).is_some() {
        &[false, true]
    } else {
        eprintln!(
            "O_TMPFILE unavailable in {}: unnamed staging untested",
            dir.display()
        );
        &[true]
    }
}

/// The files in the device's `tmp/`.
fn staged_files(m: &HashedManager) -> usize {
    std::fs::read_dir(m.device_root().join("tmp"))
        .expect("tmp dir")
        .count()
}

/// A writer for `df` holding `body`, not yet committed.
async fn staged(df: &HashedDiskFile, body: &[u8]) -> HashedWriter {
    let mut w = df.create().await.expect("create");
    let (r, _) = w.write(body.to_vec()).await;
    r.expect("write");
    w
}

/// Lists `dir` on both drivers, checking that both agree.
fn listed(dir: &Path) -> io::Result<Listing> {
    let results = std::cell::RefCell::new(Vec::new());
    on_both_drivers(|| async {
        let listing = list_dir(dir).await;
        results.borrow_mut().push(listing)
    });
    let mut results = results.into_inner();
    let second = results.pop().expect("second driver");
    let first = results.pop().expect("first driver");
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "drivers agree"),
        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "drivers agree"),
        _ => panic!("drivers disagree: {first:?} / {second:?}"),
    }
    first
}

#[test]
fn names_parse_and_sort_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in [
        "0000000001.00000.data",
        "0000000003.00000.meta",
        "0000000002.00000.data",
        "0000000001.50000.meta",
        "junk.tmp",
    ] {
        std::fs::write(dir.path().join(n), b"").expect("write");
    }
    let l = listed(dir.path()).expect("list");
    assert_eq!(l.newest.map(|n| n.1), Some(Ext::Data));
    assert_eq!(
        l.newest.map(|n| n.0.internal()),
        Some("0000000002.00000".to_string())
    );
    assert_eq!(
        l.meta.map(|t| t.internal()),
        Some("0000000003.00000".to_string())
    );
    assert_eq!(l.newest_name.as_deref(), Some("0000000002.00000.data"));
    assert_eq!(l.meta_name.as_deref(), Some("0000000003.00000.meta"));
    let mut obsolete = l.obsolete.clone();
    obsolete.sort();
    assert_eq!(
        obsolete,
        vec!["0000000001.00000.data", "0000000001.50000.meta"]
    );
}

#[test]
fn tombstone_hides_older_data_and_meta() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in [
        "0000000001.00000.data",
        "0000000002.00000.ts",
        "0000000003.00000.meta",
    ] {
        std::fs::write(dir.path().join(n), b"").expect("write");
    }
    let l = listed(dir.path()).expect("list");
    assert_eq!(l.newest.map(|n| n.1), Some(Ext::Tombstone));
    assert_eq!(l.newest_name.as_deref(), Some("0000000002.00000.ts"));
    assert_eq!(l.meta, None);
    assert_eq!(l.meta_name, None);
    assert_eq!(l.obsolete.len(), 2);
}

#[test]
fn listed_files_open_relative_to_the_directory_or_by_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("0000000001.00000.data"), b"one").expect("write");
    on_both_drivers(|| async {
        let (handle, listing) = open_dir(dir.path()).await.expect("list");
        let name = listing.newest_name.expect("listed");
        // Relative to the open directory, and by path (the way taken when
        // the kernel would need the disk to resolve the name).
        for h in [handle.as_ref(), None] {
            let f = open_listed(h, dir.path(), &name).await.expect("open");
            let (r, buf) = f.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(r.expect("read"), 3);
            assert_eq!(buf, b"one");
        }
        let gone = open_listed(handle.as_ref(), dir.path(), "0000000002.00000.data").await;
        assert_eq!(gone.err().map(|e| e.kind()), Some(io::ErrorKind::NotFound));
    });
}

#[test]
fn a_missing_hash_dir_lists_empty_and_a_file_in_its_place_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = listed(&dir.path().join("absent")).expect("missing is not an error");
    assert!(l.newest.is_none() && l.meta.is_none() && l.obsolete.is_empty());
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let e = listed(&file).expect_err("a file is not a hash directory");
    assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
}

#[test]
fn the_container_update_runs_once_the_version_is_in_place() {
    on_both_drivers(|| async {
        for &named in staging_ways(&std::env::temp_dir()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let m = manager(dir.path(), named);
            for (n, ts) in [(1, "1.00000"), (2, "2.00000")] {
                let df = m.get("a", "c", "o");
                let w = staged(&df, b"hello").await;
                assert_eq!(staged_files(&m), usize::from(named), "named {named}");
                let ts = Timestamp::parse(ts).expect("ts");
                let target = df.dir().join(format!("{}.data", ts.internal()));
                let seen = async { (target.exists(), staged_files(&m)) };
                let (r, out) = w.commit_with(ts, &Metadata::new(), seen).await;
                r.expect("commit");
                assert_eq!(out, Some((true, 0)), "write {n}, named {named}");
            }
            // The second write removes the first version, after answering.
            let dir = m.get("a", "c", "o").dir().to_path_buf();
            assert_eq!(names_settled(&dir, 1).await, 1);
        }
    });
}

#[test]
fn both_staging_paths_store_the_same_object() {
    on_both_drivers(|| async {
        for &named in staging_ways(&std::env::temp_dir()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let m = manager(dir.path(), named);
            let df = m.get("a", "c", "o");
            let w = staged(&df, b"hello world").await;
            let mut meta = Metadata::new();
            meta.insert("ETag".into(), "x".into());
            let ts = Timestamp::parse("3.00000").expect("ts");
            w.commit(ts, &meta).await.expect("commit");
            let data = df.dir().join("0000000003.00000.data");
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&data).expect("stat").permissions(),
            );
            assert_eq!(mode & 0o777, 0o644, "named {named}");
            match df.open().await.expect("open") {
                ObjectState::Present(o) => {
                    assert_eq!(o.content_length, 11);
                    assert_eq!(&o.head[..], b"hello world");
                    assert_eq!(o.metadata.get("ETag").map(String::as_str), Some("x"));
                }
                _ => panic!("object missing, named {named}"),
            }
            assert_eq!(staged_files(&m), 0);
        }
    });
}

#[test]
fn a_linked_write_replaces_a_file_with_its_name() {
    on_both_drivers(|| async {
        let dir = tempfile::tempdir().expect("tempdir");
        if !staging_ways(dir.path()).contains(&false) {
            return; // no link without O_TMPFILE: a rename replaces names
        }
        let m = manager(dir.path(), false);
        let df = m.get("a", "c", "o");
        std::fs::create_dir_all(df.dir()).expect("mkdir");
        // A same-timestamp version already there (rename would replace it).
        let data = df.dir().join("0000000004.00000.data");
        std::fs::write(&data, b"stale").expect("write");
        let w = staged(&df, b"fresh").await;
        let ts = Timestamp::parse("4.00000").expect("ts");
        w.commit(ts, &Metadata::new()).await.expect("commit");
        assert_eq!(&std::fs::read(&data).expect("read")[..5], b"fresh");
    });
}

#[test]
fn an_abandoned_write_leaves_nothing_staged() {
    on_both_drivers(|| async {
        for &named in staging_ways(&std::env::temp_dir()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let m = manager(dir.path(), named);
            let df = m.get("a", "c", "o");
            let w = staged(&df, b"partial").await;
            drop(w);
            let w = df.create().await.expect("create");
            w.abort().await;
            assert_eq!(staged_files(&m), 0, "named {named}");
            assert!(matches!(df.open().await, Ok(ObjectState::Missing)));
        }
    });
}

/// The number of names in `dir` once it reaches `want` (the cleanup of
/// superseded versions runs as its own task), or what it holds after a
/// few seconds.
async fn names_settled(dir: &Path, want: usize) -> usize {
    let count = || std::fs::read_dir(dir).expect("read dir").count();
    for _ in 0..500 {
        if count() == want {
            break;
        }
        monoio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    count()
}

#[test]
fn an_overwrite_answers_before_the_old_version_is_removed() {
    on_both_drivers(|| async {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manager(dir.path(), staging_ways(dir.path())[0]);
        let df = m.get("a", "c", "o");
        for ts in ["1.00000", "2.00000"] {
            let w = df.create().await.expect("create");
            let ts = Timestamp::parse(ts).expect("ts");
            w.commit(ts, &Metadata::new()).await.expect("commit");
        }
        let old = df.dir().join("0000000001.00000.data");
        // Nothing has yielded to the cleanup task yet.
        assert!(old.exists(), "removed before the answer");
        assert_eq!(names_settled(df.dir(), 1).await, 1);
        assert!(!old.exists());
        match df.open().await.expect("open") {
            ObjectState::Present(o) => assert_eq!(o.data_timestamp.internal(), "0000000002.00000"),
            _ => panic!("newest version missing"),
        }
    });
}

#[test]
fn a_commit_that_fails_before_placing_never_starts_the_update() {
    on_both_drivers(|| async {
        for &named in staging_ways(&std::env::temp_dir()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let m = manager(dir.path(), named);
            let df = m.get("a", "c", "o");
            // A file where the suffix directory belongs: the hash directory
            // cannot be made.
            let suffix = df.dir().parent().expect("suffix dir");
            std::fs::create_dir_all(suffix.parent().expect("partition dir")).expect("mkdir");
            std::fs::write(suffix, b"").expect("blocker");
            let w = df.create().await.expect("create");
            let ts = Timestamp::parse("1.00000").expect("ts");
            let (r, out) = w.commit_with(ts, &Metadata::new(), async { 1 }).await;
            assert!(r.is_err());
            assert_eq!(out, None);
            assert_eq!(staged_files(&m), 0, "the staged file is removed");
        }
    });
}

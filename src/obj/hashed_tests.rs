//! Tests of the hashed layout: listing names, and the commit's order with
//! the container update.

use super::*;
use crate::runtime::on_both_drivers;

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
    let l = list_dir(dir.path()).expect("list");
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
    let l = list_dir(dir.path()).expect("list");
    assert_eq!(l.newest.map(|n| n.1), Some(Ext::Tombstone));
    assert_eq!(l.newest_name.as_deref(), Some("0000000002.00000.ts"));
    assert_eq!(l.meta, None);
    assert_eq!(l.meta_name, None);
    assert_eq!(l.obsolete.len(), 2);
}

#[test]
fn the_container_update_runs_once_the_version_is_in_place() {
    on_both_drivers(|| async {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = Rc::new(
            HashedManager::new(dir.path().to_path_buf(), HashConf::default(), 10).expect("manager"),
        );
        for (n, ts) in [(1, "1.00000"), (2, "2.00000")] {
            let df = m.get("a", "c", "o");
            let mut w = df.create().await.expect("create");
            let (r, _) = w.write(b"hello".to_vec()).await;
            r.expect("write");
            let tmp = w.tmp_path.clone();
            let ts = Timestamp::parse(ts).expect("ts");
            let target = df.dir().join(format!("{}.data", ts.internal()));
            let seen = async { (target.exists(), tmp.exists()) };
            let (r, out) = w.commit_with(ts, &Metadata::new(), seen).await;
            r.expect("commit");
            assert_eq!(out, Some((true, false)), "write {n}");
        }
        // The second write removes the first version, after answering.
        let dir = m.get("a", "c", "o").dir().to_path_buf();
        assert_eq!(names_settled(&dir, 1).await, 1);
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
        let m = Rc::new(
            HashedManager::new(dir.path().to_path_buf(), HashConf::default(), 10).expect("manager"),
        );
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
        let dir = tempfile::tempdir().expect("tempdir");
        let m = Rc::new(
            HashedManager::new(dir.path().to_path_buf(), HashConf::default(), 10).expect("manager"),
        );
        let df = m.get("a", "c", "o");
        // A file where the suffix directory belongs: the hash directory
        // cannot be made.
        let suffix = df.dir().parent().expect("suffix dir");
        std::fs::create_dir_all(suffix.parent().expect("partition dir")).expect("mkdir");
        std::fs::write(suffix, b"").expect("blocker");
        let w = df.create().await.expect("create");
        let tmp = w.tmp_path.clone();
        let ts = Timestamp::parse("1.00000").expect("ts");
        let (r, out) = w.commit_with(ts, &Metadata::new(), async { 1 }).await;
        assert!(r.is_err());
        assert_eq!(out, None);
        assert!(!tmp.exists(), "the staged file is removed");
    });
}

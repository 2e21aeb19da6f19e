//! Container database operations on real SQLite files.

use rusqlite::{Connection, TransactionBehavior};
use tempfile::TempDir;

use super::*;
use crate::common::hash::HashConf;
use crate::db::listing::ListParams;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn conf() -> HashConf {
    HashConf {
        prefix: String::new(),
        suffix: "changeme".into(),
    }
}

struct Db {
    _tmp: TempDir,
    loc: DbLocation,
    conn: Connection,
}

fn new_db() -> Db {
    let tmp = TempDir::new().expect("tempdir");
    let loc = DbLocation::new(tmp.path(), &conf(), 8, "AUTH_t", Some("c")).expect("location");
    let mut conn = schema::open(&loc.path, true)
        .expect("open")
        .expect("created");
    let (outcome, _) =
        create(&mut conn, &loc, t(1), ContainerPolicy::Default(0), &[]).expect("create");
    assert_eq!(outcome, CreateOutcome::Created);
    Db {
        _tmp: tmp,
        loc,
        conn,
    }
}

fn put(name: &str, secs: i64, size: u64) -> ObjectUpdate {
    ObjectUpdate {
        name: name.to_string(),
        timestamp: t(secs),
        size,
        content_type: "text/plain".into(),
        etag: format!("etag-{name}-{secs}"),
        deleted: false,
        storage_policy_index: 0,
    }
}

fn del(name: &str, secs: i64) -> ObjectUpdate {
    ObjectUpdate {
        name: name.to_string(),
        timestamp: t(secs),
        size: 0,
        content_type: "application/deleted".into(),
        etag: "noetag".into(),
        deleted: true,
        storage_policy_index: 0,
    }
}

fn apply(conn: &mut Connection, updates: &[ObjectUpdate]) -> Vec<UpdateOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let refs: Vec<&ObjectUpdate> = updates.iter().collect();
    let out = merge_objects(&tx, &refs).expect("merge");
    tx.commit().expect("commit");
    out
}

fn stat(conn: &Connection) -> (u64, u64) {
    let i = info(conn).expect("info").expect("exists");
    (i.object_count, i.bytes_used)
}

fn names(conn: &Connection, p: &ListParams) -> Vec<String> {
    list(conn, p)
        .expect("list")
        .iter()
        .map(|i| i.name().to_string())
        .collect()
}

#[test]
fn stats_follow_put_overwrite_delete() {
    let mut db = new_db();
    use UpdateOutcome::*;
    assert_eq!(apply(&mut db.conn, &[put("a", 10, 100)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (1, 100));
    // Overwrite: count stays, bytes change.
    assert_eq!(apply(&mut db.conn, &[put("a", 11, 30)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (1, 30));
    assert_eq!(
        apply(&mut db.conn, &[put("b", 12, 5), put("c", 12, 7)]),
        vec![Applied, Applied]
    );
    assert_eq!(stat(&db.conn), (3, 42));
    assert_eq!(apply(&mut db.conn, &[del("b", 13)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (2, 37));
    // Deleting a tombstone again (newer) changes nothing in the totals.
    assert_eq!(apply(&mut db.conn, &[del("b", 14)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (2, 37));
    // A delete of a name never seen leaves a tombstone only.
    assert_eq!(apply(&mut db.conn, &[del("zz", 14)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (2, 37));
    assert_eq!(names(&db.conn, &ListParams::default()), vec!["a", "c"]);
    // The stat row agrees with a full count.
    let (n, b): (i64, i64) = db
        .conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM object WHERE deleted = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!((n as u64, b as u64), stat(&db.conn));
}

#[test]
fn timestamps_decide() {
    let mut db = new_db();
    use UpdateOutcome::*;
    // Newer delete, then an older put arrives late: ignored.
    assert_eq!(
        apply(&mut db.conn, &[del("o", 20), put("o", 10, 5)]),
        vec![Applied, Stale]
    );
    assert_eq!(stat(&db.conn), (0, 0));
    assert!(names(&db.conn, &ListParams::default()).is_empty());
    // A newer put wins over the delete.
    assert_eq!(apply(&mut db.conn, &[put("o", 30, 9)]), vec![Applied]);
    assert_eq!(stat(&db.conn), (1, 9));
    // An older delete is ignored; an equal timestamp is stale too.
    assert_eq!(
        apply(&mut db.conn, &[del("o", 25), put("o", 30, 1)]),
        vec![Stale, Stale]
    );
    assert_eq!(stat(&db.conn), (1, 9));
    // Offsets order writes sharing a time.
    let mut newer = put("o", 30, 4);
    newer.timestamp = t(30).with_offset(1);
    assert_eq!(apply(&mut db.conn, &[newer]), vec![Applied]);
    assert_eq!(stat(&db.conn), (1, 4));
    let rows = list(&db.conn, &ListParams::default()).expect("list");
    match rows.first() {
        Some(ListItem::Entry(e)) => {
            assert_eq!(e.last_modified, t(30).with_offset(1));
            assert_eq!(e.bytes, 4);
            assert_eq!(e.content_type, "text/plain");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Exactly one row per name, live or tombstone.
    let rows: i64 = db
        .conn
        .query_row("SELECT COUNT(*) FROM object WHERE name = 'o'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(rows, 1);
}

#[test]
fn create_delete_recreate() {
    let mut db = new_db();
    let meta = vec![("X-Container-Meta-Color".to_string(), "blue".to_string())];
    // Re-PUT: Accepted, metadata applied.
    let (o, i) = create(
        &mut db.conn,
        &db.loc,
        t(2),
        ContainerPolicy::Default(0),
        &meta,
    )
    .expect("create");
    assert_eq!(o, CreateOutcome::Accepted);
    assert_eq!(i.put_timestamp, t(2));
    assert_eq!(
        i.metadata.get("X-Container-Meta-Color").map(String::as_str),
        Some("blue")
    );
    // Explicit different policy on a live container: conflict.
    let (o, _) = create(
        &mut db.conn,
        &db.loc,
        t(3),
        ContainerPolicy::Explicit(1),
        &[],
    )
    .expect("create");
    assert_eq!(o, CreateOutcome::PolicyConflict(0));
    // Not empty: refused.
    apply(&mut db.conn, &[put("x", 5, 1)]);
    let (o, _) = delete(&mut db.conn, t(6)).expect("delete");
    assert_eq!(o, DeleteOutcome::NotEmpty);
    apply(&mut db.conn, &[del("x", 7)]);
    // Delete older than the PUT: conflict.
    let (o, _) = delete(&mut db.conn, t(1)).expect("delete");
    assert_eq!(o, DeleteOutcome::Conflict);
    let (o, i) = delete(&mut db.conn, t(8)).expect("delete");
    assert_eq!(o, DeleteOutcome::Deleted);
    assert!(i.deleted);
    assert!(i.metadata.is_empty(), "delete clears metadata");
    assert_eq!(i.status_changed_at, t(8));
    // Deleting again: 404, newer delete timestamp still recorded.
    let (o, i) = delete(&mut db.conn, t(9)).expect("delete");
    assert_eq!(o, DeleteOutcome::NotFound);
    assert_eq!(i.delete_timestamp, t(9));
    // POST to a deleted container: 404.
    assert!(matches!(
        update_metadata(&mut db.conn, t(9), &meta),
        Err(DbError::NotFound)
    ));
    // Re-PUT older than the delete: stays deleted.
    let (o, _) = create(
        &mut db.conn,
        &db.loc,
        t(4),
        ContainerPolicy::Default(0),
        &[],
    )
    .expect("create");
    assert_eq!(o, CreateOutcome::Conflict);
    // Newer PUT recreates it, with the requested policy; old metadata gone.
    let (o, i) = create(
        &mut db.conn,
        &db.loc,
        t(10),
        ContainerPolicy::Explicit(2),
        &[],
    )
    .expect("create");
    assert_eq!(o, CreateOutcome::Created);
    assert!(!i.deleted);
    assert_eq!(i.storage_policy_index, 2);
    assert_eq!(i.status_changed_at, t(10));
    assert!(i.metadata.is_empty());
    assert_eq!((i.object_count, i.bytes_used), (0, 0));
}

#[test]
fn metadata_merges_by_timestamp() {
    let mut db = new_db();
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    update_metadata(&mut db.conn, t(10), &[kv("X-Container-Meta-A", "1")]).expect("post");
    update_metadata(&mut db.conn, t(5), &[kv("X-Container-Meta-A", "old")]).expect("post");
    let i = update_metadata(
        &mut db.conn,
        t(11),
        &[
            kv("X-Container-Meta-B", "2"),
            kv("X-Container-Read", ".r:*"),
        ],
    )
    .expect("post");
    assert_eq!(
        i.metadata.get("X-Container-Meta-A").map(String::as_str),
        Some("1")
    );
    assert_eq!(i.metadata.len(), 3);
    let i = update_metadata(&mut db.conn, t(12), &[kv("X-Container-Meta-A", "")]).expect("post");
    assert!(!i.metadata.contains_key("X-Container-Meta-A"));
    assert_eq!(i.metadata.len(), 2);
}

fn tricky_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "a",
        "a/",
        "a/b",
        "a/b/c",
        "a/b/d",
        "a/c",
        "a-b",
        "a0",
        "b",
        "b/\u{e9}t\u{e9}",
        "b/\u{e9}t\u{e9}/x",
        "b/z",
        "caf\u{e9}",
        "caf\u{e9}/menu",
        "\u{2603}/snow",
        "\u{2603}/snow/man",
        "\u{1F600}",
        "\u{1F600}/grin",
        "z//double",
        "z/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.sort();
    v
}

/// Lists the same names through SQLite and through the algorithm over an
/// in-memory vector; the rows must agree one by one.
#[test]
fn sqlite_listing_matches_reference_row_by_row() {
    let mut db = new_db();
    let all = tricky_names();
    let updates: Vec<ObjectUpdate> = all
        .iter()
        .enumerate()
        .map(|(i, n)| put(n, 100 + i as i64, i as u64))
        .collect();
    apply(&mut db.conn, &updates);
    // Tombstones interleaved must not show up.
    apply(
        &mut db.conn,
        &[put("a/b/gone", 1, 1), del("a/b/gone", 2), del("b/ghost", 3)],
    );
    let reference = |p: &ListParams| -> Vec<String> {
        let r: std::result::Result<Vec<ListItem<ObjectEntry>>, ()> = listing::list(p, |q, f| {
            let it: Box<dyn Iterator<Item = &String>> = if q.reverse {
                Box::new(all.iter().rev())
            } else {
                Box::new(all.iter())
            };
            for n in it.filter(|n| q.contains(n.as_bytes())).take(q.limit) {
                let e = ObjectEntry {
                    name: n.clone(),
                    bytes: 0,
                    hash: String::new(),
                    content_type: String::new(),
                    last_modified: Timestamp::default(),
                };
                if !f(e) {
                    break;
                }
            }
            Ok(())
        });
        r.unwrap_or_default()
            .iter()
            .map(|i| i.name().to_string())
            .collect()
    };
    let markers = [
        "",
        "a",
        "a/",
        "a/b",
        "a/b/c",
        "b/",
        "caf\u{e9}",
        "\u{2603}",
        "zz",
    ];
    let mut checked = 0;
    for delimiter in [None, Some("/"), Some("\u{e9}")] {
        for prefix in [
            None,
            Some("a"),
            Some("a/"),
            Some("b/\u{e9}"),
            Some("\u{2603}/"),
        ] {
            for marker in markers {
                for end_marker in ["", "a/b/d", "b/z", "\u{1F600}"] {
                    for reverse in [false, true] {
                        for limit in [1, 3, 100] {
                            let p = ListParams {
                                prefix: prefix.map(str::to_string),
                                delimiter: delimiter.map(str::to_string),
                                marker: Some(marker.to_string()),
                                end_marker: Some(end_marker.to_string()),
                                limit,
                                reverse,
                                path: None,
                            };
                            assert_eq!(names(&db.conn, &p), reference(&p), "{p:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    for path in ["", "a", "a/", "b", "\u{2603}", "z/"] {
        for reverse in [false, true] {
            let p = ListParams {
                path: Some(path.to_string()),
                reverse,
                ..ListParams::default()
            };
            assert_eq!(names(&db.conn, &p), reference(&p), "{p:?}");
        }
    }
    assert!(checked > 1000);
}

#[test]
fn listing_expected_rows() {
    let mut db = new_db();
    let all = tricky_names();
    let updates: Vec<ObjectUpdate> = all.iter().map(|n| put(n, 100, 1)).collect();
    apply(&mut db.conn, &updates);
    let p = |prefix: Option<&str>, delim: Option<&str>, marker: &str, reverse: bool| ListParams {
        prefix: prefix.map(str::to_string),
        delimiter: delim.map(str::to_string),
        marker: Some(marker.to_string()),
        reverse,
        ..ListParams::default()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(&db.conn, &p(None, Some("/"), "", false)),
        s(&[
            "a",
            "a-b",
            "a/",
            "a0",
            "b",
            "b/",
            "caf\u{e9}",
            "caf\u{e9}/",
            "z/",
            "\u{2603}/",
            "\u{1F600}",
            "\u{1F600}/"
        ])
    );
    assert_eq!(
        names(&db.conn, &p(Some("a/"), Some("/"), "", false)),
        s(&["a/", "a/b", "a/b/", "a/c"])
    );
    // Marker between subdirs, reverse.
    assert_eq!(
        names(&db.conn, &p(None, Some("/"), "caf\u{e9}", true)),
        s(&["b/", "b", "a0", "a/", "a-b", "a"])
    );
    // Unicode delimiter.
    assert_eq!(
        names(&db.conn, &p(Some("b/"), Some("\u{e9}"), "", false)),
        s(&["b/z", "b/\u{e9}"])
    );
    // Legacy path: direct children only, no subdirs, not the path itself.
    let path = ListParams {
        path: Some("a".into()),
        ..ListParams::default()
    };
    assert_eq!(names(&db.conn, &path), s(&["a/b", "a/c"]));
    // The subdir row carries no entry data.
    let rows = list(&db.conn, &p(Some("a/"), Some("/"), "a/b", false)).expect("list");
    assert_eq!(rows.first(), Some(&ListItem::Subdir("a/b/".to_string())));
    // A deleted object is gone from the listing.
    apply(&mut db.conn, &[del("a/c", 200)]);
    assert_eq!(
        names(&db.conn, &p(Some("a/"), Some("/"), "", false)),
        s(&["a/", "a/b", "a/b/"])
    );
}

/// Every statement on the hot paths is an index search, never a scan.
#[test]
fn hot_queries_use_the_primary_key() {
    let db = new_db();
    let plan = |sql: &str| -> String {
        let mut st = db
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let rows = st
            .query_map([], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("rows");
        rows.join("; ")
    };
    let q = listing::RangeQuery {
        lower: Some((b"m".to_vec(), false)),
        upper: Some(b"x".to_vec()),
        reverse: true,
        limit: 10,
    };
    let listing_sql = q
        .sql("SELECT name, created_at, size, content_type, etag FROM object WHERE deleted = 0")
        .replace("?1", "'m'")
        .replace("?2", "'x'")
        .replace("?3", "10");
    for sql in [
        listing_sql.as_str(),
        "SELECT deleted, created_at, size FROM object WHERE deleted IN (0, 1) AND name = 'x'",
        "DELETE FROM object WHERE deleted = 1 AND name = 'x'",
    ] {
        let p = plan(sql);
        assert!(p.contains("USING PRIMARY KEY"), "{sql}: {p}");
        assert!(
            !p.contains("SCAN") && !p.contains("TEMP B-TREE"),
            "{sql}: {p}"
        );
    }
}

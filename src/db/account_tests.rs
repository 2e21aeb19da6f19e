//! Account database operations on real SQLite files.

use rusqlite::Connection;
use tempfile::TempDir;

use super::*;
use crate::common::hash::HashConf;
use crate::db::schema::DbLocation;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn new_db() -> (TempDir, Connection) {
    let tmp = TempDir::new().expect("tempdir");
    let conf = HashConf {
        prefix: "p".into(),
        suffix: String::new(),
    };
    let loc = DbLocation::new(tmp.path(), &conf, 4, "AUTH_t", None).expect("location");
    let mut conn = schema::open(&loc.path, true)
        .expect("open")
        .expect("created");
    let (o, i) = create(&mut conn, "AUTH_t", t(1), &[]).expect("create");
    assert_eq!(o, CreateOutcome::Created);
    assert_eq!(i.account, "AUTH_t");
    assert_eq!(i.put_timestamp, t(1));
    (tmp, conn)
}

fn report(name: &str, put: i64, delete: i64, objects: u64, bytes: u64) -> ContainerReport {
    ContainerReport {
        name: name.into(),
        put_timestamp: t(put),
        delete_timestamp: t(delete),
        object_count: objects,
        bytes_used: bytes,
        storage_policy_index: 0,
    }
}

fn merge(conn: &mut Connection, reports: &[ContainerReport]) {
    let tx = conn.transaction().expect("begin");
    let refs: Vec<&ContainerReport> = reports.iter().collect();
    merge_reports(&tx, &refs).expect("merge");
    tx.commit().expect("commit");
}

fn totals(conn: &Connection) -> (u64, u64, u64) {
    let i = info(conn).expect("info").expect("exists");
    (i.container_count, i.object_count, i.bytes_used)
}

#[test]
fn totals_follow_container_reports() {
    let (_tmp, mut conn) = new_db();
    merge(
        &mut conn,
        &[report("c1", 10, 0, 0, 0), report("c2", 10, 0, 3, 30)],
    );
    assert_eq!(totals(&conn), (2, 3, 30));
    // New totals replace the old ones.
    merge(&mut conn, &[report("c1", 10, 0, 5, 50)]);
    assert_eq!(totals(&conn), (2, 8, 80));
    // The newest put timestamp is kept even if a report carries an older one.
    merge(&mut conn, &[report("c1", 5, 0, 5, 50)]);
    let rows = list(&conn, &ListParams::default()).expect("list");
    match rows.first() {
        Some(ListItem::Entry(e)) => {
            assert_eq!((e.name.as_str(), e.count, e.bytes), ("c1", 5, 50));
            assert_eq!(e.last_modified, t(10));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Deleted and empty: the row becomes a tombstone, not listed.
    merge(&mut conn, &[report("c2", 10, 20, 0, 0)]);
    assert_eq!(totals(&conn), (1, 5, 50));
    let names: Vec<String> = list(&conn, &ListParams::default())
        .expect("list")
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    assert_eq!(names, vec!["c1"]);
    // A late report with the old put timestamp does not resurrect it...
    merge(&mut conn, &[report("c2", 10, 0, 0, 0)]);
    assert_eq!(totals(&conn).0, 1);
    // ...but a newer PUT does.
    merge(&mut conn, &[report("c2", 30, 0, 0, 0)]);
    assert_eq!(totals(&conn), (2, 5, 50));
    let i = info(&conn).expect("info").expect("exists");
    assert_eq!(i.policy_stats.len(), 1);
    assert_eq!(i.policy_stats[0].container_count, 2);
    assert_eq!(i.policy_stats[0].object_count, 5);
}

#[test]
fn per_policy_totals() {
    let (_tmp, mut conn) = new_db();
    let mut gold = report("gold", 10, 0, 2, 20);
    gold.storage_policy_index = 1;
    merge(&mut conn, &[report("silver", 10, 0, 1, 10), gold.clone()]);
    let i = info(&conn).expect("info").expect("exists");
    let by: Vec<(i64, u64, u64, u64)> = i
        .policy_stats
        .iter()
        .map(|p| {
            (
                p.storage_policy_index,
                p.container_count,
                p.object_count,
                p.bytes_used,
            )
        })
        .collect();
    assert_eq!(by, vec![(0, 1, 1, 10), (1, 1, 2, 20)]);
    // A container recreated in another policy moves between policies.
    gold.storage_policy_index = 0;
    gold.put_timestamp = t(11);
    merge(&mut conn, &[gold]);
    let i = info(&conn).expect("info").expect("exists");
    assert_eq!(i.policy_stats[0].container_count, 2);
    assert_eq!(i.policy_stats[1].container_count, 0);
    assert_eq!(i.policy_stats[1].object_count, 0);
}

#[test]
fn put_delete_and_metadata() {
    let (_tmp, mut conn) = new_db();
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let (o, i) = create(&mut conn, "AUTH_t", t(2), &[kv("X-Account-Meta-A", "1")]).expect("put");
    assert_eq!(o, CreateOutcome::Accepted);
    assert_eq!(i.put_timestamp, t(2));
    let i = update_metadata(&mut conn, t(1), &[kv("X-Account-Meta-A", "older")]).expect("post");
    assert_eq!(
        i.metadata.get("X-Account-Meta-A").map(String::as_str),
        Some("1")
    );
    let i = update_metadata(&mut conn, t(3), &[kv("X-Account-Meta-B", "2")]).expect("post");
    assert_eq!(i.metadata.len(), 2);
    assert_eq!(
        delete(&mut conn, t(4)).expect("delete"),
        DeleteOutcome::Deleted
    );
    let i = info(&conn).expect("info").expect("exists");
    assert!(i.deleted);
    assert_eq!(i.status, "DELETED");
    assert!(i.metadata.is_empty());
    assert_eq!(
        delete(&mut conn, t(5)).expect("delete"),
        DeleteOutcome::NotFound
    );
    assert!(matches!(
        update_metadata(&mut conn, t(6), &[kv("X-Account-Meta-C", "3")]),
        Err(DbError::NotFound)
    ));
    let (o, _) = create(&mut conn, "AUTH_t", t(7), &[]).expect("put");
    assert_eq!(o, CreateOutcome::RecentlyDeleted);
}

#[test]
fn container_listing_with_delimiter() {
    let (_tmp, mut conn) = new_db();
    let reports: Vec<ContainerReport> = ["logs-2023", "logs-2024", "media", "photos-\u{e9}t\u{e9}"]
        .iter()
        .map(|n| report(n, 10, 0, 1, 1))
        .collect();
    merge(&mut conn, &reports);
    let p = ListParams {
        delimiter: Some("-".into()),
        ..ListParams::default()
    };
    let names: Vec<String> = list(&conn, &p)
        .expect("list")
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    assert_eq!(names, vec!["logs-", "media", "photos-"]);
    let p = ListParams {
        marker: Some("logs-2023".into()),
        end_marker: Some("photos".into()),
        ..ListParams::default()
    };
    let names: Vec<String> = list(&conn, &p)
        .expect("list")
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    assert_eq!(names, vec!["logs-2024", "media"]);
}

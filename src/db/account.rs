//! Account database operations on one open connection (run on the pool
//! thread that owns the database): Swift's account server and
//! `AccountBroker` semantics.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::common::timestamp::Timestamp;

use super::container::{count, int, ts};
use super::listing::{self, ListItem, ListParams, RangeQuery};
use super::metadata;
use super::schema;
use super::{
    AccountInfo, ContainerEntry, ContainerReport, CreateOutcome, DbError, DeleteOutcome,
    PolicyStats, Result,
};

/// The stat row, or `None` when the file holds no account (never
/// initialized).
pub fn info(conn: &Connection) -> Result<Option<AccountInfo>> {
    let row = conn
        .prepare_cached(
            "SELECT account, created_at, put_timestamp, delete_timestamp, status_changed_at,
                    container_count, object_count, bytes_used, metadata, status
             FROM account_stat",
        )
        .and_then(|mut st| {
            st.query_row([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })
            .optional()
        });
    let Some(row) = super::schema::stat_row(row)? else {
        return Ok(None);
    };
    let (account, created, put, delete, changed, containers, objects, bytes, meta, status) = row;
    let raw = metadata::parse(&meta).map_err(|reason| DbError::Corrupt {
        path: format!("/{account}"),
        reason,
    })?;
    let mut policy_stats = Vec::new();
    {
        let mut st = conn.prepare_cached(
            "SELECT storage_policy_index, container_count, object_count, bytes_used
             FROM policy_stat ORDER BY storage_policy_index",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            policy_stats.push(PolicyStats {
                storage_policy_index: r.get(0)?,
                container_count: count(r.get(1)?),
                object_count: count(r.get(2)?),
                bytes_used: count(r.get(3)?),
            });
        }
    }
    let (put, delete) = (ts(&put), ts(&delete));
    let container_count = count(containers);
    let deleted = status == "DELETED" || (container_count == 0 && delete > put);
    Ok(Some(AccountInfo {
        account,
        created_at: ts(&created),
        put_timestamp: put,
        delete_timestamp: delete,
        status_changed_at: ts(&changed),
        container_count,
        object_count: count(objects),
        bytes_used: count(bytes),
        metadata: metadata::visible(&raw),
        deleted,
        status,
        policy_stats,
    }))
}

fn stored_metadata(tx: &Transaction<'_>) -> Result<metadata::RawMetadata> {
    let json: String = tx.query_row("SELECT metadata FROM account_stat", [], |r| r.get(0))?;
    metadata::parse(&json).map_err(|reason| DbError::Corrupt {
        path: "account_stat".into(),
        reason,
    })
}

fn write_metadata(tx: &Transaction<'_>, raw: &metadata::RawMetadata) -> Result<()> {
    tx.execute(
        "UPDATE account_stat SET metadata = ?1",
        [metadata::to_json(raw)],
    )?;
    Ok(())
}

/// Account PUT (Swift's account server): creates the database, or updates
/// an existing account's put timestamp and metadata. A recently deleted
/// account (status DELETED) is refused.
pub fn create(
    conn: &mut Connection,
    account: &str,
    put: Timestamp,
    meta: &[(String, String)],
) -> Result<(CreateOutcome, AccountInfo)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcome = match info(&tx)? {
        None => {
            schema::init_account(&tx, account, put)?;
            CreateOutcome::Created
        }
        Some(existing) if existing.status == "DELETED" => {
            return Ok((CreateOutcome::RecentlyDeleted, existing));
        }
        Some(existing) => {
            if put > existing.put_timestamp {
                tx.execute(
                    "UPDATE account_stat SET put_timestamp = ?1",
                    [put.internal()],
                )?;
            }
            let still_deleted = existing.container_count == 0
                && existing.delete_timestamp > put.max(existing.put_timestamp);
            if still_deleted {
                tx.commit()?;
                let after = info(conn)?.ok_or(DbError::NotFound)?;
                return Ok((CreateOutcome::Conflict, after));
            }
            if existing.deleted {
                CreateOutcome::Created
            } else {
                CreateOutcome::Accepted
            }
        }
    };
    if !meta.is_empty() {
        let mut raw = stored_metadata(&tx)?;
        if metadata::merge(&mut raw, put, meta) {
            write_metadata(&tx, &raw)?;
        }
    }
    tx.commit()?;
    let after = info(conn)?.ok_or(DbError::NotFound)?;
    Ok((outcome, after))
}

/// Account POST: merges metadata. `NotFound` when deleted.
pub fn update_metadata(
    conn: &mut Connection,
    ts: Timestamp,
    updates: &[(String, String)],
) -> Result<AccountInfo> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match info(&tx)? {
        Some(i) if !i.deleted => {}
        _ => return Err(DbError::NotFound),
    }
    let mut raw = stored_metadata(&tx)?;
    if metadata::merge(&mut raw, ts, updates) {
        write_metadata(&tx, &raw)?;
    }
    tx.commit()?;
    info(conn)?.ok_or(DbError::NotFound)
}

/// Account DELETE: marks it DELETED (Swift leaves the containers to the
/// account reaper) and clears its metadata as of `ts`.
pub fn delete(conn: &mut Connection, ts: Timestamp) -> Result<DeleteOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match info(&tx)? {
        Some(i) if !i.deleted => {}
        _ => return Ok(DeleteOutcome::NotFound),
    }
    let mut raw = stored_metadata(&tx)?;
    if metadata::clear_all(&mut raw, ts) {
        write_metadata(&tx, &raw)?;
    }
    tx.execute(
        "UPDATE account_stat SET delete_timestamp = ?1, status = 'DELETED',
             status_changed_at = ?1
         WHERE delete_timestamp < ?1",
        [ts.internal()],
    )?;
    tx.commit()?;
    Ok(DeleteOutcome::Deleted)
}

/// Per-row contribution to the totals: (containers, objects, bytes).
type Totals = (i64, i64, i64);

fn add(map: &mut BTreeMap<i64, Totals>, policy: i64, sign: i64, t: Totals) {
    let e = map.entry(policy).or_insert((0, 0, 0));
    e.0 += sign * t.0;
    e.1 += sign * t.1;
    e.2 += sign * t.2;
}

/// Records container reports inside `tx` (Swift's `merge_items` for the
/// account's container table): the newest put and delete timestamps are
/// kept, counts are replaced, and a container deleted after its last PUT
/// with no objects becomes a deleted row. Account and per-policy totals
/// move by the difference.
pub fn merge_reports(tx: &Transaction<'_>, reports: &[&ContainerReport]) -> Result<()> {
    let mut find = tx.prepare_cached(
        "SELECT deleted, put_timestamp, delete_timestamp, object_count, bytes_used,
                storage_policy_index
         FROM container WHERE deleted IN (0, 1) AND name = ?1",
    )?;
    let mut remove = tx.prepare_cached("DELETE FROM container WHERE deleted = ?1 AND name = ?2")?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO container
             (deleted, name, put_timestamp, delete_timestamp, object_count, bytes_used,
              storage_policy_index)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut deltas: BTreeMap<i64, Totals> = BTreeMap::new();
    for r in reports {
        let mut put = r.put_timestamp;
        let mut del = r.delete_timestamp;
        let mut rows = find.query([&r.name])?;
        let mut old: Vec<(i64, i64, i64, i64)> = Vec::new();
        while let Some(row) = rows.next()? {
            put = put.max(ts(&row.get::<_, String>(1)?));
            del = del.max(ts(&row.get::<_, String>(2)?));
            old.push((row.get(0)?, row.get(3)?, row.get(4)?, row.get(5)?));
        }
        drop(rows);
        let deleted = i64::from(del > put && r.object_count == 0);
        for (was_deleted, objects, bytes, policy) in old {
            add(&mut deltas, policy, -1, (1 - was_deleted, objects, bytes));
            if was_deleted != deleted {
                remove.execute(params![was_deleted, &r.name])?;
            }
        }
        let (objects, bytes) = (int(r.object_count), int(r.bytes_used));
        insert.execute(params![
            deleted,
            &r.name,
            put.internal(),
            del.internal(),
            objects,
            bytes,
            r.storage_policy_index
        ])?;
        add(
            &mut deltas,
            r.storage_policy_index,
            1,
            (1 - deleted, objects, bytes),
        );
    }
    let (mut dc, mut dobj, mut dbytes) = (0, 0, 0);
    for (policy, (c, o, b)) in &deltas {
        dc += c;
        dobj += o;
        dbytes += b;
        if (*c, *o, *b) == (0, 0, 0) {
            continue;
        }
        tx.prepare_cached("INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (?1)")?
            .execute([policy])?;
        tx.prepare_cached(
            "UPDATE policy_stat SET container_count = container_count + ?2,
                 object_count = object_count + ?3, bytes_used = bytes_used + ?4
             WHERE storage_policy_index = ?1",
        )?
        .execute([*policy, *c, *o, *b])?;
    }
    if (dc, dobj, dbytes) != (0, 0, 0) {
        tx.prepare_cached(
            "UPDATE account_stat SET container_count = container_count + ?1,
                 object_count = object_count + ?2, bytes_used = bytes_used + ?3",
        )?
        .execute([dc, dobj, dbytes])?;
    }
    Ok(())
}

/// An account listing of live containers.
pub fn list(conn: &Connection, params: &ListParams) -> Result<Vec<ListItem<ContainerEntry>>> {
    listing::list(
        params,
        |q: &RangeQuery, f: &mut dyn FnMut(ContainerEntry) -> bool| {
            let sql = q.sql(
                "SELECT name, object_count, bytes_used, put_timestamp, storage_policy_index
             FROM container WHERE deleted = 0",
            );
            let mut st = conn.prepare_cached(&sql)?;
            let [lower, upper] = q.sql_params();
            let mut rows = st.query(params![lower, upper, q.sql_limit()])?;
            while let Some(r) = rows.next()? {
                let entry = ContainerEntry {
                    name: r.get(0)?,
                    count: count(r.get(1)?),
                    bytes: count(r.get(2)?),
                    last_modified: ts(&r.get::<_, String>(3)?),
                    storage_policy_index: r.get(4)?,
                };
                if !f(entry) {
                    break;
                }
            }
            Ok::<(), DbError>(())
        },
    )
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;

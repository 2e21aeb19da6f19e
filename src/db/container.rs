//! Container database operations on one open connection (run on the pool
//! thread that owns the database). Swift's container server and
//! `ContainerBroker` semantics: timestamps decide, deletes are tombstones,
//! totals are kept in the stat row.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::common::timestamp::Timestamp;

use super::listing::{self, ListItem, ListParams, RangeQuery};
use super::metadata;
use super::schema::{self, DbLocation};
use super::{
    ContainerInfo, ContainerPolicy, ContainerReport, CreateOutcome, DbError, DeleteOutcome,
    ObjectEntry, ObjectUpdate, Result, UpdateOutcome,
};

/// Parses a stored timestamp; an unreadable one counts as 0 (oldest).
pub(crate) fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap_or_default()
}

/// A stored count; negative (never written by us) reads as 0.
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A size or count to store.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Swift's container `is_deleted`: deleted after its last PUT, and empty.
fn is_deleted(object_count: u64, put: Timestamp, delete: Timestamp) -> bool {
    object_count == 0 && delete > put
}

/// The stat row, or `None` when the file holds no container (never
/// initialized, e.g. creation interrupted by a crash).
pub fn info(conn: &Connection) -> Result<Option<ContainerInfo>> {
    let row = conn
        .prepare_cached(
            "SELECT account, container, created_at, put_timestamp, delete_timestamp,
                    status_changed_at, object_count, bytes_used, metadata, storage_policy_index
             FROM container_stat",
        )
        .and_then(|mut st| {
            st.query_row([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })
            .optional()
        });
    let Some(row) = super::schema::stat_row(row)? else {
        return Ok(None);
    };
    let (account, container, created, put, delete, changed, objects, bytes, meta, policy) = row;
    let raw = metadata::parse(&meta).map_err(|reason| DbError::Corrupt {
        path: format!("/{account}/{container}"),
        reason,
    })?;
    let (put, delete) = (ts(&put), ts(&delete));
    Ok(Some(ContainerInfo {
        account,
        container,
        created_at: ts(&created),
        put_timestamp: put,
        delete_timestamp: delete,
        status_changed_at: ts(&changed),
        object_count: count(objects),
        bytes_used: count(bytes),
        metadata: metadata::visible(&raw),
        storage_policy_index: policy,
        deleted: is_deleted(count(objects), put, delete),
    }))
}

/// What the account database should record for this container.
pub fn report(info: &ContainerInfo) -> ContainerReport {
    ContainerReport {
        name: info.container.clone(),
        put_timestamp: info.put_timestamp,
        delete_timestamp: info.delete_timestamp,
        object_count: info.object_count,
        bytes_used: info.bytes_used,
        storage_policy_index: info.storage_policy_index,
    }
}

fn stored_metadata(tx: &Transaction<'_>) -> Result<metadata::RawMetadata> {
    let json: String = tx.query_row("SELECT metadata FROM container_stat", [], |r| r.get(0))?;
    metadata::parse(&json).map_err(|reason| DbError::Corrupt {
        path: "container_stat".into(),
        reason,
    })
}

/// Merges metadata updates made at `ts` into the stat row.
fn merge_metadata(tx: &Transaction<'_>, ts: Timestamp, updates: &[(String, String)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut raw = stored_metadata(tx)?;
    if metadata::merge(&mut raw, ts, updates) {
        tx.execute(
            "UPDATE container_stat SET metadata = ?1",
            [metadata::to_json(&raw)],
        )?;
    }
    Ok(())
}

/// Container PUT (Swift's `_update_or_create`): creates the database (the
/// file must be open, possibly empty), or recreates a deleted container, or
/// updates an existing one's put timestamp; then applies `meta`. Returns the
/// outcome and the container's state afterwards.
pub fn create(
    conn: &mut Connection,
    loc: &DbLocation,
    put: Timestamp,
    policy: ContainerPolicy,
    meta: &[(String, String)],
) -> Result<(CreateOutcome, ContainerInfo)> {
    let container = loc.container.as_deref().unwrap_or_default();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcome = match info_tx(&tx)? {
        None => {
            schema::init_container(&tx, &loc.account, container, put, policy.index())?;
            CreateOutcome::Created
        }
        Some(existing) => {
            let was_deleted = existing.deleted;
            if was_deleted {
                tx.execute(
                    "UPDATE container_stat SET storage_policy_index = ?1",
                    [policy.index()],
                )?;
            } else if let ContainerPolicy::Explicit(i) = policy {
                if i != existing.storage_policy_index {
                    return Ok((
                        CreateOutcome::PolicyConflict(existing.storage_policy_index),
                        existing,
                    ));
                }
            }
            if put > existing.put_timestamp {
                tx.execute(
                    "UPDATE container_stat SET put_timestamp = ?1",
                    [put.internal()],
                )?;
            }
            let now_deleted = is_deleted(
                existing.object_count,
                existing.put_timestamp.max(put),
                existing.delete_timestamp,
            );
            if now_deleted {
                tx.commit()?;
                let after = info(conn)?.ok_or(DbError::NotFound)?;
                return Ok((CreateOutcome::Conflict, after));
            }
            if was_deleted {
                tx.execute(
                    "UPDATE container_stat SET status = '', status_changed_at = ?1",
                    [put.internal()],
                )?;
                CreateOutcome::Created
            } else {
                CreateOutcome::Accepted
            }
        }
    };
    merge_metadata(&tx, put, meta)?;
    tx.commit()?;
    let after = info(conn)?.ok_or(DbError::NotFound)?;
    Ok((outcome, after))
}

fn info_tx(tx: &Transaction<'_>) -> Result<Option<ContainerInfo>> {
    info(tx)
}

/// Container POST: merges metadata. `NotFound` when deleted.
pub fn update_metadata(
    conn: &mut Connection,
    ts: Timestamp,
    updates: &[(String, String)],
) -> Result<ContainerInfo> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing = match info_tx(&tx)? {
        Some(i) if !i.deleted => i,
        _ => return Err(DbError::NotFound),
    };
    // Swift's container server moves the put timestamp forward on POST.
    if ts > existing.put_timestamp {
        tx.execute(
            "UPDATE container_stat SET put_timestamp = ?1",
            [ts.internal()],
        )?;
    }
    merge_metadata(&tx, ts, updates)?;
    tx.commit()?;
    info(conn)?.ok_or(DbError::NotFound)
}

/// Container DELETE (Swift's container server): `NotEmpty` while objects
/// remain; otherwise records the delete timestamp (if newer), clears the
/// metadata as of `ts`, and reports whether a live container was deleted.
pub fn delete(conn: &mut Connection, ts: Timestamp) -> Result<(DeleteOutcome, ContainerInfo)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing = info_tx(&tx)?.ok_or(DbError::NotFound)?;
    if existing.object_count > 0 {
        return Ok((DeleteOutcome::NotEmpty, existing));
    }
    let existed = !existing.deleted;
    let mut raw = stored_metadata(&tx)?;
    if metadata::clear_all(&mut raw, ts) {
        tx.execute(
            "UPDATE container_stat SET metadata = ?1",
            [metadata::to_json(&raw)],
        )?;
    }
    if ts > existing.delete_timestamp {
        tx.execute(
            "UPDATE container_stat SET delete_timestamp = ?1, status = 'DELETED',
                 status_changed_at = ?1",
            [ts.internal()],
        )?;
    }
    tx.commit()?;
    let after = info(conn)?.ok_or(DbError::NotFound)?;
    let outcome = if !after.deleted {
        DeleteOutcome::Conflict
    } else if existed {
        DeleteOutcome::Deleted
    } else {
        DeleteOutcome::NotFound
    };
    Ok((outcome, after))
}

/// Applies object row changes inside `tx` (one transaction for a whole
/// batch): per name, the newest timestamp wins; the stat row's totals move
/// by the difference. Returns one outcome per update, in order.
pub fn merge_objects(
    tx: &Transaction<'_>,
    updates: &[&ObjectUpdate],
) -> Result<Vec<UpdateOutcome>> {
    let mut find = tx.prepare_cached(
        "SELECT deleted, created_at, size FROM object WHERE deleted IN (0, 1) AND name = ?1",
    )?;
    let mut remove = tx.prepare_cached("DELETE FROM object WHERE deleted = ?1 AND name = ?2")?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO object
             (deleted, name, created_at, size, content_type, etag, storage_policy_index)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let (mut d_count, mut d_bytes) = (0i64, 0i64);
    let mut out = Vec::with_capacity(updates.len());
    for u in updates {
        // At most one row per name; should a crash-era duplicate exist,
        // the newest decides and the others are removed below.
        let mut rows = find.query([&u.name])?;
        let mut existing: Vec<(i64, Timestamp, i64)> = Vec::new();
        while let Some(r) = rows.next()? {
            existing.push((r.get(0)?, ts(&r.get::<_, String>(1)?), r.get(2)?));
        }
        drop(rows);
        if existing.iter().any(|(_, t, _)| *t >= u.timestamp) {
            out.push(UpdateOutcome::Stale);
            continue;
        }
        let new_deleted = i64::from(u.deleted);
        for (deleted, _, size) in &existing {
            if *deleted == 0 {
                d_count -= 1;
                d_bytes -= size;
            }
            if *deleted != new_deleted {
                remove.execute(params![deleted, &u.name])?;
            }
        }
        let size = int(u.size);
        insert.execute(params![
            new_deleted,
            &u.name,
            u.timestamp.internal(),
            size,
            &u.content_type,
            &u.etag,
            u.storage_policy_index
        ])?;
        if !u.deleted {
            d_count += 1;
            d_bytes += size;
        }
        out.push(UpdateOutcome::Applied);
    }
    if d_count != 0 || d_bytes != 0 {
        tx.prepare_cached(
            "UPDATE container_stat SET object_count = object_count + ?1,
                 bytes_used = bytes_used + ?2",
        )?
        .execute([d_count, d_bytes])?;
    }
    Ok(out)
}

/// A container listing (`NotFound` when the container is deleted).
pub fn list(conn: &Connection, params: &ListParams) -> Result<Vec<ListItem<ObjectEntry>>> {
    listing::list(
        params,
        |q: &RangeQuery, f: &mut dyn FnMut(ObjectEntry) -> bool| {
            let sql = q.sql(
                "SELECT name, created_at, size, content_type, etag FROM object WHERE deleted = 0",
            );
            let mut st = conn.prepare_cached(&sql)?;
            let [lower, upper] = q.sql_params();
            let mut rows = st.query(params![lower, upper, q.sql_limit()])?;
            while let Some(r) = rows.next()? {
                let entry = ObjectEntry {
                    name: r.get(0)?,
                    last_modified: ts(&r.get::<_, String>(1)?),
                    bytes: count(r.get(2)?),
                    content_type: r.get(3)?,
                    hash: r.get(4)?,
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
#[path = "container_tests.rs"]
mod tests;

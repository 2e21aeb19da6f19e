//! The values the database API takes and returns.

use std::collections::BTreeMap;

use crate::common::timestamp::Timestamp;

/// An account's stat row (`HEAD /v1/<account>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Account name.
    pub account: String,
    /// When this database was created (local clock), `X-Timestamp`.
    pub created_at: Timestamp,
    /// Newest PUT, `X-PUT-Timestamp`.
    pub put_timestamp: Timestamp,
    /// Newest DELETE (0 when never deleted).
    pub delete_timestamp: Timestamp,
    /// When the status last changed.
    pub status_changed_at: Timestamp,
    /// Live containers.
    pub container_count: u64,
    /// Objects, summed over containers (as last reported by them).
    pub object_count: u64,
    /// Bytes, summed over containers.
    pub bytes_used: u64,
    /// Metadata with a non-empty value: full header name → value.
    pub metadata: BTreeMap<String, String>,
    /// Swift's `is_deleted`: status DELETED, or deleted after its last PUT
    /// with no containers left.
    pub deleted: bool,
    /// `"DELETED"` after an account DELETE (Swift then answers 404 with
    /// `X-Account-Status: Deleted`, and 403 "Recently deleted" to a PUT);
    /// empty otherwise.
    pub status: String,
    /// Per storage policy totals (`X-Account-Storage-Policy-<name>-*`),
    /// ordered by index; policies with no containers ever are absent.
    pub policy_stats: Vec<PolicyStats>,
}

/// One storage policy's share of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyStats {
    /// Storage policy index.
    pub storage_policy_index: i64,
    /// Live containers in this policy.
    pub container_count: u64,
    /// Objects.
    pub object_count: u64,
    /// Bytes.
    pub bytes_used: u64,
}

/// Whether an account exists, for callers that must tell "never created"
/// from "deleted" (Swift's `X-Account-Status: Deleted`, autocreate rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountState {
    /// No database: never created (autocreate may create it).
    Missing,
    /// The database exists but the account is deleted.
    Deleted(AccountInfo),
    /// A live account.
    Active(AccountInfo),
}

/// A container's stat row (`HEAD /v1/<account>/<container>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Account name.
    pub account: String,
    /// Container name.
    pub container: String,
    /// When this database was created (local clock), `X-Timestamp`.
    pub created_at: Timestamp,
    /// Newest PUT, `X-PUT-Timestamp`.
    pub put_timestamp: Timestamp,
    /// Newest DELETE (0 when never deleted).
    pub delete_timestamp: Timestamp,
    /// When it was last created, deleted or recreated.
    pub status_changed_at: Timestamp,
    /// Live objects, `X-Container-Object-Count`.
    pub object_count: u64,
    /// Bytes in live objects, `X-Container-Bytes-Used`.
    pub bytes_used: u64,
    /// Metadata with a non-empty value: full header name → value.
    pub metadata: BTreeMap<String, String>,
    /// Storage policy index (`X-Backend-Storage-Policy-Index`).
    pub storage_policy_index: i64,
    /// Swift's `is_deleted`: deleted after its last PUT and empty.
    pub deleted: bool,
}

/// Which storage policy a container PUT asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerPolicy {
    /// No `X-Storage-Policy` from the client: a new (or deleted) container
    /// gets this index (the cluster default); an existing one keeps its own.
    Default(i64),
    /// The client named a policy: a new container gets it; an existing live
    /// container with another policy answers [`CreateOutcome::PolicyConflict`].
    Explicit(i64),
}

impl ContainerPolicy {
    /// The index a new container would get.
    pub fn index(&self) -> i64 {
        match *self {
            ContainerPolicy::Default(i) | ContainerPolicy::Explicit(i) => i,
        }
    }
}

/// What a PUT of an account or container did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// New, or previously deleted and now recreated: 201.
    Created,
    /// Already existed; put timestamp and metadata updated: 202.
    Accepted,
    /// The PUT's timestamp is older than the DELETE that removed it, so it
    /// stays deleted: 409.
    Conflict,
    /// Accounts only: status DELETED (an account DELETE happened and has
    /// not been reclaimed): 403 "Recently deleted".
    RecentlyDeleted,
    /// Containers only: exists with another storage policy (this index):
    /// 409 with `X-Backend-Storage-Policy-Index`.
    PolicyConflict(i64),
}

/// What a DELETE of an account or container did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// It existed and is now deleted: 204.
    Deleted,
    /// It did not exist or was already deleted: 404 (a newer delete
    /// timestamp is still recorded when the database exists).
    NotFound,
    /// Containers only: it still holds objects: 409.
    NotEmpty,
    /// The DELETE's timestamp is older than the last PUT: 409.
    Conflict,
}

/// One object row change, sent by the object server after a PUT, POST or
/// DELETE (Swift's `X-Timestamp`, `X-Size`, `X-Content-Type`, `X-Etag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUpdate {
    /// Object name.
    pub name: String,
    /// The write's timestamp: an update older than (or as old as) the row
    /// already recorded for this name is ignored.
    pub timestamp: Timestamp,
    /// Body size (0 for deletes).
    pub size: u64,
    /// Content type (Swift sends `application/deleted` for deletes).
    pub content_type: String,
    /// ETag (Swift sends `noetag` or the empty MD5 for deletes).
    pub etag: String,
    /// A delete: the row becomes a tombstone that listings skip.
    pub deleted: bool,
    /// The object's storage policy index.
    pub storage_policy_index: i64,
}

/// Whether an object update changed the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Recorded (durably committed).
    Applied,
    /// Ignored: the row already had a timestamp at least as new.
    Stale,
}

/// An object row in a container listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// ETag.
    pub hash: String,
    /// Content type.
    pub content_type: String,
    /// The row's timestamp (`created_at`).
    pub last_modified: Timestamp,
}

/// A container row in an account listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEntry {
    /// Name.
    pub name: String,
    /// Objects in it (as last reported).
    pub count: u64,
    /// Bytes in it.
    pub bytes: u64,
    /// Its put timestamp.
    pub last_modified: Timestamp,
    /// Its storage policy index.
    pub storage_policy_index: i64,
}

/// A container's state as reported to its account (Swift's container →
/// account `PUT /a/c` with `X-Put-Timestamp`, `X-Delete-Timestamp`,
/// `X-Object-Count`, `X-Bytes-Used`, `X-Backend-Storage-Policy-Index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerReport {
    /// Container name.
    pub name: String,
    /// The container's put timestamp.
    pub put_timestamp: Timestamp,
    /// The container's delete timestamp (0 when never deleted).
    pub delete_timestamp: Timestamp,
    /// Its live objects.
    pub object_count: u64,
    /// Its bytes.
    pub bytes_used: u64,
    /// Its storage policy index.
    pub storage_policy_index: i64,
}

//! The proxy's account controller: HEAD/GET (stats and container listing),
//! POST (metadata), and PUT/DELETE for reseller admins; accounts are
//! created on first use as Swift's `account_autocreate` does.

use crate::common::constraints::{Constraints, MetaTarget};
use crate::common::timestamp::Timestamp;
use crate::db::{AccountInfo, AccountState, CreateOutcome, DbPool, DeleteOutcome, ListItem};
use crate::http::{Request, Response};

use super::container::listing_response;
use super::listing::Row;
use super::{listing_params, meta};

/// Who is asking, as far as the account controller cares.
pub struct AccountRequest<'a> {
    /// The request.
    pub req: &'a Request,
    /// Account.
    pub account: &'a str,
    /// Account owner (or account-ACL admin).
    pub owner: bool,
    /// Reseller admin (may PUT and DELETE accounts).
    pub reseller: bool,
    /// Metadata updates feature modules add (account quotas' sysmeta).
    pub extra_updates: Vec<(String, String)>,
    /// Storage policies, naming the per-policy totals.
    pub policies: &'a crate::common::storage_policy::Policies,
}

fn db_error(e: crate::db::DbError) -> Response {
    tracing::error!("account database: {e}");
    Response::status(503)
}

/// Creates the account if it has never existed (`account_autocreate`).
pub async fn autocreate(db: &DbPool, account: &str) -> Result<(), Response> {
    match db.account_state(account).await {
        Ok(AccountState::Missing) => match db.create_account(account, Timestamp::now()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(db_error(e)),
        },
        Ok(AccountState::Deleted(_)) => Err(Response::text(403, "Recently deleted")),
        Ok(AccountState::Active(_)) => Ok(()),
        Err(e) => Err(db_error(e)),
    }
}

/// Answers an account request.
pub async fn handle(db: &DbPool, c: &Constraints, r: &AccountRequest<'_>) -> Response {
    if matches!(r.req.method.as_str(), "PUT" | "POST") {
        if let Err(resp) = meta::check_utf8(r.req, MetaTarget::Account) {
            return resp;
        }
    }
    let mut resp = match r.req.method.as_str() {
        "HEAD" | "GET" => read(db, c, r).await,
        "POST" => post(db, c, r).await,
        "PUT" if r.reseller => put(db, c, r).await,
        "DELETE" if r.reseller => delete(db, r).await,
        "PUT" | "DELETE" => Response::status(403),
        _ => Response::status(405).with_header("Allow", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
    };
    if !r.owner {
        meta::strip_owner_headers(&mut resp);
    }
    resp
}

pub(crate) fn info_headers(
    resp: &mut Response,
    info: Option<&AccountInfo>,
    policies: &crate::common::storage_policy::Policies,
) {
    let h = &mut resp.headers;
    let (containers, objects, bytes) = info.map_or((0, 0, 0), |i| {
        (i.container_count, i.object_count, i.bytes_used)
    });
    h.set("X-Account-Container-Count", containers.to_string());
    h.set("X-Account-Object-Count", objects.to_string());
    h.set("X-Account-Bytes-Used", bytes.to_string());
    let now = Timestamp::now();
    let (created, put) = info.map_or((now, now), |i| (i.created_at, i.put_timestamp));
    h.set("X-Timestamp", created.normal());
    h.set("X-Put-Timestamp", put.normal());
    h.set("Accept-Ranges", "bytes");
    if let Some(i) = info {
        crate::server::policy_and_metadata_headers(h, i, policies);
    }
}

async fn read(db: &DbPool, c: &Constraints, r: &AccountRequest<'_>) -> Response {
    let (format, mut params) =
        match listing_params::format_and_params(r.req, c.account_listing_limit) {
            Ok(v) => v,
            Err(resp) => return resp,
        };
    // Reserved names (a leading NUL: versioning's hidden containers) sort
    // first; the page starts after them so they take no listing slots.
    const PAST_RESERVED: &str = "\0\u{10FFFF}";
    let bound = if params.reverse {
        &mut params.end_marker
    } else {
        &mut params.marker
    };
    if bound.as_deref().is_none_or(|m| m < PAST_RESERVED) {
        *bound = Some(PAST_RESERVED.to_string());
    }
    let info = match db.account_state(r.account).await {
        Ok(AccountState::Active(i)) => Some(i),
        // Swift answers a deleted account with 410 Gone and fakes an empty
        // account that was never created (account_autocreate).
        Ok(AccountState::Deleted(_)) => return Response::status(410),
        Ok(AccountState::Missing) => None,
        Err(e) => return db_error(e),
    };
    let rows: Vec<Row> = if r.req.method == "GET" && info.is_some() {
        match db.list_containers(r.account, &params).await {
            Ok(items) => items
                .into_iter()
                // Reserved names (versioning's hidden containers) are not
                // listed to clients.
                .filter(|i| !matches!(i, ListItem::Entry(e) if e.name.starts_with('\0')))
                .map(|i| match i {
                    ListItem::Entry(e) => Row::Container {
                        name: e.name,
                        count: e.count,
                        bytes: e.bytes,
                        last_modified: e.last_modified,
                        policy: r.policies.name_of(e.storage_policy_index),
                    },
                    ListItem::Subdir(s) => Row::Subdir(s),
                })
                .collect(),
            Err(e) => return db_error(e),
        }
    } else {
        Vec::new()
    };
    listing_response(r.req, format, "account", r.account, &rows, |resp| {
        info_headers(resp, info.as_ref(), r.policies)
    })
}

async fn post(db: &DbPool, c: &Constraints, r: &AccountRequest<'_>) -> Response {
    let mut updates = match meta::account_updates(c, &r.req.headers, r.owner) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    updates.extend(r.extra_updates.iter().cloned());
    if let Err(resp) = autocreate(db, r.account).await {
        return resp;
    }
    match db.account_info(r.account).await {
        Ok(Some(info)) => {
            if let Err(resp) =
                meta::check_stored_totals(c, &info.metadata, &updates, MetaTarget::Account)
            {
                return resp;
            }
        }
        Ok(None) => return Response::status(404),
        Err(e) => return db_error(e),
    }
    match db
        .update_account_metadata(r.account, Timestamp::now(), updates)
        .await
    {
        Ok(_) => Response::empty(204),
        Err(crate::db::DbError::NotFound) => Response::status(404),
        Err(e) => db_error(e),
    }
}

async fn put(db: &DbPool, c: &Constraints, r: &AccountRequest<'_>) -> Response {
    let mut updates = match meta::account_updates(c, &r.req.headers, true) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    updates.extend(r.extra_updates.iter().cloned());
    match db
        .create_account_with_metadata(r.account, Timestamp::now(), updates)
        .await
    {
        Ok(CreateOutcome::Created) => Response::status(201),
        Ok(CreateOutcome::Accepted) => Response::status(202),
        Ok(CreateOutcome::RecentlyDeleted) => Response::text(403, "Recently deleted"),
        Ok(_) => Response::status(409),
        Err(e) => db_error(e),
    }
}

async fn delete(db: &DbPool, r: &AccountRequest<'_>) -> Response {
    if !r.req.query.is_empty() {
        return Response::text(400, "Account DELETE with a query string is not allowed");
    }
    match db.delete_account(r.account, Timestamp::now()).await {
        Ok(DeleteOutcome::Deleted) => Response::empty(204),
        Ok(DeleteOutcome::NotFound) => Response::status(404),
        Ok(_) => Response::status(409),
        Err(e) => db_error(e),
    }
}

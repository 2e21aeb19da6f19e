//! Account and container requests through their rings, as Swift's proxy
//! makes them. Reads (`GETorHEAD_base`) try primaries then handoffs one at
//! a time and return the first good answer, or with `X-Newest` the newest
//! of all; a node answering 404 is not the last word while others may hold
//! a copy, and a handoff's 404 counts only when it knows of a deletion.
//! Writes (`make_requests`) go to every primary, a failing one replaced by
//! the next handoff, each with its own headers, and the answer is chosen by
//! quorum. This node's own devices are called in process.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use crate::common::timestamp::Timestamp;
use crate::http::request::Framing;
use crate::http::{Headers, Request, Response};
use crate::ring::Device;
use crate::server::BackendPath;

use super::quorum::{best_response, quorum_size};
use super::remote::{backend_path, join_all, to_response};
use super::{dev_addr, Backend};

/// The account (and container) a request is about.
#[derive(Debug, Clone, Copy)]
pub struct DbTarget<'a> {
    /// Account.
    pub account: &'a str,
    /// Container; `None` for the account itself.
    pub container: Option<&'a str>,
}

impl DbTarget<'_> {
    fn kind(&self) -> &'static str {
        if self.container.is_some() {
            "container"
        } else {
            "account"
        }
    }
}

/// The partition, primaries and handoffs (at most twice the replica count,
/// Swift's `request_node_count`) of `t` in its ring; `None` without one.
pub fn nodes(be: &Backend, t: DbTarget<'_>) -> Option<(u32, Vec<Device>, Vec<Device>)> {
    let (rings, _) = be.cluster()?;
    let ring = match t.container {
        Some(_) => rings.container.as_ref()?,
        None => rings.account.as_ref()?,
    };
    let ring = ring.get();
    let part = ring.get_part(t.account, t.container, None).ok()?;
    let primaries: Vec<Device> = ring.get_part_nodes(part).into_iter().cloned().collect();
    let handoffs = ring
        .get_more_nodes(part)
        .take(primaries.len().max(1) * 2)
        .cloned()
        .collect();
    Some((part, primaries, handoffs))
}

/// One request to `dev`; `None` when it could not be reached.
async fn send(
    be: &Backend,
    dev: &Device,
    part: u32,
    method: &str,
    t: DbTarget<'_>,
    headers: &Headers,
    query: &str,
) -> Option<Response> {
    let (rings, peers) = be.cluster()?;
    let path = backend_path(&dev.device, part, t.account, t.container, None);
    if rings.is_local(dev) {
        if let (Some(local), Some(updater)) = (be.device(&dev.device), be.updater()) {
            let req = Request::internal(method, path, query, headers.clone(), Framing::Length(0));
            let p = BackendPath {
                device: dev.device.clone(),
                partition: part.to_string(),
                account: t.account.to_string(),
                container: t.container.map(str::to_string),
                object: None,
            };
            return Some(crate::server::db_request(local, updater, be.policies(), &req, &p).await);
        }
    }
    let addr = dev_addr(dev)?;
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    match peers.request(addr, method, &target, headers, &[]).await {
        Ok((head, body)) => Some(to_response(&head, body)),
        Err(e) => {
            tracing::warn!(%addr, method, kind = t.kind(), "backend request failed: {e}");
            None
        }
    }
}

fn header_time(r: &Response, name: &str) -> Option<Timestamp> {
    r.headers.get(name).and_then(|v| Timestamp::parse(v).ok())
}

/// The time Swift sorts good sources by (`GetterSource.timestamp`).
fn source_time(r: &Response) -> Timestamp {
    header_time(r, "x-backend-timestamp")
        .or_else(|| header_time(r, "x-put-timestamp"))
        .or_else(|| header_time(r, "x-timestamp"))
        .unwrap_or_else(|| Timestamp::from_secs(0))
}

/// Swift's `is_good_source` for accounts and containers.
fn is_good(status: u16) -> bool {
    (200..400).contains(&status)
}

/// An account or container GET/HEAD (`query` already encoded).
pub async fn read(
    be: &Backend,
    method: &str,
    t: DbTarget<'_>,
    headers: &Headers,
    query: &str,
) -> Response {
    let Some((part, primaries, handoffs)) = nodes(be, t) else {
        return Response::text(503, &format!("No {} ring", t.kind()));
    };
    let newest = headers.get("x-newest").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "t" | "y"
        )
    });
    let n_primaries = primaries.len();
    let mut sources: Vec<Response> = Vec::new();
    let mut others: Vec<Response> = Vec::new();
    for (i, dev) in primaries.iter().chain(handoffs.iter()).enumerate() {
        let handoff = i >= n_primaries;
        let Some(r) = send(be, dev, part, method, t, headers, query).await else {
            continue;
        };
        match classify(&r, handoff) {
            Answer::Source => {
                sources.push(r);
                if !newest {
                    break;
                }
            }
            Answer::Unsynced => others.push(Response::status(404)),
            Answer::Ignored => {}
            Answer::Other => others.push(r),
        }
    }
    conclude(sources, others, t, method)
}

/// What one backend answer to a read means.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Good: it can be returned.
    Source,
    /// A database never written (put timestamp 0): counts as a 404.
    Unsynced,
    /// A handoff's 404 or 5xx that knows of no delete: says nothing.
    Ignored,
    /// Kept for the quorum decision when no source is found.
    Other,
}

fn classify(r: &Response, handoff: bool) -> Answer {
    let zero = Timestamp::from_secs(0);
    if is_good(r.status) {
        if header_time(r, "x-put-timestamp").is_some_and(|ts| ts == zero) {
            return Answer::Unsynced;
        }
        return Answer::Source;
    }
    let knows = header_time(r, "x-backend-timestamp").is_some_and(|ts| ts != zero);
    if handoff && (r.status == 404 || r.status >= 500) && !knows {
        return Answer::Ignored;
    }
    Answer::Other
}

/// The newest source, or the quorum's answer among the others (503 when
/// none has a quorum).
fn conclude(
    mut sources: Vec<Response>,
    mut others: Vec<Response>,
    t: DbTarget<'_>,
    method: &str,
) -> Response {
    if !sources.is_empty() {
        // The newest; the first of equals (Swift's stable sort, last pop).
        let mut best = 0;
        for (i, s) in sources.iter().enumerate() {
            if source_time(s) > source_time(&sources[best]) {
                best = i;
            }
        }
        return sources.swap_remove(best);
    }
    let statuses: Vec<u16> = others.iter().map(|r| r.status).collect();
    match best_response(&statuses, quorum_size(statuses.len())) {
        Some(i) => others.swap_remove(i),
        None => {
            tracing::error!(kind = t.kind(), method, ?statuses, "read returning 503");
            Response::text(503, "Service Unavailable")
        }
    }
}

/// An account or container PUT/POST/DELETE sent to every primary, each
/// with `headers(i)`, a failing primary replaced by the next handoff;
/// Swift's `make_requests` and `best_response`.
pub async fn write(be: &Backend, method: &str, t: DbTarget<'_>, headers: &[Headers]) -> Response {
    let Some((part, primaries, handoffs)) = nodes(be, t) else {
        return Response::text(503, &format!("No {} ring", t.kind()));
    };
    let n = primaries.len();
    let spare = RefCell::new(handoffs.into_iter());
    let futs: Vec<Pin<Box<dyn Future<Output = Option<Response>> + '_>>> = primaries
        .into_iter()
        .enumerate()
        .map(|(i, first)| {
            let spare = &spare;
            let h = &headers[i % headers.len().max(1)];
            Box::pin(async move {
                let mut dev = Some(first);
                while let Some(d) = dev {
                    match send(be, &d, part, method, t, h, "").await {
                        Some(r) if r.status < 500 => return Some(r),
                        _ => dev = spare.borrow_mut().next(),
                    }
                }
                None
            }) as Pin<Box<dyn Future<Output = Option<Response>>>>
        })
        .collect();
    let mut answers: Vec<Response> = join_all(futs)
        .await
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Response::status(503)))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    match best_response(&statuses, quorum_size(n)) {
        Some(i) => answers.swap_remove(i),
        None => {
            tracing::error!(kind = t.kind(), method, ?statuses, "write returning 503");
            Response::text(503, "Service Unavailable")
        }
    }
}

/// `X-Account-Host/-Partition/-Device` for `n_outgoing` container writes,
/// spread over the account's primaries as Swift's container controller
/// does (`_backend_requests`): account replica `i` goes to write `i % n`.
pub fn account_headers(be: &Backend, account: &str, outgoing: &mut [Headers]) {
    if outgoing.is_empty() {
        return;
    }
    let t = DbTarget {
        account,
        container: None,
    };
    let Some((part, accounts, _)) = nodes(be, t) else {
        return;
    };
    let n = outgoing.len();
    for (i, a) in accounts.iter().enumerate() {
        let h = &mut outgoing[i % n];
        h.set("X-Account-Partition", part.to_string());
        let append = |old: Option<&str>, v: String| match old {
            Some(o) if !o.is_empty() => format!("{o},{v}"),
            _ => v,
        };
        let host = append(h.get("x-account-host"), a.host_port());
        let dev = append(h.get("x-account-device"), a.device.clone());
        h.set("X-Account-Host", host);
        h.set("X-Account-Device", dev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)]) -> Response {
        let mut r = Response::status(status);
        for (k, v) in headers {
            r.headers.set(*k, *v);
        }
        r
    }

    const T: DbTarget<'static> = DbTarget {
        account: "a",
        container: Some("c"),
    };

    #[test]
    fn answers_are_classified_as_swift_does() {
        assert_eq!(classify(&resp(204, &[]), false), Answer::Source);
        assert_eq!(classify(&resp(204, &[]), true), Answer::Source);
        let unsynced = resp(204, &[("X-Put-Timestamp", "0000000000.00000")]);
        assert_eq!(classify(&unsynced, false), Answer::Unsynced);
        assert_eq!(classify(&resp(404, &[]), false), Answer::Other);
        assert_eq!(classify(&resp(404, &[]), true), Answer::Ignored);
        assert_eq!(classify(&resp(503, &[]), true), Answer::Ignored);
        let deleted = resp(404, &[("X-Backend-Timestamp", "0000000005.00000")]);
        assert_eq!(classify(&deleted, true), Answer::Other);
    }

    #[test]
    fn the_newest_source_wins_else_the_quorum() {
        let old = resp(204, &[("X-Backend-Timestamp", "0000000001.00000")]);
        let new = resp(200, &[("X-Backend-Timestamp", "0000000002.00000")]);
        assert_eq!(conclude(vec![old, new], vec![], T, "GET").status, 200);
        let r = conclude(
            vec![],
            vec![resp(404, &[]), resp(404, &[]), resp(503, &[])],
            T,
            "GET",
        );
        assert_eq!(r.status, 404);
        // One 404 of three answers is no quorum.
        let r = conclude(
            vec![],
            vec![resp(404, &[]), resp(503, &[]), resp(503, &[])],
            T,
            "GET",
        );
        assert_eq!(r.status, 503);
        assert_eq!(conclude(vec![], vec![], T, "HEAD").status, 503);
    }

    #[test]
    fn source_time_prefers_the_backend_timestamp() {
        let mut r = Response::status(204);
        r.headers.set("X-Put-Timestamp", "0000000002.00000");
        assert_eq!(source_time(&r), Timestamp::from_secs(2));
        r.headers.set("X-Backend-Timestamp", "0000000003.00000");
        assert_eq!(source_time(&r), Timestamp::from_secs(3));
        assert!(is_good(204) && is_good(301) && !is_good(404));
    }
}

//! Replicated object requests through the object ring, as Swift's proxy
//! makes them: reads try primaries then handoffs and return the first good
//! answer (or the newest with `X-Newest`); writes go to every primary,
//! failed ones replaced by handoffs, the client body read once and sent
//! to all, and the answer chosen by quorum.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use crate::common::timestamp::Timestamp;
use crate::http::{BodyError, BodySource, Headers, Response};
use crate::ring::Device;

use super::quorum::{best_response, quorum_size, spread_container_updates};
use super::remote::{backend_path, join_all, to_response, Framing, Peers, Putter};
use super::{dev_addr, Backend, ClusterRings};

/// The object a request names.
pub struct Target<'a> {
    /// Account.
    pub account: &'a str,
    /// Container.
    pub container: &'a str,
    /// Object.
    pub object: &'a str,
}

/// Bytes read from the client per piece sent to the object servers.
const CHUNK: usize = 64 * 1024;

/// Primaries and handoffs of `part` (Swift tries at most twice the
/// replica count for reads).
fn nodes(ring: &crate::ring::Ring, part: u32) -> (Vec<Device>, Vec<Device>) {
    let primaries: Vec<Device> = ring.get_part_nodes(part).into_iter().cloned().collect();
    let handoffs: Vec<Device> = ring
        .get_more_nodes(part)
        .take(primaries.len().max(1) * 2)
        .cloned()
        .collect();
    (primaries, handoffs)
}

fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "t" | "y"
        )
    })
}

/// One backend request to `dev` with no body (in process when local).
#[allow(clippy::too_many_arguments)]
async fn send_one(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    dev: &Device,
    part: u32,
    method: &str,
    t: &Target<'_>,
    headers: &Headers,
) -> Option<Response> {
    if rings.is_local(dev) {
        let mut body = BodySource::Empty;
        return Some(
            be.local_object(
                &dev.device,
                method,
                t.account,
                t.container,
                t.object,
                headers,
                &mut body,
            )
            .await,
        );
    }
    let addr = dev_addr(dev)?;
    let path = backend_path(
        &dev.device,
        part,
        t.account,
        Some(t.container),
        Some(t.object),
    );
    match peers.fetch(addr, method, &path, headers).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(%addr, method, "object backend request failed: {e}");
            None
        }
    }
}

/// Routes one object request through the object ring.
pub async fn object(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    method: &str,
    t: &Target<'_>,
    headers: &Headers,
    body: &mut BodySource<'_, '_>,
) -> Response {
    // Each policy's objects follow its own ring; the proxy already named
    // the container's policy (learned once per request).
    let policy = headers
        .get("x-backend-storage-policy-index")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let Some(ring) = rings.object_ring(policy) else {
        return Response::text(503, &format!("No object ring for storage policy {policy}"));
    };
    let ring = ring.get();
    let part = match ring.get_part(t.account, Some(t.container), Some(t.object)) {
        Ok(p) => p,
        Err(e) => return Response::text(500, &format!("object ring: {e}")),
    };
    let (primaries, handoffs) = nodes(&ring, part);
    if primaries.is_empty() {
        return Response::text(503, "No devices for this partition");
    }
    // One replica on this very node: the in-process path, the client's
    // body handed straight to the object server.
    if primaries.len() == 1 && rings.is_local(&primaries[0]) {
        let mut h = headers.clone();
        add_container_updates(rings, t, &mut [&mut h]);
        return be
            .local_object(
                &primaries[0].device,
                method,
                t.account,
                t.container,
                t.object,
                &h,
                body,
            )
            .await;
    }
    match method {
        "GET" | "HEAD" if is_true(headers.get("x-newest")) => {
            read_newest(be, rings, peers, part, &primaries, method, t, headers).await
        }
        "GET" | "HEAD" => {
            let all = primaries.iter().chain(handoffs.iter());
            read_first(be, rings, peers, part, all, method, t, headers).await
        }
        "PUT" => {
            put(
                be, rings, peers, part, primaries, handoffs, t, headers, body,
            )
            .await
        }
        _ => {
            write_no_body(
                be, rings, peers, part, primaries, handoffs, method, t, headers,
            )
            .await
        }
    }
}

/// A read answer good enough to return at once (Swift's `is_good_source`
/// plus the conditional answers the object server decides).
fn is_final_read(status: u16) -> bool {
    (200..400).contains(&status) || matches!(status, 412 | 416)
}

#[allow(clippy::too_many_arguments)]
async fn read_first<'d>(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    part: u32,
    nodes: impl Iterator<Item = &'d Device>,
    method: &str,
    t: &Target<'_>,
    headers: &Headers,
) -> Response {
    let mut best: Option<Response> = None;
    for dev in nodes {
        let Some(r) = send_one(be, rings, peers, dev, part, method, t, headers).await else {
            continue;
        };
        if is_final_read(r.status) {
            return r;
        }
        // Keep a 4xx (a 404 with its tombstone time) over a 5xx.
        let better = best
            .as_ref()
            .is_none_or(|b| r.status < 500 && b.status >= 500);
        if better {
            best = Some(r);
        }
    }
    match best {
        Some(r) if r.status < 500 => r,
        _ => Response::text(503, "No object server answered"),
    }
}

/// The timestamp a backend answer carries (the object's or tombstone's).
fn answer_time(r: &Response) -> Option<Timestamp> {
    r.headers
        .get("x-backend-timestamp")
        .or_else(|| r.headers.get("x-timestamp"))
        .and_then(|v| Timestamp::parse(v).ok())
}

#[allow(clippy::too_many_arguments)]
async fn read_newest(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    part: u32,
    primaries: &[Device],
    method: &str,
    t: &Target<'_>,
    headers: &Headers,
) -> Response {
    let futs: Vec<Pin<Box<dyn Future<Output = Option<Response>> + '_>>> = primaries
        .iter()
        .map(|dev| {
            Box::pin(send_one(be, rings, peers, dev, part, method, t, headers))
                as Pin<Box<dyn Future<Output = Option<Response>>>>
        })
        .collect();
    let answers: Vec<Response> = join_all(futs).await.into_iter().flatten().collect();
    let newest = answers
        .iter()
        .enumerate()
        .filter(|(_, r)| is_final_read(r.status))
        .max_by_key(|(_, r)| answer_time(r))
        .map(|(i, _)| i);
    let pick = newest.or_else(|| answers.iter().position(|r| r.status < 500));
    match pick {
        Some(i) => answers
            .into_iter()
            .nth(i)
            .unwrap_or_else(|| Response::status(503)),
        None => Response::text(503, "No object server answered"),
    }
}

/// Adds `X-Container-Host/Partition/Device` to each outgoing request's
/// headers, spread over the container's primaries as Swift's proxy does.
fn add_container_updates(rings: &ClusterRings, t: &Target<'_>, outgoing: &mut [&mut Headers]) {
    let Some(cring) = &rings.container else {
        return;
    };
    let cring = cring.get();
    let Ok((cpart, containers)) = cring.get_nodes(t.account, Some(t.container), None) else {
        return;
    };
    let spread = spread_container_updates(containers.len(), outgoing.len());
    for (h, picks) in outgoing.iter_mut().zip(spread) {
        if picks.is_empty() {
            continue;
        }
        let hosts: Vec<String> = picks.iter().map(|&i| containers[i].host_port()).collect();
        let devs: Vec<&str> = picks
            .iter()
            .map(|&i| containers[i].device.as_str())
            .collect();
        h.set("X-Container-Partition", cpart.to_string());
        h.set("X-Container-Host", hosts.join(","));
        h.set("X-Container-Device", devs.join(","));
    }
}

fn outgoing_headers(
    rings: &ClusterRings,
    t: &Target<'_>,
    headers: &Headers,
    n: usize,
) -> Vec<Headers> {
    let mut out: Vec<Headers> = (0..n).map(|_| headers.clone()).collect();
    let mut refs: Vec<&mut Headers> = out.iter_mut().collect();
    add_container_updates(rings, t, &mut refs);
    let n_updates = out
        .iter()
        .filter_map(|h| h.get("x-container-host"))
        .map(|v| v.split(',').count())
        .sum();
    let cring = rings.container.as_ref().map(|r| r.get());
    let (a, c, o) = (t.account, t.container, t.object);
    super::delete_at::add_headers(cring.as_deref(), a, c, o, n_updates, &mut out);
    out
}

/// The quorum decision over the answers of a replicated write; `None`
/// answers (failures) count as 503.
fn decide(answers: Vec<Option<Response>>, n_primaries: usize) -> Response {
    let statuses: Vec<u16> = answers
        .iter()
        .map(|a| a.as_ref().map_or(503, |r| r.status))
        .collect();
    match best_response(&statuses, quorum_size(n_primaries)) {
        Some(i) => answers
            .into_iter()
            .nth(i)
            .flatten()
            .unwrap_or_else(|| Response::status(503)),
        None => {
            tracing::error!(?statuses, "object write without quorum");
            Response::text(503, "Not enough object servers answered")
        }
    }
}

/// POST and DELETE: every primary, a failing one replaced by a handoff.
#[allow(clippy::too_many_arguments)]
async fn write_no_body(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    part: u32,
    primaries: Vec<Device>,
    handoffs: Vec<Device>,
    method: &str,
    t: &Target<'_>,
    headers: &Headers,
) -> Response {
    let n = primaries.len();
    // POST too: a new Content-Type reaches the container listing, and a
    // new X-Delete-At the expirer queue.
    let outgoing = if matches!(method, "DELETE" | "POST") {
        outgoing_headers(rings, t, headers, n)
    } else {
        (0..n).map(|_| headers.clone()).collect()
    };
    let spare = RefCell::new(handoffs.into_iter());
    let futs: Vec<Pin<Box<dyn Future<Output = Option<Response>> + '_>>> = primaries
        .into_iter()
        .zip(outgoing.iter())
        .map(|(first, h)| {
            let spare = &spare;
            Box::pin(async move {
                let mut dev = Some(first);
                while let Some(d) = dev {
                    match send_one(be, rings, peers, &d, part, method, t, h).await {
                        Some(r) if r.status < 500 => return Some(r),
                        _ => dev = spare.borrow_mut().next(),
                    }
                }
                None
            }) as Pin<Box<dyn Future<Output = Option<Response>>>>
        })
        .collect();
    decide(join_all(futs).await, n)
}

/// What opening a write to one replica gave.
enum Opened {
    Streaming(Putter),
    Answered(Response),
    Failed,
}

/// One replica's write: `first` (its primary), or the next handoff when
/// that cannot take it (Swift's `_connect_put_node`).
#[allow(clippy::too_many_arguments)]
async fn open_put_node(
    peers: &Peers,
    spare: &RefCell<std::vec::IntoIter<Device>>,
    first: Option<Device>,
    part: u32,
    t: &Target<'_>,
    h: &Headers,
    framing: Framing,
) -> Opened {
    let mut dev = first.or_else(|| spare.borrow_mut().next());
    while let Some(d) = dev {
        if let Some(addr) = dev_addr(&d) {
            let path = backend_path(
                &d.device,
                part,
                t.account,
                Some(t.container),
                Some(t.object),
            );
            match peers.open_put(addr, "PUT", &path, h, framing).await {
                Ok(p) => return Opened::Streaming(p),
                Err(Some((head, b))) if head.status < 500 && head.status != 507 => {
                    return Opened::Answered(to_response(&head, b));
                }
                Err(_) => {}
            }
        }
        dev = spare.borrow_mut().next();
    }
    Opened::Failed
}

#[allow(clippy::too_many_arguments)]
async fn put(
    be: &Backend,
    rings: &ClusterRings,
    peers: &Peers,
    part: u32,
    primaries: Vec<Device>,
    handoffs: Vec<Device>,
    t: &Target<'_>,
    headers: &Headers,
    body: &mut BodySource<'_, '_>,
) -> Response {
    let n = primaries.len();
    let quorum = quorum_size(n);
    let framing = match headers
        .get("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(len) if !headers.contains("transfer-encoding") => Framing::Length(len),
        _ => Framing::Chunked,
    };
    let mut outgoing = outgoing_headers(rings, t, headers, n);
    let mut primaries = primaries;
    // A primary on this node takes the body in process: its object server
    // reads the client's body and each piece is passed on to the others.
    let local = primaries.iter().position(|d| rings.is_local(d)).map(|i| {
        let dev = primaries.remove(i);
        (dev, outgoing.remove(i))
    });
    let spare = RefCell::new(handoffs.into_iter());
    let futs: Vec<Pin<Box<dyn Future<Output = Opened> + '_>>> = primaries
        .into_iter()
        .zip(outgoing.iter())
        .map(|(first, h)| {
            Box::pin(open_put_node(
                peers,
                &spare,
                Some(first),
                part,
                t,
                h,
                framing,
            )) as Pin<Box<dyn Future<Output = Opened>>>
        })
        .collect();
    let opened = join_all(futs).await;
    let mut putters = Vec::new();
    let mut answers: Vec<Option<Response>> = Vec::new();
    for o in opened {
        match o {
            Opened::Streaming(p) => putters.push(p),
            Opened::Answered(r) => answers.push(Some(r)),
            Opened::Failed => answers.push(None),
        }
    }
    if putters.len() + usize::from(local.is_some()) < quorum {
        // Not enough object servers to take the body (or they refused it,
        // as with `If-None-Match: *` on an existing object).
        return decide(answers, n);
    }
    if let Some((dev, h)) = local {
        let ended = std::cell::Cell::new(false);
        let read_any = std::cell::Cell::new(false);
        let tee = Tee {
            body,
            putters: &mut putters,
            quorum,
            ended: &ended,
            read_any: &read_any,
        };
        let mut source = BodySource::Stream(Box::new(tee));
        let r = be
            .local_object(
                &dev.device,
                "PUT",
                t.account,
                t.container,
                t.object,
                &h,
                &mut source,
            )
            .await;
        drop(source);
        if (300..500).contains(&r.status) {
            // The request itself was refused (a precondition, the ETag,
            // the client): no replica may keep it.
            answers.push(Some(r));
            return decide(answers, n);
        }
        let this_node_failed = r.status >= 500;
        if this_node_failed && !read_any.get() {
            // It failed before taking any of the body (its device is gone,
            // say): a handoff takes this replica, as for a remote primary
            // that cannot be reached.
            match open_put_node(peers, &spare, None, part, t, &h, framing).await {
                Opened::Streaming(p) => putters.push(p),
                Opened::Answered(a) => answers.push(Some(a)),
                Opened::Failed => answers.push(Some(r)),
            }
        } else {
            answers.push(Some(r));
        }
        if !this_node_failed || ended.get() {
            return finish(peers, putters, answers, n).await;
        }
        // This node's replica failed part-way (e.g. its disk is full): the
        // others get the rest of the body and the quorum decides, as for a
        // remote replica that fails during the upload.
    }
    // The client's body, read once, each piece sent to every replica.
    loop {
        let buf = Vec::with_capacity(CHUNK);
        let (res, buf) = body.read(buf).await;
        match res {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                return match e {
                    BodyError::TooLarge => Response::text(413, "Your request is too large."),
                    other => {
                        tracing::info!("client body ended early: {other}");
                        Response::text(499, "Client disconnected")
                    }
                };
            }
        }
        let chunk = bytes::Bytes::from(buf);
        let sends: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = putters
            .iter_mut()
            .map(|p| Box::pin(p.send(chunk.clone())) as Pin<Box<dyn Future<Output = ()>>>)
            .collect();
        join_all(sends).await;
        if putters.iter().filter(|p| !p.failed()).count() < quorum {
            return Response::text(503, "Object servers failed during the upload");
        }
    }
    finish(peers, putters, answers, n).await
}

/// Waits for the remote replicas' answers and decides by quorum.
async fn finish(
    peers: &Peers,
    putters: Vec<Putter>,
    mut answers: Vec<Option<Response>>,
    n: usize,
) -> Response {
    let finishes: Vec<Pin<Box<dyn Future<Output = Option<Response>> + '_>>> = putters
        .into_iter()
        .map(|p| {
            Box::pin(async move {
                peers
                    .finish_put(p)
                    .await
                    .map(|(head, b)| to_response(&head, b))
            }) as Pin<Box<dyn Future<Output = Option<Response>>>>
        })
        .collect();
    answers.extend(join_all(finishes).await);
    decide(answers, n)
}

/// The client's body as the in-process replica reads it, each piece also
/// sent to the remote replicas; fails once fewer than a quorum can still
/// complete the write.
struct Tee<'b, 's, 'c> {
    body: &'b mut BodySource<'s, 'c>,
    putters: &'b mut Vec<Putter>,
    quorum: usize,
    /// Set once the client's body has been read to its end.
    ended: &'b std::cell::Cell<bool>,
    /// Set once any of the body has been read.
    read_any: &'b std::cell::Cell<bool>,
}

impl crate::http::stream::BodyStream for Tee<'_, '_, '_> {
    fn read(
        &mut self,
        buf: Vec<u8>,
    ) -> crate::http::stream::LocalBoxFuture<'_, (std::io::Result<usize>, Vec<u8>)> {
        Box::pin(async move {
            let start = buf.len();
            let (res, buf) = self.body.read(buf).await;
            let n = match res {
                Ok(n) => n,
                Err(e) => return (Err(std::io::Error::other(e.to_string())), buf),
            };
            if n == 0 {
                self.ended.set(true);
            } else {
                self.read_any.set(true);
            }
            if n > 0 {
                let chunk = bytes::Bytes::copy_from_slice(&buf[start..start + n]);
                let sends: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = self
                    .putters
                    .iter_mut()
                    .map(|p| Box::pin(p.send(chunk.clone())) as Pin<Box<dyn Future<Output = ()>>>)
                    .collect();
                join_all(sends).await;
                if self.putters.iter().filter(|p| !p.failed()).count() + 1 < self.quorum {
                    let e = std::io::Error::other("object servers failed during the upload");
                    return (Err(e), buf);
                }
            }
            (Ok(n), buf)
        })
    }
}

//! Feature modules: Swift's proxy middlewares (copy, large objects,
//! symlinks, versioning, ...) as an ordered pipeline in front of the proxy
//! controllers, in Swift's all-in-one order.
//!
//! A request enters at the top ([`Proxy::call`] at 0). Each module may
//! *claim* it (a cheap synchronous check, no I/O): the first claimer gets
//! the request with a [`Next`] that sends requests on down the rest of the
//! pipeline, and may rewrite it, answer it itself, make subrequests, or wrap
//! what comes back. Requests no module claims go straight to authorization
//! and the controllers, so a plain GET or PUT pays a few predicate checks
//! and nothing else. On the way back, modules above the claimer may
//! transform the response (e.g. DLO expands a manifest any GET returned).
//!
//! Subrequests are in-process [`SwiftRequest`]s: they carry the caller's
//! identity and are authorized below the pipeline exactly like client
//! requests (Swift's `make_subrequest`), unless marked pre-authorized
//! (`make_pre_authed_request`). No socket is involved; bodies move as
//! [`BodySource`] streams.

pub mod bulk;
pub mod bulk_extract;
pub mod copy;
pub mod dlo;
pub mod formpost;
pub mod object_versioning;
pub mod object_versioning_ids;
pub mod object_versioning_listing;
pub mod quotas;
pub mod segments;
pub mod slo;
pub mod slo_manifest;
mod slo_put;
mod slo_read;
pub mod staticweb;
pub mod symlink;
pub mod tar;
pub mod tempurl;
pub mod util;
pub mod versioned_writes;

use std::rc::Rc;

use crate::common::constraints::Constraints;
use crate::config::Config;

use crate::http::request::Framing;
use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Headers, Request, Response};

use super::auth::AuthResult;
use super::infocache::InfoCache;
use super::path::SwiftPath;
use super::Proxy;

/// A request inside the proxy: the head, its decoded path, and who sent it.
#[derive(Debug, Clone)]
pub struct SwiftRequest {
    /// The request head (`raw_path` is kept in step with `path`).
    pub head: Request,
    /// Account, container and object, decoded.
    pub path: SwiftPath,
    /// The authenticated caller (shared by all its subrequests).
    pub who: Rc<AuthResult>,
    /// Skip authorization (Swift's pre-authorized subrequests).
    pub preauthed: bool,
    /// The module that made this subrequest (Swift's `swift.source`);
    /// `None` for the client's own request.
    pub source: Option<&'static str>,
    /// Container and account info of the client request, shared by its
    /// subrequests (Swift's `swift.infocache`).
    pub cache: Rc<InfoCache>,
}

/// Python's `urllib.parse.quote` with `/` kept: how Swift puts names in
/// paths.
pub fn quote(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

impl SwiftRequest {
    /// The method.
    pub fn method(&self) -> &str {
        &self.head.method
    }

    /// The request's headers.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// A decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.head.query_param(name)
    }

    /// Whether this addresses an object.
    pub fn is_object(&self) -> bool {
        self.path.object.is_some()
    }

    /// The container, or "" for account requests.
    pub fn container(&self) -> &str {
        self.path.container.as_deref().unwrap_or("")
    }

    /// The object name, or "" when this is not an object request.
    pub fn object(&self) -> &str {
        self.path.object.as_deref().unwrap_or("")
    }

    /// A subrequest by the same caller to another path, with no headers
    /// and no body (Swift's `make_subrequest`). `query` is already encoded.
    pub fn sub(
        &self,
        method: &str,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
        query: &str,
        source: &'static str,
    ) -> SwiftRequest {
        let path = SwiftPath {
            version: self.path.version.clone(),
            account: account.to_string(),
            container: container.map(str::to_string),
            object: object.map(str::to_string),
        };
        // As Swift's make_env: the referrer (ACLs judge it) and the agent
        // travel with every subrequest.
        let mut headers = Headers::new();
        for name in ["Referer", "User-Agent"] {
            if let Some(v) = self.head.headers.get(name) {
                headers.set(name, v);
            }
        }
        SwiftRequest {
            head: Request {
                peer: self.head.peer,
                ..Request::internal(method, raw_path(&path), query, headers, Framing::None)
            },
            path,
            who: self.who.clone(),
            preauthed: false,
            source: Some(source),
            cache: self.cache.clone(),
        }
    }

    /// The same request sent to another object (for redirects inside the
    /// pipeline: symlinks, versions).
    pub fn retarget(&mut self, account: &str, container: &str, object: &str) {
        self.path.account = account.to_string();
        self.path.container = Some(container.to_string());
        self.path.object = Some(object.to_string());
        self.head.raw_path = raw_path(&self.path);
    }

    /// Announces a body of `len` bytes (for subrequest PUTs).
    pub fn set_body_len(&mut self, len: u64) {
        self.head.framing = Framing::Length(len);
        self.head.headers.set("Content-Length", len.to_string());
    }

    /// Announces a body of unknown length.
    pub fn set_body_chunked(&mut self) {
        self.head.framing = Framing::Chunked;
        self.head.headers.remove("content-length");
        self.head.headers.set("Transfer-Encoding", "chunked");
    }
}

/// The encoded path of `p`.
fn raw_path(p: &SwiftPath) -> String {
    let mut s = format!("/{}/{}", p.version, quote(&p.account));
    if let Some(c) = &p.container {
        s.push('/');
        s.push_str(&quote(c));
        if let Some(o) = &p.object {
            s.push('/');
            s.push_str(&quote(o));
        }
    }
    s
}

/// One feature module (one Swift middleware).
pub trait Feature {
    /// Swift's middleware name (for logs).
    fn name(&self) -> &'static str;

    /// Whether this module must see the request before the rest of the
    /// pipeline does. Cheap and synchronous: it runs for every request.
    fn claims(&self, _req: &SwiftRequest) -> bool {
        false
    }

    /// Handles a claimed request. `next` reaches the modules below this one
    /// (and then the controllers).
    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(next.call(req, body))
    }

    /// Whether this module must transform the response to a request it did
    /// not claim. Cheap and synchronous.
    fn claims_response(&self, _req: &SwiftRequest, _resp: &Response) -> bool {
        false
    }

    /// Transforms a response it claimed; `next` reaches the modules below.
    fn transform<'a>(
        &'a self,
        _next: Next<'a>,
        _req: &'a SwiftRequest,
        resp: Response,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(std::future::ready(resp))
    }
}

/// The rest of the pipeline below a module.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    proxy: &'a Rc<Proxy>,
    at: usize,
}

impl<'a> Next<'a> {
    /// Sends `req` on down the pipeline.
    pub async fn call(self, req: &SwiftRequest, body: &mut BodySource<'_, '_>) -> Response {
        self.proxy.call(self.at, req, body).await
    }

    /// Sends a request without a body.
    pub async fn call_empty(self, req: &SwiftRequest) -> Response {
        self.proxy.call(self.at, req, &mut BodySource::Empty).await
    }

    /// The proxy, for streams that make subrequests after the handler has
    /// returned (they keep an owned [`Entry`]).
    pub fn entry(self) -> Entry {
        Entry {
            proxy: self.proxy.clone(),
            at: self.at,
        }
    }

    /// The pipeline from the calling module itself (Swift's
    /// `get_response(self)`: the module sees its own subrequests).
    pub fn including_self(self) -> Next<'a> {
        Next {
            proxy: self.proxy,
            at: self.at.saturating_sub(1),
        }
    }

    /// The proxy's shared state.
    pub fn proxy(self) -> &'a Rc<Proxy> {
        self.proxy
    }
}

/// An owned place in the pipeline (what [`Next`] is, without the borrow).
#[derive(Clone)]
pub struct Entry {
    proxy: Rc<Proxy>,
    at: usize,
}

impl Entry {
    /// Sends a request without a body.
    pub async fn call_empty(&self, req: &SwiftRequest) -> Response {
        self.proxy.call(self.at, req, &mut BodySource::Empty).await
    }

    /// Borrowed form.
    pub fn next(&self) -> Next<'_> {
        Next {
            proxy: &self.proxy,
            at: self.at,
        }
    }
}

/// The feature modules in Swift's all-in-one pipeline order:
/// `bulk tempurl formpost tempauth staticweb copy container-quotas
/// account-quotas slo dlo versioned_writes object_versioning symlink`
/// (both quota middlewares are the one [`quotas::Quotas`] module)
/// (authentication happens before the pipeline; authorization after it, in
/// the controllers' step, as Swift's `swift.authorize` runs there).
pub fn pipeline(c: &Constraints) -> Vec<Box<dyn Feature>> {
    configured(&Config {
        constraints: c.clone(),
        ..Config::default()
    })
}

/// The pipeline with the feature settings of `config` (its `[tempurl]`,
/// `[formpost]`, `[staticweb]` and `[bulk]` sections and constraints).
pub fn configured(config: &Config) -> Vec<Box<dyn Feature>> {
    let c = &config.constraints;
    vec![
        Box::new(bulk::Bulk {
            max_path_length: c.max_object_name_length + c.max_container_name_length + 2,
            max_file_size: c.max_file_size,
            limits: config.bulk.clone(),
        }),
        Box::new(tempurl::TempUrl {
            conf: config.tempurl.clone(),
        }),
        Box::new(formpost::FormPost {
            allowed_digests: config.formpost.allowed_digests.clone(),
        }),
        Box::new(staticweb::StaticWeb {
            url_base: config.staticweb.scheme_and_host(),
        }),
        Box::new(copy::Copy {
            max_file_size: c.max_file_size,
        }),
        Box::new(quotas::Quotas),
        Box::new(slo::Slo::default()),
        Box::new(dlo::Dlo {
            listing_limit: c.container_listing_limit as u64,
        }),
        Box::new(versioned_writes::VersionedWrites {
            listing_limit: c.container_listing_limit,
        }),
        Box::new(object_versioning::ObjectVersioning {
            listing_limit: c.container_listing_limit,
        }),
        Box::new(symlink::Symlink::default()),
    ]
}

impl Proxy {
    /// Runs `req` through the pipeline from module `at`, then the
    /// controllers.
    pub async fn call(
        self: &Rc<Self>,
        at: usize,
        req: &SwiftRequest,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let n = self.features.len();
        let claimer = (at..n).find(|&i| self.features[i].claims(req)).unwrap_or(n);
        let mut resp = if claimer < n {
            let next = Next {
                proxy: self,
                at: claimer + 1,
            };
            self.features[claimer].handle(next, req, body).await
        } else {
            self.dispatch(req, body).await
        };
        for i in (at..claimer).rev() {
            if self.features[i].claims_response(req, &resp) {
                let next = Next {
                    proxy: self,
                    at: i + 1,
                };
                resp = self.features[i].transform(next, req, resp).await;
            }
        }
        resp
    }
}

//! The proxy: routing of client requests, tempauth and ACLs, `/info` and
//! `/healthcheck`, CORS, and the controllers that turn client requests into
//! backend requests.

pub mod account;
pub mod acl;
pub mod auth;
pub mod backend;
pub mod cluster_db;
pub mod container;
pub mod cors;
pub mod gatekeeper;
pub mod info;
pub mod infocache;
pub mod listing;
pub mod listing_params;
pub mod meta;
pub mod mw;
pub mod object;
pub mod path;
#[cfg(test)]
pub(crate) mod test_support;

use std::rc::Rc;

use crate::common::constraints::Constraints;
use crate::common::storage_policy::Policies;
use crate::db::{AccountState, ContainerInfo, DbPool};
use crate::http::conn::{log_access, Handler, LogEntry};
use crate::http::{BodyReader, BodySource, Request, Response};

use acl::{account_access, parse_account_acl, parse_acl, referrer_allowed, AccountAccess};
use auth::{AuthResult, TempAuth};
use backend::Backend;
use cors::CorsInfo;
use mw::quotas;
use object::{ObjectController, ObjectTarget};
use path::SwiftPath;

/// What the caller may do in the account, before container ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    None,
    ReadOnly,
    ReadWrite,
    Owner,
}

/// One worker's proxy state, shared (by `Rc`) with the feature modules and
/// the response streams that make subrequests.
pub struct Proxy {
    /// Swift's constraints.
    pub constraints: Constraints,
    auth: TempAuth,
    /// Where storage requests go.
    pub backend: Backend,
    /// Account and container databases.
    pub db: DbPool,
    /// The storage policies containers may choose.
    pub policies: Rc<Policies>,
    features: Vec<Box<dyn mw::Feature>>,
}

/// One worker's proxy application.
pub struct App {
    proxy: Rc<Proxy>,
    info_json: Rc<String>,
    default_host: String,
    log_requests: bool,
}

/// Methods that only read.
fn is_read(method: &str) -> bool {
    matches!(method, "GET" | "HEAD")
}

impl App {
    /// An app for one worker.
    pub fn new(
        constraints: Constraints,
        auth: TempAuth,
        backend: Backend,
        db: DbPool,
        info_json: Rc<String>,
        default_host: String,
        log_requests: bool,
    ) -> Self {
        App {
            proxy: Rc::new(Proxy {
                features: mw::pipeline(&constraints),
                constraints,
                auth,
                backend,
                db,
                policies: Rc::new(Policies::default()),
            }),
            info_json,
            default_host,
            log_requests,
        }
    }

    /// Uses the feature settings of `config` (`[tempurl]`, `[bulk]`, ...)
    /// instead of Swift's defaults.
    pub fn with_features(mut self, config: &crate::config::Config) -> Self {
        if let Some(p) = Rc::get_mut(&mut self.proxy) {
            p.features = mw::configured(config);
        }
        self
    }

    /// Uses `policies` instead of the legacy single policy.
    pub fn with_policies(mut self, policies: Policies) -> Self {
        if let Some(p) = Rc::get_mut(&mut self.proxy) {
            p.policies = Rc::new(policies);
        }
        self
    }

    async fn route(&self, req: &Request, body: &mut BodyReader<'_>) -> Response {
        let p = &self.proxy;
        let path = match path::decode(&req.raw_path) {
            Ok(p) => p,
            Err(r) => return r,
        };
        match path.as_str() {
            "/healthcheck" => {
                return Response::text(200, "OK").with_header("Content-Type", "text/plain")
            }
            "/info" => return self.info(req),
            "/auth/v1.0" | "/auth/v1.0/" | "/v1.0" | "/auth" | "/auth/" => {
                return p.auth.handle_get_token(req, &self.default_host)
            }
            _ => {}
        }
        let sp = match path::split(&path, &p.constraints) {
            Ok(Some(sp)) => sp,
            Ok(None) => return Response::status(404),
            Err(r) => return r,
        };
        if req.method == "OPTIONS" {
            return p.options(req, &sp).await;
        }
        let who = p.auth.authenticate(&req.headers);
        let mut head = req.clone();
        gatekeeper::strip_request(&mut head.headers);
        let sreq = mw::SwiftRequest {
            head,
            path: sp,
            who: Rc::new(who),
            preauthed: false,
            source: None,
            cache: Rc::default(),
        };
        let mut body = BodySource::Client(body);
        let mut resp = p.call(0, &sreq, &mut body).await;
        gatekeeper::strip_response(&mut resp);
        resp
    }
}

impl Proxy {
    /// The container's state: from the container ring in a cluster, from
    /// this node's databases otherwise. `None` when missing or deleted.
    pub async fn container_info(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerInfo>, Response> {
        if self.backend.cluster().is_some() {
            return cluster_db::container_info(&self.backend, account, container).await;
        }
        match self.db.container_info(account, container).await {
            Ok(i) => Ok(i.filter(|i| !i.deleted)),
            Err(e) => {
                tracing::error!("container info: {e}");
                Err(Response::status(503))
            }
        }
    }

    /// The account's state: from the account ring in a cluster, from this
    /// node's databases otherwise.
    pub async fn account_state(&self, account: &str) -> Result<AccountState, Response> {
        if self.backend.cluster().is_some() {
            return cluster_db::account_state(&self.backend, account).await;
        }
        self.db.account_state(account).await.map_err(|e| {
            tracing::error!("account info: {e}");
            Response::status(503)
        })
    }

    /// Below the pipeline: authorization (unless pre-authorized), then the
    /// account, container or object controller.
    async fn dispatch(&self, sreq: &mw::SwiftRequest, body: &mut BodySource<'_, '_>) -> Response {
        let req = &sreq.head;
        let sp = &sreq.path;
        let who = &*sreq.who;
        let grant = if sreq.preauthed || who.tempurl_covers(&sp.account, sp.container.as_deref()) {
            Grant::Owner
        } else if matches!(who, AuthResult::TempUrl { .. }) {
            Grant::None
        } else {
            match self.account_grant(sreq, who, &sp.account).await {
                Ok(g) => g,
                Err(r) => return r,
            }
        };
        let deny = || match who {
            AuthResult::Anonymous | AuthResult::TempUrl { .. } => auth::unauthorized(&sp.account),
            AuthResult::User(_) => Response::status(403),
        };
        let Some(container) = sp.container.as_deref() else {
            let allowed = grant == Grant::Owner
                || (grant >= Grant::ReadOnly && is_read(&req.method))
                || (matches!(req.method.as_str(), "PUT" | "DELETE")
                    && matches!(who, AuthResult::User(_)));
            if !allowed {
                return deny();
            }
            let reseller = matches!(who, AuthResult::User(id) if id.reseller_admin);
            let extra_updates = if matches!(req.method.as_str(), "PUT" | "POST") {
                match quotas::account_updates(&req.headers, reseller, &self.policies) {
                    Ok(u) => u,
                    Err(r) => return r,
                }
            } else {
                Vec::new()
            };
            let ar = account::AccountRequest {
                req,
                account: &sp.account,
                owner: grant == Grant::Owner,
                reseller,
                extra_updates,
                policies: &self.policies,
            };
            let mut resp = if self.backend.cluster().is_some() {
                cluster_db::account(&self.backend, &self.constraints, &ar).await
            } else {
                account::handle(&self.db, &self.constraints, &ar).await
            };
            self.forget_written(sreq);
            quotas::show_account_quotas(&mut resp, &self.policies);
            return resp;
        };
        // Owners reading objects need nothing from the container; everyone
        // else needs its ACLs, and writes need to know it exists.
        // With several policies an object request must learn its
        // container's policy to find the object.
        let need_info = sp.object.is_none()
            || self.policies.len() > 1
            || grant < Grant::ReadWrite
            || !is_read(&req.method)
            || req.headers.contains("origin");
        let info = if !need_info {
            None
        } else if sp.object.is_none() && is_read(&req.method) {
            // A container GET or HEAD reports its counts as they are now.
            match self.read_container_info(sreq, &sp.account, container).await {
                Ok(i) => i,
                Err(r) => return r,
            }
        } else {
            match self.get_container_info(sreq, &sp.account, container).await {
                Ok(i) => i,
                Err(r) => return r,
            }
        };
        let info = info.as_deref();
        if !self.container_allowed(who, grant, req, sp, info) {
            return deny();
        }
        if sp.object.is_none() && matches!(req.method.as_str(), "PUT" | "POST") {
            if let Err(r) = quotas::check_container_headers(&req.headers) {
                return r;
            }
        }
        let mut resp = match sp.object.as_deref() {
            None => {
                let cr = container::ContainerRequest {
                    req,
                    version: &sp.version,
                    account: &sp.account,
                    container,
                    owner: grant == Grant::Owner,
                    policies: &self.policies,
                };
                let resp = if self.backend.cluster().is_some() {
                    cluster_db::container(&self.backend, &self.constraints, &cr, info).await
                } else {
                    container::handle(&self.db, &self.constraints, &cr, info.cloned()).await
                };
                self.forget_written(sreq);
                resp
            }
            Some(object) => {
                if need_info && info.is_none() && !is_read(&req.method) {
                    return Response::status(404);
                }
                let ctl = ObjectController {
                    constraints: &self.constraints,
                    backend: &self.backend,
                };
                let target = ObjectTarget {
                    account: &sp.account,
                    container,
                    object,
                    policy_index: info.map_or(0, |i| i.storage_policy_index),
                };
                ctl.handle(req, &target, body).await
            }
        };
        if let (Some(origin), Some(info)) = (req.headers.get("origin"), info) {
            let cors =
                CorsInfo::from_meta(info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            cors::decorate(&mut resp, origin, &cors);
        }
        resp
    }

    /// Whether the caller may make `sreq` as it is, by the rules
    /// `dispatch` applies (Swift's `swift.authorize` called by a middleware
    /// before it acts for the caller with pre-authorized subrequests).
    pub async fn authorize(&self, sreq: &mw::SwiftRequest) -> Result<(), Response> {
        if sreq.preauthed {
            return Ok(());
        }
        let sp = &sreq.path;
        let who = &*sreq.who;
        let grant = if who.tempurl_covers(&sp.account, sp.container.as_deref()) {
            Grant::Owner
        } else if matches!(who, AuthResult::TempUrl { .. }) {
            Grant::None
        } else {
            self.account_grant(sreq, who, &sp.account).await?
        };
        let info = match sp.container.as_deref() {
            Some(c) => self.get_container_info(sreq, &sp.account, c).await?,
            None => None,
        };
        if self.container_allowed(who, grant, &sreq.head, sp, info.as_deref()) {
            return Ok(());
        }
        Err(match who {
            AuthResult::Anonymous | AuthResult::TempUrl { .. } => auth::unauthorized(&sp.account),
            AuthResult::User(_) => Response::status(403),
        })
    }

    /// The caller's standing in `account`: owner, or what its account ACL grants.
    async fn account_grant(
        &self,
        sreq: &mw::SwiftRequest,
        who: &AuthResult,
        account: &str,
    ) -> Result<Grant, Response> {
        if self.auth.is_owner(who, account) {
            return Ok(Grant::Owner);
        }
        let AuthResult::User(id) = who else {
            return Ok(Grant::None);
        };
        let state = self.get_account_info(sreq, account).await?;
        let AccountState::Active(info) = &*state else {
            return Ok(Grant::None);
        };
        let Some(acl) = info.metadata.get("X-Account-Access-Control") else {
            return Ok(Grant::None);
        };
        let acl = parse_account_acl(acl).unwrap_or_default();
        Ok(match account_access(&acl, &id.groups) {
            Some(AccountAccess::Admin) => Grant::Owner,
            Some(AccountAccess::ReadWrite) => Grant::ReadWrite,
            Some(AccountAccess::ReadOnly) => Grant::ReadOnly,
            None => Grant::None,
        })
    }

    /// tempauth's container and object authorization.
    fn container_allowed(
        &self,
        who: &AuthResult,
        grant: Grant,
        req: &Request,
        sp: &SwiftPath,
        info: Option<&ContainerInfo>,
    ) -> bool {
        let read = is_read(&req.method);
        if grant == Grant::Owner {
            return true;
        }
        if grant == Grant::ReadWrite {
            // tempauth: read-write may create, change and delete containers
            // and objects; only account-level writes stay with the owner.
            return true;
        }
        if grant == Grant::ReadOnly && read {
            return true;
        }
        let Some(info) = info else {
            return false;
        };
        let header = if read {
            "X-Container-Read"
        } else {
            "X-Container-Write"
        };
        if sp.object.is_none() && !read {
            return false;
        }
        let acl = parse_acl(info.metadata.get(header).map(String::as_str).unwrap_or(""));
        if read
            && referrer_allowed(req.headers.get("referer"), &acl.referrers)
            && (sp.object.is_some() || acl.groups.iter().any(|g| g == ".rlistings"))
        {
            return true;
        }
        match who {
            AuthResult::User(id) => acl.groups.iter().any(|g| {
                id.groups.contains(g)
                    || g.strip_suffix(":*")
                        .is_some_and(|a| id.groups.iter().any(|ug| ug == a))
            }),
            AuthResult::Anonymous | AuthResult::TempUrl { .. } => false,
        }
    }

    /// CORS preflight (no auth, as in Swift).
    async fn options(&self, req: &Request, sp: &SwiftPath) -> Response {
        let methods: &[&str] = if sp.object.is_some() {
            &["COPY", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]
        } else {
            &["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]
        };
        let Some(container) = sp.container.as_deref() else {
            return cors::preflight(&req.headers, None, methods);
        };
        let info = match self.container_info(&sp.account, container).await {
            Ok(i) => i,
            Err(r) => return r,
        };
        let cors = info
            .map(|i| CorsInfo::from_meta(i.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        cors::preflight(&req.headers, Some(&cors.unwrap_or_default()), methods)
    }
}

impl App {
    fn info(&self, req: &Request) -> Response {
        match req.method.as_str() {
            "GET" | "HEAD" => {
                let mut r = Response::text(200, &self.info_json);
                r.headers
                    .set("Content-Type", "application/json; charset=UTF-8");
                r
            }
            _ => Response::status(405).with_header("Allow", "GET, HEAD"),
        }
    }
}

impl Handler for App {
    async fn handle(&self, req: &Request, body: &mut BodyReader<'_>) -> Response {
        self.route(req, body).await
    }

    fn log(&self, e: &LogEntry<'_>) {
        if !self.log_requests {
            return;
        }
        log_access!("paco::access", e);
    }
}

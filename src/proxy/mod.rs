//! The proxy: routing of client requests, tempauth and ACLs, `/info` and
//! `/healthcheck`, CORS, and the controllers that turn client requests into
//! backend requests.

pub mod account;
pub mod acl;
pub mod auth;
pub mod backend;
pub mod container;
pub mod cors;
pub mod info;
pub mod listing;
pub mod listing_params;
pub mod meta;
pub mod mw;
pub mod object;
pub mod path;

use std::rc::Rc;

use tracing::info;

use crate::common::constraints::Constraints;
use crate::db::{AccountState, ContainerInfo, DbPool};
use crate::http::conn::{Handler, LogEntry};
use crate::http::{BodyReader, Request, Response};

use acl::{account_access, parse_account_acl, parse_acl, referrer_allowed, AccountAccess};
use auth::{AuthResult, TempAuth};
use backend::Backend;
use cors::CorsInfo;
use mw::{quotas, tempurl};
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

/// One worker's proxy application.
pub struct App {
    constraints: Constraints,
    auth: TempAuth,
    backend: Backend,
    db: DbPool,
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
            constraints,
            auth,
            backend,
            db,
            info_json,
            default_host,
            log_requests,
        }
    }

    async fn route(&self, req: &Request, body: &mut BodyReader<'_>) -> Response {
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
                return self.auth.handle_get_token(req, &self.default_host)
            }
            _ => {}
        }
        let sp = match path::split(&path, &self.constraints) {
            Ok(Some(sp)) => sp,
            Ok(None) => return Response::status(404),
            Err(r) => return r,
        };
        if req.method == "OPTIONS" {
            return self.options(req, &sp).await;
        }
        if let Some(params) = tempurl::TempUrlParams::from_query(&req.query) {
            return self.tempurl(req, body, &sp, params).await;
        }
        let who = self.auth.authenticate(&req.headers);
        let grant = match self.account_grant(&who, &sp.account).await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let deny = || match who {
            AuthResult::Anonymous => auth::unauthorized(&sp.account),
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
            let reseller = matches!(&who, AuthResult::User(id) if id.reseller_admin);
            let extra_updates = if matches!(req.method.as_str(), "PUT" | "POST") {
                match quotas::account_updates(&req.headers, reseller) {
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
            };
            let mut resp = account::handle(&self.db, &self.constraints, &ar).await;
            quotas::show_account_quotas(&mut resp);
            return resp;
        };
        self.serve_container(req, body, &sp, container, &who, grant)
            .await
    }

    /// Container and object requests once the caller's standing is known.
    async fn serve_container(
        &self,
        req: &Request,
        body: &mut BodyReader<'_>,
        sp: &SwiftPath,
        container: &str,
        who: &AuthResult,
        grant: Grant,
    ) -> Response {
        let deny = || match who {
            AuthResult::Anonymous => auth::unauthorized(&sp.account),
            AuthResult::User(_) => Response::status(403),
        };
        // Owners reading objects need nothing from the container; everyone
        // else needs its ACLs, and writes need to know it exists.
        let need_info = sp.object.is_none()
            || grant < Grant::ReadWrite
            || !is_read(&req.method)
            || req.headers.contains("origin");
        let info = if need_info {
            match self.db.container_info(&sp.account, container).await {
                Ok(i) => i.filter(|i| !i.deleted),
                Err(e) => {
                    tracing::error!("container info: {e}");
                    return Response::status(503);
                }
            }
        } else {
            None
        };
        if !self.container_allowed(who, grant, req, sp, info.as_ref()) {
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
                    account: &sp.account,
                    container,
                    owner: grant == Grant::Owner,
                };
                container::handle(&self.db, &self.constraints, &cr, info.clone()).await
            }
            Some(object) => {
                if need_info && info.is_none() && !is_read(&req.method) {
                    return Response::status(404);
                }
                if req.method == "PUT" {
                    if let Err(r) = self.check_quotas(req, sp, who, info.as_ref()).await {
                        return r;
                    }
                }
                let ctl = ObjectController {
                    constraints: &self.constraints,
                    backend: &self.backend,
                };
                let target = ObjectTarget {
                    account: &sp.account,
                    container,
                    object,
                };
                ctl.handle(req, &target, body).await
            }
        };
        if let (Some(origin), Some(info)) = (req.headers.get("origin"), info.as_ref()) {
            let cors =
                CorsInfo::from_meta(info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            cors::decorate(&mut resp, origin, &cors);
        }
        resp
    }

    /// A request carrying a temporary URL: authorized by its signature
    /// alone, for the one object (or prefix) it names.
    async fn tempurl(
        &self,
        req: &Request,
        body: &mut BodyReader<'_>,
        sp: &SwiftPath,
        params: tempurl::TempUrlParams,
    ) -> Response {
        let account_keys = match self.db.account_state(&sp.account).await {
            Ok(AccountState::Active(info)) => tempurl::keys_from_meta(
                info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                "x-account-meta-",
            ),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::error!("account info: {e}");
                return Response::status(503);
            }
        };
        let container_keys = match sp.container.as_deref() {
            Some(c) => match self.db.container_info(&sp.account, c).await {
                Ok(Some(info)) if !info.deleted => tempurl::keys_from_meta(
                    info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    "x-container-meta-",
                ),
                Ok(_) => Vec::new(),
                Err(e) => {
                    tracing::error!("container info: {e}");
                    return Response::status(503);
                }
            },
            None => Vec::new(),
        };
        let target = tempurl::Target {
            method: &req.method,
            version: &sp.version,
            account: &sp.account,
            container: sp.container.as_deref(),
            object: sp.object.as_deref(),
            peer: req.peer.map(|p| p.ip()),
        };
        let now = crate::common::timestamp::Timestamp::now().secs();
        let granted = match tempurl::check(&params, &target, &account_keys, &container_keys, now) {
            Ok(g) => g,
            Err(r) => return r,
        };
        if let Err(r) = tempurl::check_disallowed(&req.method, &req.headers) {
            return r;
        }
        let clean = tempurl::clean_request(req, &granted);
        let Some(container) = sp.container.as_deref() else {
            return tempurl::invalid(&req.method, &sp.account);
        };
        let resp = self
            .serve_container(
                &clean,
                body,
                sp,
                container,
                &AuthResult::Anonymous,
                Grant::ReadWrite,
            )
            .await;
        let object = sp.object.as_deref().unwrap_or("");
        match tempurl::finish(resp, &req.method, &sp.account, object, &granted) {
            Ok(r) | Err(r) => r,
        }
    }

    /// Container and account quotas for an object PUT.
    async fn check_quotas(
        &self,
        req: &Request,
        sp: &SwiftPath,
        who: &AuthResult,
        info: Option<&ContainerInfo>,
    ) -> Result<(), Response> {
        let length = match req.framing {
            crate::http::request::Framing::Length(n) => n,
            _ => 0,
        };
        if let Some(info) = info {
            quotas::check_container_put(info, length)?;
        }
        if matches!(who, AuthResult::User(id) if id.reseller_admin) {
            return Ok(());
        }
        match self.db.account_state(&sp.account).await {
            Ok(AccountState::Active(a)) => quotas::check_account_put(&a, length),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!("account info: {e}");
                Err(Response::status(503))
            }
        }
    }

    /// The caller's standing in `account`: owner, or what its account ACL grants.
    async fn account_grant(&self, who: &AuthResult, account: &str) -> Result<Grant, Response> {
        if self.auth.is_owner(who, account) {
            return Ok(Grant::Owner);
        }
        let AuthResult::User(id) = who else {
            return Ok(Grant::None);
        };
        let state = self.db.account_state(account).await.map_err(|e| {
            tracing::error!("account info: {e}");
            Response::status(503)
        })?;
        let AccountState::Active(info) = state else {
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
            AuthResult::Anonymous => false,
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
        let info = match self.db.container_info(&sp.account, container).await {
            Ok(i) => i.filter(|i| !i.deleted),
            Err(_) => return Response::status(503),
        };
        let cors = info
            .map(|i| CorsInfo::from_meta(i.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        cors::preflight(&req.headers, Some(&cors.unwrap_or_default()), methods)
    }

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
        let (method, path) = e
            .req
            .map(|r| (r.method.as_str(), r.raw_path.as_str()))
            .unwrap_or(("-", "-"));
        info!(
            target: "paco::access",
            method,
            path,
            status = e.status,
            bytes_in = e.bytes_in,
            bytes_out = e.bytes_out,
            duration_us = e.duration.as_micros() as u64,
            trans_id = e.trans_id,
            peer = ?e.peer,
        );
    }
}

//! The proxy: routing of client requests, tempauth, `/info` and
//! `/healthcheck`, and the controllers that turn client requests into
//! backend requests.

pub mod acl;
pub mod auth;
pub mod backend;
pub mod cors;
pub mod info;
pub mod listing;
pub mod meta;
pub mod object;
pub mod path;

use std::rc::Rc;

use tracing::info;

use crate::common::constraints::Constraints;
use crate::http::conn::{Handler, LogEntry};
use crate::http::{BodyReader, Request, Response};

use auth::{AuthResult, TempAuth};
use backend::Backend;
use object::{ObjectController, ObjectTarget};

/// One worker's proxy application.
pub struct App {
    constraints: Constraints,
    auth: TempAuth,
    backend: Backend,
    info_json: Rc<String>,
    default_host: String,
    log_requests: bool,
}

impl App {
    /// An app for one worker.
    pub fn new(
        constraints: Constraints,
        auth: TempAuth,
        backend: Backend,
        info_json: Rc<String>,
        default_host: String,
        log_requests: bool,
    ) -> Self {
        App {
            constraints,
            auth,
            backend,
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
        let who = self.auth.authenticate(&req.headers);
        if !self.auth.is_owner(&who, &sp.account) {
            return match who {
                AuthResult::Anonymous => Response::status(401),
                AuthResult::User(_) => Response::status(403),
            };
        }
        match (&sp.container, &sp.object) {
            (Some(container), Some(object)) => {
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
            // Accounts and containers (SQLite, listings) are issue 4.
            _ => Response::text(
                501,
                "Account and container requests are not implemented yet.",
            ),
        }
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

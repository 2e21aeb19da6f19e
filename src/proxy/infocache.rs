//! The per-request info cache (Swift's `swift.infocache`): container and
//! account info looked up once per client request and shared by every
//! subrequest its feature modules make.
//!
//! Without it a versioned object PUT looked its container up in three
//! places (legacy versioning, object versioning, the controller) and the
//! account once more for quotas. As in Swift, the cache lives exactly as
//! long as the client request, and the request's own container and account
//! writes (PUT, POST, DELETE of the container or account) drop what they
//! change; object writes do not refresh a container's counts (Swift's
//! cached `bytes` and `object_count` are just as stale within a request).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::db::{AccountState, ContainerInfo};
use crate::http::Response;

use super::mw::SwiftRequest;
use super::Proxy;

/// account → container → the live container, or `None` when it does not
/// exist (a miss is remembered too, as Swift caches 404 info). Nested so a
/// lookup borrows the names instead of building a key.
type Containers = HashMap<String, HashMap<String, Option<Rc<ContainerInfo>>>>;

/// Container and account info of one client request.
#[derive(Debug, Default)]
pub struct InfoCache {
    containers: RefCell<Containers>,
    accounts: RefCell<HashMap<String, Rc<AccountState>>>,
    /// Lookups that went to the databases.
    lookups: Cell<u32>,
    /// Never keep anything (every lookup goes to the databases).
    disabled: bool,
}

impl InfoCache {
    /// A cache that remembers nothing: each lookup reaches the databases,
    /// as every lookup did before the cache existed.
    pub fn uncached() -> InfoCache {
        InfoCache {
            disabled: true,
            ..InfoCache::default()
        }
    }

    /// How many lookups reached the databases so far.
    pub fn lookups(&self) -> u32 {
        self.lookups.get()
    }

    /// Forgets `container` (after a write to it changed its state).
    pub fn forget_container(&self, account: &str, container: &str) {
        if let Some(m) = self.containers.borrow_mut().get_mut(account) {
            m.remove(container);
        }
    }

    /// Forgets `account` (after a write to it, or an autocreate).
    pub fn forget_account(&self, account: &str) {
        self.accounts.borrow_mut().remove(account);
    }

    fn container(&self, account: &str, container: &str) -> Option<Option<Rc<ContainerInfo>>> {
        self.containers
            .borrow()
            .get(account)
            .and_then(|m| m.get(container))
            .cloned()
    }

    fn keep_container(&self, account: &str, container: &str, info: Option<Rc<ContainerInfo>>) {
        if !self.disabled {
            self.containers
                .borrow_mut()
                .entry(account.to_string())
                .or_default()
                .insert(container.to_string(), info);
        }
    }
}

impl Proxy {
    /// Swift's `get_container_info`: the live container (`None`: missing or
    /// deleted), from the request's cache or else [`Proxy::container_info`]
    /// (503 when that fails).
    pub async fn get_container_info(
        &self,
        req: &SwiftRequest,
        account: &str,
        container: &str,
    ) -> Result<Option<Rc<ContainerInfo>>, Response> {
        if let Some(hit) = req.cache.container(account, container) {
            return Ok(hit);
        }
        self.read_container_info(req, account, container).await
    }

    /// The container as [`Proxy::container_info`] has it now, which then replaces what
    /// the cache held (a container GET or HEAD reports current counts, and
    /// Swift's controllers cache what they just read).
    pub async fn read_container_info(
        &self,
        req: &SwiftRequest,
        account: &str,
        container: &str,
    ) -> Result<Option<Rc<ContainerInfo>>, Response> {
        req.cache.lookups.set(req.cache.lookups.get() + 1);
        let info = self.container_info(account, container).await?.map(Rc::new);
        req.cache.keep_container(account, container, info.clone());
        Ok(info)
    }

    /// Swift's `get_account_info`: the account's state, from the request's
    /// cache or else [`Proxy::account_state`].
    pub async fn get_account_info(
        &self,
        req: &SwiftRequest,
        account: &str,
    ) -> Result<Rc<AccountState>, Response> {
        if let Some(hit) = req.cache.accounts.borrow().get(account) {
            return Ok(hit.clone());
        }
        req.cache.lookups.set(req.cache.lookups.get() + 1);
        let state = Rc::new(self.account_state(account).await?);
        if !req.cache.disabled {
            req.cache
                .accounts
                .borrow_mut()
                .insert(account.to_string(), state.clone());
        }
        Ok(state)
    }

    /// Drops what a container or account write in `req` changes (Swift's
    /// `clear_info_cache` in the container and account controllers). A
    /// container PUT may autocreate its account, so it drops that too.
    pub fn forget_written(&self, req: &SwiftRequest) {
        if req.is_object() || !matches!(req.method(), "PUT" | "POST" | "DELETE") {
            return;
        }
        match req.path.container.as_deref() {
            Some(c) => {
                req.cache.forget_container(&req.path.account, c);
                if req.method() == "PUT" {
                    req.cache.forget_account(&req.path.account);
                }
            }
            None => req.cache.forget_account(&req.path.account),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Framing;
    use crate::http::{BodySource, Headers, Request};
    use crate::proxy::auth::{AuthResult, Identity};
    use crate::proxy::path::SwiftPath;

    /// A request by the account's own admin (not a reseller, so account
    /// quotas apply) with `cache`.
    fn request(method: &str, path: &str, len: u64, cache: InfoCache) -> SwiftRequest {
        let mut parts = path.splitn(3, '/');
        let (account, container, object) = (parts.next(), parts.next(), parts.next());
        let mut headers = Headers::new();
        headers.set("Content-Length", len.to_string());
        SwiftRequest {
            head: Request::internal(
                method,
                format!("/v1/{path}"),
                "",
                headers,
                Framing::Length(len),
            ),
            path: SwiftPath {
                version: "v1".into(),
                account: account.unwrap_or("").into(),
                container: container.map(str::to_string),
                object: object.map(str::to_string),
            },
            who: Rc::new(AuthResult::User(Identity {
                user: "a:u".into(),
                account: "AUTH_a".into(),
                account_admin: true,
                reseller_admin: false,
                groups: vec!["a:u".into(), "a".into()].into(),
                service_token: false,
            })),
            preauthed: false,
            source: None,
            cache: Rc::new(cache),
        }
    }

    /// Database lookups of one object PUT, into a plain and into a
    /// versioned container, with the cache and without it (which is how
    /// every PUT looked things up before the cache).
    #[test]
    fn an_object_put_looks_each_container_up_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (proxy, db) = crate::proxy::test_support::local_proxy(dir.path());
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("rt");
        let counts = rt.block_on(async {
            for (path, versioned) in [("AUTH_a/plain", false), ("AUTH_a/ver", true)] {
                let mut put = request("PUT", path, 0, InfoCache::default());
                if versioned {
                    put.head.headers.set("X-Versions-Enabled", "true");
                }
                let r = proxy.call(0, &put, &mut BodySource::Empty).await;
                assert_eq!(r.status, 201, "{path}");
            }
            let mut counts = Vec::new();
            for container in ["plain", "ver"] {
                for cached in [false, true] {
                    let cache = if cached {
                        InfoCache::default()
                    } else {
                        InfoCache::uncached()
                    };
                    let put = request("PUT", &format!("AUTH_a/{container}/o"), 5, cache);
                    let mut body = BodySource::bytes(b"hello".to_vec());
                    let r = proxy.call(0, &put, &mut body).await;
                    assert_eq!(r.status, 201, "{container} cached={cached}");
                    counts.push((container, cached, put.cache.lookups()));
                }
            }
            counts
        });
        // Without the cache: the quota module, legacy versioning, object
        // versioning and the controller each read the container, and the
        // account is read for its quotas; a versioned PUT adds the
        // overwrite check's authorization and the data PUT's versions
        // container. With it: the container and the account once each,
        // and the versions container once.
        assert_eq!(
            counts,
            vec![
                ("plain", false, 5),
                ("plain", true, 2),
                ("ver", false, 7),
                ("ver", true, 3),
            ]
        );
        db.shutdown();
    }

    #[test]
    fn forgetting_drops_only_the_named_entries() {
        let c = InfoCache::default();
        c.keep_container("a", "c1", None);
        c.keep_container("a", "c2", None);
        assert_eq!(c.container("a", "c1"), Some(None));
        c.forget_container("a", "c1");
        assert_eq!(c.container("a", "c1"), None);
        assert_eq!(c.container("a", "c2"), Some(None));
        let off = InfoCache::uncached();
        off.keep_container("a", "c1", None);
        assert_eq!(off.container("a", "c1"), None);
    }
}

//! tempauth: Swift's built-in auth system. Users come from the config;
//! tokens are self-validating (HMAC-signed, with an expiry), so every worker
//! thread checks them without shared state or locks.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{TempAuthConfig, TempAuthUser};
use crate::http::{Headers, Request, Response};

type HmacSha256 = Hmac<Sha256>;

/// Token prefix, as tempauth's (`AUTH_tk...`).
const TOKEN_PREFIX: &str = "tk";

/// The identity a valid token carries. Every request with a token gets a
/// copy, so the names are shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `account:user`.
    pub user: Arc<str>,
    /// The user's own account name (`AUTH_<account>`).
    pub account: Arc<str>,
    /// May do anything to its own account.
    pub account_admin: bool,
    /// May do anything to every account.
    pub reseller_admin: bool,
    /// All groups: `account:user`, `account`, and the configured ones.
    pub groups: Arc<[String]>,
    /// The request also carried a valid `X-Service-Token` of a user in the
    /// service group, which service accounts (`SERVICE_<account>`) require.
    pub service_token: bool,
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// No token, or one that is invalid or expired.
    Anonymous,
    /// A valid token.
    User(Identity),
    /// A valid temporary URL (Swift's `.wsgi.tempurl` user): requests it
    /// leads to (its own and any subrequests) are allowed in its account,
    /// or only in its container when a container key signed it.
    TempUrl {
        /// The account the URL is for.
        account: String,
        /// The container, when the URL was signed with a container key.
        container: Option<String>,
    },
}

impl AuthResult {
    /// Whether a temporary URL's scope covers `account`/`container`.
    pub fn tempurl_covers(&self, account: &str, container: Option<&str>) -> bool {
        match self {
            AuthResult::TempUrl {
                account: a,
                container: c,
            } => a == account && (c.is_none() || c.as_deref() == container),
            _ => false,
        }
    }
}

/// tempauth for one process; cheap to clone per worker.
#[derive(Clone)]
pub struct TempAuth {
    config: TempAuthConfig,
    /// HMAC-SHA256 already keyed with the secret: each token check starts
    /// from a copy rather than hashing the key pads again.
    keyed: HmacSha256,
    /// Each configured user's identity, built once (by index, as tokens
    /// name users): a request clones one instead of formatting it.
    identities: Vec<Identity>,
}

impl TempAuth {
    /// tempauth with `secret` signing its tokens (shared by all workers of
    /// the process; tokens do not survive a restart with another secret).
    pub fn new(config: TempAuthConfig, secret: [u8; 32]) -> Self {
        let keyed = match HmacSha256::new_from_slice(&secret) {
            Ok(m) => m,
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("hmac key length"),
        };
        let identities = config
            .users
            .iter()
            .map(|u| identity(&config.reseller_prefix, u))
            .collect();
        TempAuth {
            config,
            keyed,
            identities,
        }
    }

    /// The reseller prefix (`AUTH_`).
    pub fn reseller_prefix(&self) -> &str {
        &self.config.reseller_prefix
    }

    fn mac(&self, payload: &[u8]) -> [u8; 16] {
        let mut mac = self.keyed.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    fn issue(&self, index: usize, expires: u64) -> String {
        let mut payload = [0u8; 10];
        payload[..8].copy_from_slice(&expires.to_be_bytes());
        payload[8..].copy_from_slice(&(index as u16).to_be_bytes());
        format!(
            "{}{}{}{}",
            self.config.reseller_prefix,
            TOKEN_PREFIX,
            hex::encode(payload),
            hex::encode(self.mac(&payload))
        )
    }

    fn validate(&self, token: &str) -> Option<&TempAuthUser> {
        self.validate_index(token).map(|i| &self.config.users[i])
    }

    /// The index of the user `token` was issued to, if it is valid.
    fn validate_index(&self, token: &str) -> Option<usize> {
        let rest = token
            .strip_prefix(&self.config.reseller_prefix)?
            .strip_prefix(TOKEN_PREFIX)?;
        if rest.len() != 52 {
            return None;
        }
        let mut payload = [0u8; 10];
        let mut mac = [0u8; 16];
        // Bytes, not str slices: a token with multi-byte characters must be
        // refused, not split inside a character.
        let rest = rest.as_bytes();
        hex::decode_to_slice(&rest[..20], &mut payload).ok()?;
        hex::decode_to_slice(&rest[20..], &mut mac).ok()?;
        let mut check = self.keyed.clone();
        check.update(&payload);
        let full = check.finalize().into_bytes();
        if !constant_eq(&full[..16], &mac) {
            return None;
        }
        let expires = u64::from_be_bytes(payload[..8].try_into().ok()?);
        if expires <= now_millis() {
            return None;
        }
        let index = u16::from_be_bytes(payload[8..10].try_into().ok()?) as usize;
        (index < self.config.users.len()).then_some(index)
    }

    /// Checks `X-Auth-Token` (or `X-Storage-Token`).
    pub fn authenticate(&self, headers: &Headers) -> AuthResult {
        let token = headers
            .get("x-auth-token")
            .or_else(|| headers.get("x-storage-token"));
        match token.and_then(|t| self.validate_index(t.trim())) {
            Some(i) => {
                let mut id = self.identities[i].clone();
                let group = &self.config.service_require_group;
                id.service_token = headers
                    .get("x-service-token")
                    .and_then(|t| self.validate(t.trim()))
                    .is_some_and(|s| s.groups.iter().any(|g| g == group));
                AuthResult::User(id)
            }
            None => AuthResult::Anonymous,
        }
    }

    #[cfg(test)]
    fn identity(&self, u: &TempAuthUser) -> Identity {
        identity(&self.config.reseller_prefix, u)
    }

    /// Whether `who` owns `account` (may do anything in it).
    pub fn is_owner(&self, who: &AuthResult, account: &str) -> bool {
        match who {
            AuthResult::User(id) => {
                if id.reseller_admin || (id.account_admin && &*id.account == account) {
                    return true;
                }
                // A service account belongs to the same user, but only when a
                // service's token comes along (tempauth's `<PREFIX>_require_group`).
                let prefix = &self.config.service_prefix;
                let own = id.account.strip_prefix(&self.config.reseller_prefix);
                !prefix.is_empty()
                    && id.account_admin
                    && id.service_token
                    && account
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|a| Some(a) == own)
            }
            AuthResult::Anonymous | AuthResult::TempUrl { .. } => false,
        }
    }

    /// `GET /auth/v1.0`: exchanges `X-Auth-User`/`X-Auth-Key` (or the
    /// `X-Storage-*` forms) for a token and the storage URL.
    pub fn handle_get_token(&self, req: &Request, default_host: &str) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::status(405);
        }
        let h = &req.headers;
        let user = h.get("x-auth-user").or_else(|| h.get("x-storage-user"));
        let key = h.get("x-auth-key").or_else(|| h.get("x-storage-pass"));
        let (Some(user), Some(key)) = (user, key) else {
            return unauthorized("unknown");
        };
        let Some((account, name)) = user.split_once(':') else {
            return unauthorized("unknown");
        };
        let found = self.config.users.iter().position(|u| {
            u.account == account && u.user == name && constant_eq(u.key.as_bytes(), key.as_bytes())
        });
        let Some(index) = found else {
            return unauthorized("unknown");
        };
        let life = self.config.token_life_secs;
        let token = self.issue(index, now_millis() + life * 1000);
        let host = h.get("host").unwrap_or(default_host);
        let url = format!(
            "http://{}/v1/{}{}",
            host, self.config.reseller_prefix, account
        );
        let body = serde_json::json!({"storage": {"default": "local", "local": url}}).to_string();
        let mut r = Response::text(200, &body);
        r.headers
            .set("Content-Type", "application/json; charset=utf-8");
        r.headers.set("X-Auth-Token", token.clone());
        r.headers.set("X-Storage-Token", token);
        r.headers.set("X-Auth-Token-Expires", life.to_string());
        r.headers.set("X-Storage-Url", url);
        r
    }
}

/// 401 with the challenge tempauth sends: `Swift realm="<account>"`, the
/// account percent-encoded.
pub fn unauthorized(account: &str) -> Response {
    // Python's `quote`: everything but letters, digits and `_.-~/`.
    const QUOTE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b'/');
    let realm = percent_encoding::utf8_percent_encode(account, QUOTE).to_string();
    Response::status(401).with_header("Www-Authenticate", format!("Swift realm=\"{realm}\""))
}

/// The identity of `u`'s tokens.
fn identity(reseller_prefix: &str, u: &TempAuthUser) -> Identity {
    let mut groups = vec![format!("{}:{}", u.account, u.user), u.account.clone()];
    groups.extend(u.groups.iter().cloned());
    Identity {
        user: format!("{}:{}", u.account, u.user).into(),
        account: format!("{reseller_prefix}{}", u.account).into(),
        account_admin: u.groups.iter().any(|g| g == ".admin"),
        reseller_admin: u.groups.iter().any(|g| g == ".reseller_admin"),
        groups: groups.into(),
        service_token: false,
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Token expiry is kept in milliseconds: a one-second token must live a
/// whole second whenever it was issued within the current second.
fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(life: u64) -> TempAuth {
        let cfg = TempAuthConfig {
            token_life_secs: life,
            ..Default::default()
        };
        TempAuth::new(cfg, [7u8; 32])
    }

    #[test]
    fn issued_tokens_validate_and_tampered_ones_do_not() {
        let a = auth(100);
        let t = a.issue(1, now_millis() + 100_000);
        let u = a.validate(&t).expect("valid");
        assert_eq!((u.account.as_str(), u.user.as_str()), ("test", "tester"));
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
        assert!(a
            .validate(std::str::from_utf8(&bad).expect("ascii"))
            .is_none());
        let other = TempAuth::new(TempAuthConfig::default(), [8u8; 32]);
        assert!(other.validate(&t).is_none());
        // The right length in bytes, but a character across the split.
        let prefix = &t[..t.len() - 52];
        let odd = format!("{prefix}{}\u{e9}{}", "0".repeat(19), "0".repeat(31));
        assert_eq!(odd.len(), t.len());
        assert!(a.validate(&odd).is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let a = auth(100);
        assert!(a.validate(&a.issue(1, now_millis() - 1)).is_none());
    }

    #[test]
    fn ownership_follows_groups() {
        let a = auth(100);
        let who = |i: usize| AuthResult::User(a.identity(&a.config.users[i]));
        assert!(a.is_owner(&who(1), "AUTH_test"));
        assert!(!a.is_owner(&who(1), "AUTH_test2"));
        assert!(!a.is_owner(&who(3), "AUTH_test"), "tester3 is not an admin");
        assert!(a.is_owner(&who(0), "AUTH_test2"), "reseller admin");
        assert!(!a.is_owner(&AuthResult::Anonymous, "AUTH_test"));
    }

    #[test]
    fn service_accounts_need_a_service_token() {
        let a = auth(100);
        let tok = |i: usize| a.issue(i, now_millis() + 100_000);
        let headers = |user: usize, service: Option<usize>| {
            let mut h = Headers::new();
            h.set("X-Auth-Token", tok(user));
            if let Some(s) = service {
                h.set("X-Service-Token", tok(s));
            }
            h
        };
        // users: 1 = test:tester (.admin), 2 = test2:tester2, 4 = test5:tester5 (service)
        assert!(!a.is_owner(&a.authenticate(&headers(1, None)), "SERVICE_test"));
        assert!(a.is_owner(&a.authenticate(&headers(1, Some(4))), "SERVICE_test"));
        assert!(
            !a.is_owner(&a.authenticate(&headers(1, Some(2))), "SERVICE_test"),
            "not in the service group"
        );
        assert!(
            !a.is_owner(&a.authenticate(&headers(2, Some(4))), "SERVICE_test"),
            "another account"
        );
        assert!(a.is_owner(&a.authenticate(&headers(1, Some(4))), "AUTH_test"));
    }
}

//! TempURL (Swift's `tempurl` middleware): a request carrying
//! `temp_url_sig` and `temp_url_expires` is authorized by an HMAC over its
//! method, expiry and path, keyed with the account's or container's
//! `Temp-URL-Key` (or `-Key-2`), instead of by a token.

use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};

use std::rc::Rc;

use crate::common::timestamp::Timestamp;
use crate::db::AccountState;
use crate::http::stream::LocalBoxFuture;
use crate::http::{BodySource, Headers, Request, Response};
use crate::proxy::auth::AuthResult;

use super::{Feature, Next, SwiftRequest};

/// Methods a temporary URL may be used with (Swift's default `methods`).
pub const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];
/// Digests accepted (Swift's `allowed_digests` default).
pub const ALLOWED_DIGESTS: &[&str] = &["sha1", "sha256", "sha512"];
/// Digests accepted but deprecated.
pub const DEPRECATED_DIGESTS: &[&str] = &["sha1"];
/// Request headers removed before the request goes on.
const INCOMING_REMOVE: &[&str] = &["x-timestamp", "x-open-expired"];
/// Request headers that make a write through a temporary URL a 400: they
/// would reach beyond the one object the URL names.
const DISALLOWED_INCOMING: &[&str] = &["x-object-manifest", "x-symlink-target", "x-copy-from"];
/// Response headers removed (prefix), unless allowed below.
const OUTGOING_REMOVE_PREFIX: &str = "x-object-meta-";
/// Response headers kept despite the removal rule (prefix).
const OUTGOING_ALLOW_PREFIX: &str = "x-object-meta-public-";

/// What the client's query string says about a temporary URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TempUrlParams {
    /// `temp_url_sig` as sent.
    pub sig: Option<String>,
    /// `temp_url_expires` as sent.
    pub expires_raw: Option<String>,
    /// `temp_url_prefix`: the signature covers every object under it.
    pub prefix: Option<String>,
    /// `filename`: served as an attachment under this name.
    pub filename: Option<String>,
    /// `inline`: served inline rather than as an attachment.
    pub inline: bool,
    /// `temp_url_ip_range`: the client address must be in this network.
    pub ip_range: Option<String>,
}

/// Which key matched: it decides how far the URL reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// An account key: any container of the account.
    Account,
    /// A container key: that container only.
    Container,
}

/// A request a temporary URL authorized.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The query parameters.
    pub params: TempUrlParams,
    /// The expiry, in seconds since the epoch.
    pub expires: i64,
    /// The key that matched.
    pub scope: Scope,
}

impl TempUrlParams {
    /// The temporary-URL parameters of `query`; `None` when it has neither
    /// a signature nor an expiry (an ordinary request).
    pub fn from_query(query: &str) -> Option<TempUrlParams> {
        let mut p = TempUrlParams::default();
        for (k, v) in crate::http::request::query_pairs(query) {
            let slot = match k.as_str() {
                "temp_url_sig" => &mut p.sig,
                "temp_url_expires" => &mut p.expires_raw,
                "temp_url_prefix" => &mut p.prefix,
                "filename" => &mut p.filename,
                "temp_url_ip_range" => &mut p.ip_range,
                "inline" => {
                    p.inline = true;
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        if p.sig.is_none() && p.expires_raw.is_none() {
            None
        } else {
            Some(p)
        }
    }

    /// The query the request goes on with: only the temporary-URL
    /// parameters survive, as in Swift.
    pub fn query(&self) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut q = Vec::new();
        if let Some(s) = &self.sig {
            q.push(format!("temp_url_sig={}", enc(s)));
        }
        if let Some(e) = &self.expires_raw {
            q.push(format!("temp_url_expires={}", enc(e)));
        }
        if let Some(p) = &self.prefix {
            q.push(format!("temp_url_prefix={}", enc(p)));
        }
        if let Some(f) = &self.filename {
            q.push(format!("filename={}", enc(f)));
        }
        if self.inline {
            q.push("inline=".into());
        }
        q.join("&")
    }
}

/// `temp_url_expires` as seconds since the epoch: an integer or
/// `%Y-%m-%dT%H:%M:%SZ`; 0 when unparsable or already past.
pub fn normalize_expires(value: &str, now: i64) -> i64 {
    let at = value
        .parse::<i64>()
        .ok()
        .or_else(|| parse_iso8601(value))
        .unwrap_or(0);
    if at < now {
        0
    } else {
        at
    }
}

fn parse_iso8601(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = v.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 61 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Splits a client signature into (digest name, lowercase hex): plain hex
/// names its digest by length; `<digest>:<base64>` names it explicitly.
pub fn extract_digest(sig: &str) -> Option<(String, String)> {
    if let Some((algo, b64)) = sig.split_once(':') {
        let mut v = b64.to_string();
        if (v.contains('-') || v.contains('_')) && !(v.contains('+') || v.contains('/')) {
            v = v.replace('-', "+").replace('_', "/");
        }
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let raw = engine.decode(v.trim_end_matches('=')).ok()?;
        return Some((algo.to_string(), hex::encode(raw)));
    }
    hex::decode(sig).ok()?;
    let algo = match sig.len() {
        40 => "sha1",
        64 => "sha256",
        128 => "sha512",
        _ => return None,
    };
    Some((algo.to_string(), sig.to_ascii_lowercase()))
}

/// The hex HMAC Swift's `get_hmac` computes: over `[ip=<range>\n]<method>\n
/// <expires>\n<path>` with `key`.
pub fn hmac_hex(
    digest: &str,
    key: &str,
    method: &str,
    expires: i64,
    path: &str,
    ip_range: Option<&str>,
) -> Option<String> {
    let mut msg = String::new();
    if let Some(ip) = ip_range.filter(|ip| !ip.is_empty()) {
        msg.push_str("ip=");
        msg.push_str(ip);
        msg.push('\n');
    }
    msg.push_str(&format!("{method}\n{expires}\n{path}"));
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).expect("hmac accepts any key length");
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    let out = match digest {
        "sha1" => mac::<Hmac<sha1::Sha1>>(key.as_bytes(), msg.as_bytes()),
        "sha256" => mac::<Hmac<sha2::Sha256>>(key.as_bytes(), msg.as_bytes()),
        "sha512" => mac::<Hmac<sha2::Sha512>>(key.as_bytes(), msg.as_bytes()),
        _ => return None,
    };
    Some(hex::encode(out))
}

/// Constant-time comparison, so a guess learns nothing from timing.
pub fn const_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `ip` is inside `range` (an address or a CIDR network; like
/// Python's `ip_network`, a network with host bits set is invalid).
pub fn ip_in_range(range: &str, ip: IpAddr) -> Option<bool> {
    let (addr, bits) = match range.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (range, None),
    };
    let net: IpAddr = addr.parse().ok()?;
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    let (n, i, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => {
            return Some(false);
        }
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return None;
    }
    let mask: u128 = if bits == 0 {
        0
    } else {
        (!0u128 << (128 - bits)) >> (128 - width)
    };
    if n & !mask & (if width == 32 { 0xffff_ffff } else { !0 }) != 0 {
        return None;
    }
    Some(i & mask == n & mask)
}

/// The `Temp-URL-Key` and `-Key-2` values in account or container metadata.
pub fn keys_from_meta<'a>(
    meta: impl Iterator<Item = (&'a str, &'a str)>,
    prefix: &str,
) -> Vec<String> {
    meta.filter(|(k, v)| {
        !v.is_empty()
            && k.len() > prefix.len()
            && k[..prefix.len()].eq_ignore_ascii_case(prefix)
            && matches!(
                k[prefix.len()..].to_ascii_lowercase().as_str(),
                "temp-url-key" | "temp-url-key-2"
            )
    })
    .map(|(_, v)| v.to_string())
    .collect()
}

/// The 401 Swift answers for any bad temporary URL.
pub fn invalid(method: &str, account: &str) -> Response {
    let mut r = crate::proxy::auth::unauthorized(account);
    if method != "HEAD" {
        r.body = crate::http::Body::Bytes(b"401 Unauthorized: Temp URL invalid\n".to_vec());
    }
    r
}

/// What [`check`] needs to know about the request.
pub struct Target<'a> {
    /// Method.
    pub method: &'a str,
    /// API version segment.
    pub version: &'a str,
    /// Account.
    pub account: &'a str,
    /// Container (if any).
    pub container: Option<&'a str>,
    /// Object (if any).
    pub object: Option<&'a str>,
    /// Client address.
    pub peer: Option<IpAddr>,
}

/// Checks a temporary URL against the keys (account keys first, then
/// container keys). `Err` is the response to send.
pub fn check(
    p: &TempUrlParams,
    t: &Target<'_>,
    account_keys: &[String],
    container_keys: &[String],
    now: i64,
) -> Result<Granted, Response> {
    let bad = || invalid(t.method, t.account);
    let expires = p
        .expires_raw
        .as_deref()
        .map_or(0, |e| normalize_expires(e, now));
    let sig = p.sig.as_deref().unwrap_or("");
    if sig.is_empty() || expires == 0 {
        return Err(bad());
    }
    let (digest, sig) = extract_digest(sig).ok_or_else(bad)?;
    if !ALLOWED_DIGESTS.contains(&digest.as_str()) {
        return Err(bad());
    }
    if !METHODS.contains(&t.method) || t.version != "v1" {
        return Err(bad());
    }
    let container_root = matches!(t.method, "GET" | "HEAD") && p.prefix.as_deref() == Some("");
    let Some(container) = t.container else {
        return Err(bad());
    };
    let object = t.object.unwrap_or("");
    if object.trim_matches('/').is_empty() && !container_root {
        return Err(bad());
    }
    if let Some(range) = p.ip_range.as_deref().filter(|r| !r.is_empty()) {
        let peer = t.peer.ok_or_else(bad)?;
        if ip_in_range(range, peer) != Some(true) {
            return Err(bad());
        }
    }
    if account_keys.is_empty() && container_keys.is_empty() {
        return Err(bad());
    }
    let path = match p.prefix.as_deref() {
        None => format!("/v1/{}/{}/{}", t.account, container, object),
        Some(prefix) => {
            if !object.starts_with(prefix) {
                return Err(bad());
            }
            format!("prefix:/v1/{}/{}/{}", t.account, container, prefix)
        }
    };
    let methods: &[&str] = if t.method == "HEAD" {
        &["HEAD", "GET", "POST", "PUT"]
    } else {
        std::slice::from_ref(&t.method)
    };
    let scoped = account_keys
        .iter()
        .map(|k| (k, Scope::Account))
        .chain(container_keys.iter().map(|k| (k, Scope::Container)));
    let ip = p.ip_range.as_deref();
    for (key, scope) in scoped {
        for m in methods {
            let Some(mac) = hmac_hex(&digest, key, m, expires, &path, ip) else {
                return Err(bad());
            };
            if const_eq(&mac, &sig) {
                return Ok(Granted {
                    params: p.clone(),
                    expires,
                    scope,
                });
            }
        }
    }
    Err(bad())
}

/// A write through a temporary URL may not carry headers that reach other
/// objects; `Err` is Swift's 400.
pub fn check_disallowed(method: &str, headers: &Headers) -> Result<(), Response> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Ok(());
    }
    for h in DISALLOWED_INCOMING {
        if headers.contains(h) {
            let shown = crate::http::headers::title_case(h);
            return Err(Response::text(
                400,
                &format!("The header '{shown}' is not allowed in this tempurl"),
            ));
        }
    }
    Ok(())
}

/// The request as it goes on: without the headers tempurl removes and with
/// only the temporary-URL query parameters.
pub fn clean_request(req: &Request, g: &Granted) -> Request {
    let mut out = req.clone();
    for h in INCOMING_REMOVE {
        out.headers.remove(h);
    }
    // The token is not what authorizes this request.
    out.headers.remove("x-auth-token");
    out.headers.remove("x-storage-token");
    out.query = g.params.query();
    out
}

fn quote(s: &str, keep_space: bool) -> String {
    const SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b'/');
    const SAFE_SPACE: &percent_encoding::AsciiSet = &SAFE.remove(b' ');
    let set = if keep_space { SAFE_SPACE } else { SAFE };
    percent_encoding::utf8_percent_encode(s, set).to_string()
}

fn disposition(kind: &str, filename: &str) -> String {
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
        quote(filename, true),
        quote(filename, false)
    )
}

/// Applies tempurl's response rules: user metadata is hidden unless
/// public, and a successful read gets `Content-Disposition` and `Expires`.
/// `Err` when a container-root URL did not end in a static-web page.
pub fn finish(
    mut resp: Response,
    method: &str,
    account: &str,
    object: &str,
    g: &Granted,
) -> Result<Response, Response> {
    let hidden: Vec<String> = resp
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| n.starts_with(OUTGOING_REMOVE_PREFIX) && !n.starts_with(OUTGOING_ALLOW_PREFIX))
        .collect();
    for n in hidden {
        resp.headers.remove(&n);
    }
    let generator = resp
        .headers
        .get("x-backend-content-generator")
        .map(str::to_string);
    resp.headers.remove("x-backend-content-generator");
    if !matches!(method, "GET" | "HEAD") || !(200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let mut inline = g.params.inline;
    if generator.as_deref() == Some("staticweb") {
        inline = true;
    } else if object.is_empty() {
        return Err(invalid(method, account));
    }
    let existing = resp.headers.get("content-disposition").map(str::to_string);
    let filename = g.params.filename.as_deref().filter(|f| !f.is_empty());
    let value = match (inline, filename, existing) {
        (true, Some(f), _) => disposition("inline", f),
        (true, None, _) => "inline".to_string(),
        (false, Some(f), _) => disposition("attachment", f),
        (false, None, Some(e)) => e,
        (false, None, None) => {
            let trimmed = object.trim_end_matches('/');
            let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
            disposition("attachment", base)
        }
    };
    resp.headers.remove("content-disposition");
    resp.headers
        .set("Content-Disposition", value.replace('\n', "%0A"));
    let when = UNIX_EPOCH + Duration::from_secs(g.expires.max(0) as u64);
    resp.headers.set("Expires", httpdate::fmt_http_date(when));
    Ok(resp)
}

/// The tempurl feature module.
pub struct TempUrl;

impl Feature for TempUrl {
    fn name(&self) -> &'static str {
        "tempurl"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.source.is_none() && req.head.query.contains("temp_url_")
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(serve(next, req, body))
    }
}

async fn keys(next: Next<'_>, req: &SwiftRequest) -> Result<(Vec<String>, Vec<String>), Response> {
    // Through the proxy's lookups: in a cluster the metadata lives on the
    // account and container rings' nodes, not necessarily here.
    let proxy = next.proxy();
    let sp = &req.path;
    let account_keys = match proxy.account_state(&sp.account).await? {
        AccountState::Active(info) => keys_from_meta(
            info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            "x-account-meta-",
        ),
        _ => Vec::new(),
    };
    let container_keys = match sp.container.as_deref() {
        Some(c) => match proxy.container_info(&sp.account, c).await? {
            Some(info) => keys_from_meta(
                info.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                "x-container-meta-",
            ),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok((account_keys, container_keys))
}

async fn serve(next: Next<'_>, req: &SwiftRequest, body: &mut BodySource<'_, '_>) -> Response {
    let Some(params) = TempUrlParams::from_query(&req.head.query) else {
        return next.call(req, body).await;
    };
    let (account_keys, container_keys) = match keys(next, req).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let sp = &req.path;
    let target = Target {
        method: req.method(),
        version: &sp.version,
        account: &sp.account,
        container: sp.container.as_deref(),
        object: sp.object.as_deref(),
        peer: req.head.peer.map(|p| p.ip()),
    };
    let granted = match check(
        &params,
        &target,
        &account_keys,
        &container_keys,
        Timestamp::now().secs(),
    ) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if let Err(r) = check_disallowed(req.method(), req.headers()) {
        return r;
    }
    // The signature is the authorization: the request (and whatever
    // subrequests it leads to, such as large-object segments) goes on as
    // the temporary URL's user, allowed within the key's scope.
    let container = match granted.scope {
        Scope::Account => None,
        Scope::Container => sp.container.clone(),
    };
    let sub = SwiftRequest {
        head: clean_request(&req.head, &granted),
        path: req.path.clone(),
        who: Rc::new(AuthResult::TempUrl {
            account: sp.account.clone(),
            container,
        }),
        preauthed: false,
        source: None,
    };
    let resp = next.call(&sub, body).await;
    match finish(resp, req.method(), &sp.account, req.object(), &granted) {
        Ok(r) | Err(r) => r,
    }
}

/// The `/info` entry.
pub fn info() -> serde_json::Value {
    serde_json::json!({
        "methods": METHODS,
        "incoming_remove_headers": INCOMING_REMOVE,
        "incoming_allow_headers": [],
        "outgoing_remove_headers": ["x-object-meta-*"],
        "outgoing_allow_headers": ["x-object-meta-public-*"],
        "allowed_digests": ALLOWED_DIGESTS,
        "deprecated_digests": DEPRECATED_DIGESTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_swifts_get_hmac() {
        // hmac.new(b'key', b'GET\n1700000000\n/v1/a/c/o', 'sha1').hexdigest()
        let mac = hmac_hex("sha1", "key", "GET", 1_700_000_000, "/v1/a/c/o", None).expect("sha1");
        assert_eq!(mac.len(), 40);
        let m256 = hmac_hex("sha256", "key", "GET", 1, "/p", Some("1.2.3.4")).expect("sha256");
        assert_eq!(m256.len(), 64);
        assert!(hmac_hex("md5", "key", "GET", 1, "/p", None).is_none());
    }

    #[test]
    fn digests_come_in_hex_and_base64() {
        let hex = "a".repeat(128);
        assert_eq!(extract_digest(&hex).expect("hex").0, "sha512");
        assert!(extract_digest("abc").is_none());
        assert!(extract_digest(&"z".repeat(40)).is_none());
        let raw = [0xfbu8; 32];
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let (algo, h) = extract_digest(&format!("sha256:{b64}")).expect("b64");
        assert_eq!((algo.as_str(), h), ("sha256", hex::encode(raw)));
        let std = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(
            extract_digest(&format!("sha256:{std}")).expect("b64").1,
            hex::encode(raw)
        );
        assert!(extract_digest("sha256:!!!").is_none());
    }

    #[test]
    fn expiry_accepts_unix_and_iso8601() {
        assert_eq!(normalize_expires("2000000000", 10), 2_000_000_000);
        assert_eq!(normalize_expires("2033-05-18T03:33:20Z", 10), 2_000_000_000);
        assert_eq!(normalize_expires("5", 10), 0);
        assert_eq!(normalize_expires("junk", 10), 0);
        assert_eq!(normalize_expires("2033-02-30T03:33:20Z", 10), 0);
    }

    #[test]
    fn ip_ranges_are_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(ip_in_range("127.0.0.1", ip("127.0.0.1")), Some(true));
        assert_eq!(ip_in_range("127.0.0.0/8", ip("127.1.2.3")), Some(true));
        assert_eq!(ip_in_range("10.0.0.0/8", ip("127.1.2.3")), Some(false));
        assert_eq!(ip_in_range("127.0.0.1/8", ip("127.0.0.1")), None);
        assert_eq!(ip_in_range("::1", ip("::1")), Some(true));
        assert_eq!(ip_in_range("bogus", ip("::1")), None);
        assert_eq!(ip_in_range("0.0.0.0/0", ip("8.8.8.8")), Some(true));
    }

    #[test]
    fn check_accepts_the_right_signature_only() {
        let t = Target {
            method: "GET",
            version: "v1",
            account: "AUTH_a",
            container: Some("c"),
            object: Some("o"),
            peer: None,
        };
        let exp = 4_000_000_000i64;
        let sig = hmac_hex("sha256", "k2", "GET", exp, "/v1/AUTH_a/c/o", None).expect("mac");
        let p = TempUrlParams {
            sig: Some(sig.clone()),
            expires_raw: Some(exp.to_string()),
            ..Default::default()
        };
        let g = check(&p, &t, &[], &["k1".into(), "k2".into()], 0).expect("valid");
        assert_eq!(g.scope, Scope::Container);
        assert_eq!(
            check(&p, &t, &["k1".into()], &[], 0).unwrap_err().status,
            401
        );
        let put = Target { method: "PUT", ..t };
        assert!(check(&p, &put, &[], &["k2".into()], 0).is_err());
        let head = Target {
            method: "HEAD",
            ..put
        };
        assert!(
            check(&p, &head, &[], &["k2".into()], 0).is_ok(),
            "HEAD with a GET URL"
        );
        let late = check(&p, &head, &[], &["k2".into()], exp + 1);
        assert!(late.is_err());
    }
}

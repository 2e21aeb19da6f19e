//! Account API over real sockets, against Swift semantics: HEAD/GET stats
//! and metadata, autocreate of never-used accounts, POST metadata (and its
//! limits), PUT/DELETE only for reseller admins, 410 after DELETE.

mod common;

use common::*;
use std::time::{Duration, Instant};

const DRIVER: &str = "io_uring";

struct T {
    node: Node,
    /// test:tester (admin of AUTH_test)
    tok: String,
}

impl T {
    fn new() -> T {
        let node = Node::start(DRIVER);
        let tok = node.token();
        T { node, tok }
    }
    fn tok_for(&self, user: &str, key: &str) -> String {
        self.node.token_for(user, key)
    }
    fn admin(&self) -> String {
        self.tok_for("admin:admin", "admin")
    }
    fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.req_as(&self.tok, method, path, headers, body)
    }
    fn req_as(
        &self,
        tok: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut h: Vec<(&str, &str)> = vec![("X-Auth-Token", tok)];
        h.extend_from_slice(headers);
        self.node.req(method, path, &h, body)
    }
}

fn num(r: &Response, h: &str) -> u64 {
    r.header(h)
        .unwrap_or_else(|| panic!("no {h} in {r:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{h} not a number in {r:?}"))
}

fn is_normal_ts(v: &str) -> bool {
    v.len() == 16
        && &v[10..11] == "."
        && v.bytes()
            .enumerate()
            .all(|(i, b)| i == 10 || b.is_ascii_digit())
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    v.sort();
    v
}

fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_empty_account_headers(r: &Response) {
    assert_eq!(num(r, "x-account-container-count"), 0, "{r:?}");
    assert_eq!(num(r, "x-account-object-count"), 0, "{r:?}");
    assert_eq!(num(r, "x-account-bytes-used"), 0, "{r:?}");
    let ts = r
        .header("x-timestamp")
        .unwrap_or_else(|| panic!("no X-Timestamp: {r:?}"));
    assert!(is_normal_ts(ts), "X-Timestamp {ts:?}");
    let pts = r
        .header("x-put-timestamp")
        .unwrap_or_else(|| panic!("no X-Put-Timestamp: {r:?}"));
    assert!(is_normal_ts(pts), "X-Put-Timestamp {pts:?}");
}

// ---------------------------------------------------------------------------
// Autocreate, HEAD, GET
// ---------------------------------------------------------------------------

#[test]
fn never_used_account_answers_with_zeros() {
    let t = T::new();
    let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(h.status, 204, "{h:?}");
    assert_common_headers(&h);
    assert_empty_account_headers(&h);
    assert_eq!(h.header("content-length"), Some("0"), "{h:?}");

    // GET plain: empty listing -> 204.
    let g = t.req("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(g.status, 204, "{g:?}");
    assert!(g.body.is_empty());
    assert_empty_account_headers(&g);
    assert_eq!(
        g.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{g:?}"
    );

    // GET json: 200 "[]".
    let g = t.req("GET", "/v1/AUTH_test?format=json", &[], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.text(), "[]");
    assert_eq!(
        g.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{g:?}"
    );
    assert_empty_account_headers(&g);

    // GET xml: 200 with an empty <account>.
    let g = t.req("GET", "/v1/AUTH_test?format=xml", &[], b"");
    assert_eq!(g.status, 200, "{g:?}");
    let x = g.text();
    assert!(
        x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{x:?}"
    );
    assert!(x.contains("<account name=\"AUTH_test\""), "{x:?}");
    assert!(!x.contains("<container>"), "{x:?}");

    // Another user's never-used account, seen by its own admin.
    let tok2 = t.tok_for("test2:tester2", "testing2");
    let h = t.req_as(&tok2, "HEAD", "/v1/AUTH_test2", &[], b"");
    assert_eq!(h.status, 204, "{h:?}");
    assert_empty_account_headers(&h);
    // The reseller admin sees any never-used account the same way.
    let adm = t.admin();
    let h = t.req_as(&adm, "HEAD", "/v1/AUTH_nobody", &[], b"");
    assert_eq!(h.status, 204, "{h:?}");
    assert_empty_account_headers(&h);
}

#[test]
fn account_head_get_require_auth() {
    let t = T::new();
    let r = t.node.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 401, "anonymous HEAD: {r:?}");
    let r = t.node.req("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 401, "anonymous GET: {r:?}");
    let r = t.node.req(
        "GET",
        "/v1/AUTH_test",
        &[("X-Auth-Token", "AUTH_tkbogus")],
        b"",
    );
    assert_eq!(r.status, 401, "bad token: {r:?}");
    // Someone else's account: 403.
    let tok2 = t.tok_for("test2:tester2", "testing2");
    let r = t.req_as(&tok2, "GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    // A non-admin user of the same account: 403 on the account.
    let tok3 = t.tok_for("test:tester3", "testing3");
    let r = t.req_as(&tok3, "HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.req_as(
        &tok3,
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Meta-A", "1")],
        b"",
    );
    assert_eq!(r.status, 403, "{r:?}");
}

#[test]
fn account_stats_and_listing_rows() {
    let t = T::new();
    for c in ["alpha", "beta"] {
        let r = t.req("PUT", &format!("/v1/AUTH_test/{c}"), &[], b"");
        assert_eq!(r.status, 201, "{r:?}");
    }
    let put = |p: &str, body: &[u8]| {
        let r = t.req("PUT", p, &[("Content-Type", "text/plain")], body);
        assert_eq!(r.status, 201, "{r:?}");
    };
    put("/v1/AUTH_test/alpha/1", b"12345");
    put("/v1/AUTH_test/alpha/2", b"123");
    put("/v1/AUTH_test/beta/1", b"1234567890");

    let ok = eventually(Duration::from_secs(5), || {
        let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
        h.header("x-account-container-count") == Some("2")
            && h.header("x-account-object-count") == Some("3")
            && h.header("x-account-bytes-used") == Some("18")
    });
    let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert!(ok, "account totals: {h:?}");
    assert_eq!(h.status, 204);
    assert_eq!(
        h.header("x-account-storage-policy-policy-0-container-count"),
        Some("2"),
        "{h:?}"
    );
    assert_eq!(
        h.header("x-account-storage-policy-policy-0-object-count"),
        Some("3"),
        "{h:?}"
    );
    assert_eq!(
        h.header("x-account-storage-policy-policy-0-bytes-used"),
        Some("18"),
        "{h:?}"
    );

    // Listing rows: name, count, bytes, last_modified (= the container's
    // put timestamp in isoformat).
    let g = t.req("GET", "/v1/AUTH_test?format=json", &[], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(num(&g, "x-account-container-count"), 2);
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    let want = [("alpha", 2, 8), ("beta", 1, 10)];
    for (row, (name, count, bytes)) in rows.iter().zip(want) {
        assert_eq!(row["name"], name, "{row}");
        assert_eq!(row["count"], count, "{row}");
        assert_eq!(row["bytes"], bytes, "{row}");
        let lm = row["last_modified"].as_str().unwrap();
        let ch = t.req("HEAD", &format!("/v1/AUTH_test/{name}"), &[], b"");
        let put_ts: f64 = ch.header("x-put-timestamp").unwrap().parse().unwrap();
        assert_eq!(lm, iso(put_ts), "{row} vs container HEAD {ch:?}");
    }

    // Plain listing.
    let g = t.req("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.text(), "alpha\nbeta\n");

    // Deleting a container updates the account.
    assert_eq!(
        t.req("DELETE", "/v1/AUTH_test/beta/1", &[], b"").status,
        204
    );
    assert_eq!(t.req("DELETE", "/v1/AUTH_test/beta", &[], b"").status, 204);
    let ok = eventually(Duration::from_secs(5), || {
        let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
        h.header("x-account-container-count") == Some("1")
            && h.header("x-account-object-count") == Some("2")
            && h.header("x-account-bytes-used") == Some("8")
    });
    assert!(
        ok,
        "after deleting beta: {:?}",
        t.req("HEAD", "/v1/AUTH_test", &[], b"")
    );
    let g = t.req("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(g.text(), "alpha\n");
}

/// Swift's Timestamp.isoformat: UTC, microseconds always present.
fn iso(ts: f64) -> String {
    let secs = ts.floor() as i64;
    let us = ((ts - secs as f64) * 1e6).round() as i64;
    let (secs, us) = if us >= 1_000_000 {
        (secs + 1, us - 1_000_000)
    } else {
        (secs, us)
    };
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{us:06}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[test]
fn account_listing_rows_carry_storage_policy() {
    // Swift 2.38 account_listing_response adds "storage_policy" to each
    // container row (JSON) and <storage_policy> (XML).
    let t = T::new();
    assert_eq!(t.req("PUT", "/v1/AUTH_test/c", &[], b"").status, 201);
    let g = t.req("GET", "/v1/AUTH_test?format=json", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(v[0]["storage_policy"], "Policy-0", "{v}");
    let g = t.req("GET", "/v1/AUTH_test?format=xml", &[], b"");
    assert!(
        g.text()
            .contains("<storage_policy>Policy-0</storage_policy>"),
        "{g:?}"
    );
}

// ---------------------------------------------------------------------------
// POST metadata
// ---------------------------------------------------------------------------

#[test]
fn account_post_metadata() {
    let t = T::new();
    let post = |h: &[(&str, &str)]| {
        let r = t.req("POST", "/v1/AUTH_test", h, b"");
        assert_eq!(r.status, 204, "POST {h:?}: {r:?}");
        assert_common_headers(&r);
    };
    let m = || {
        t.req("HEAD", "/v1/AUTH_test", &[], b"")
            .with_prefix("x-account-meta-")
    };
    // POST to the never-used account autocreates it.
    post(&[("X-Account-Meta-Foo", "bar"), ("X-Account-Meta-Keep", "k")]);
    assert_eq!(
        m(),
        kv(&[("x-account-meta-foo", "bar"), ("x-account-meta-keep", "k")])
    );
    post(&[("X-Account-Meta-Foo", "baz")]);
    assert_eq!(
        m(),
        kv(&[("x-account-meta-foo", "baz"), ("x-account-meta-keep", "k")])
    );
    post(&[("X-Remove-Account-Meta-Foo", "x")]);
    assert_eq!(m(), kv(&[("x-account-meta-keep", "k")]));
    post(&[("X-Account-Meta-Keep", "")]);
    assert_eq!(m(), vec![]);
    post(&[("X-Account-Meta-Uni", "ünï ✓")]);
    assert_eq!(m(), kv(&[("x-account-meta-uni", "ünï ✓")]));
    // The metadata shows on GET too.
    let g = t.req("GET", "/v1/AUTH_test?format=json", &[], b"");
    assert_eq!(g.header("x-account-meta-uni"), Some("ünï ✓"), "{g:?}");
    // Still an empty account.
    let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(num(&h, "x-account-container-count"), 0);
}

#[test]
fn account_metadata_limits() {
    let t = T::new();
    let p = "X-Account-Meta-";
    let post = |h: Vec<(String, String)>| {
        let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        t.req("POST", "/v1/AUTH_test", &refs, b"")
    };
    let one = |k: String, v: String| vec![(k, v)];
    assert_eq!(
        post(one(format!("{p}{}", "n".repeat(128)), "v".into())).status,
        204
    );
    let r = post(one(format!("{p}{}", "n".repeat(129)), "v".into()));
    assert_eq!(r.status, 400, "name 129: {r:?}");
    assert_eq!(post(one(format!("{p}v"), "v".repeat(256))).status, 204);
    let r = post(one(format!("{p}v"), "v".repeat(257)));
    assert_eq!(r.status, 400, "value 257: {r:?}");
    let r = post(one(p.to_string(), "v".into()));
    assert_eq!(r.status, 400, "empty name: {r:?}");
    let many: Vec<(String, String)> = (0..91)
        .map(|i| (format!("{p}m{i:03}"), "v".into()))
        .collect();
    let r = post(many);
    assert_eq!(r.status, 400, "91 items: {r:?}");
    // 16 x (10 + 247) = 4112 > 4096.
    let big: Vec<(String, String)> = (0..16)
        .map(|i| (format!("{p}{i:0>10}"), "v".repeat(247)))
        .collect();
    let r = post(big);
    assert_eq!(r.status, 400, "4112 bytes: {r:?}");
    let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(
        h.with_prefix("x-account-meta-").len(),
        2,
        "only the two good POSTs: {h:?}"
    );
}

// ---------------------------------------------------------------------------
// PUT / DELETE (reseller admin)
// ---------------------------------------------------------------------------

#[test]
fn account_put_delete_need_reseller_admin() {
    let t = T::new();
    let tok3 = t.tok_for("test:tester3", "testing3");
    let tok2 = t.tok_for("test2:tester2", "testing2");
    for m in ["PUT", "DELETE"] {
        let r = t.req(m, "/v1/AUTH_test", &[], b"");
        assert_eq!(r.status, 403, "{m} own account as account admin: {r:?}");
        let r = t.req_as(&tok3, m, "/v1/AUTH_test", &[], b"");
        assert_eq!(r.status, 403, "{m} as non-admin: {r:?}");
        let r = t.req_as(&tok2, m, "/v1/AUTH_test", &[], b"");
        assert_eq!(r.status, 403, "{m} as another account's admin: {r:?}");
        let r = t.node.req(m, "/v1/AUTH_test", &[], b"");
        assert_eq!(r.status, 401, "{m} anonymous: {r:?}");
    }
    // Nothing happened to AUTH_test.
    let h = t.req("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(h.status, 204, "{h:?}");
}

#[test]
fn reseller_admin_put_and_delete_account() {
    let t = T::new();
    let adm = t.admin();
    let a = "/v1/AUTH_newacct";
    let r = t.req_as(&adm, "PUT", a, &[("X-Account-Meta-Owner", "ops")], b"");
    assert_eq!(r.status, 201, "{r:?}");
    assert_common_headers(&r);
    let r = t.req_as(&adm, "PUT", a, &[], b"");
    assert_eq!(r.status, 202, "PUT of an existing account: {r:?}");
    let h = t.req_as(&adm, "HEAD", a, &[], b"");
    assert_eq!(h.status, 204, "{h:?}");
    assert_eq!(h.header("x-account-meta-owner"), Some("ops"), "{h:?}");
    assert_empty_account_headers(&h);

    // The reseller admin can use it like an owner.
    let r = t.req_as(&adm, "PUT", &format!("{a}/c"), &[], b"");
    assert_eq!(r.status, 201, "{r:?}");
    let r = t.req_as(
        &adm,
        "PUT",
        &format!("{a}/c/o"),
        &[("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = t.req_as(&adm, "GET", a, &[], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.text(), "c\n");

    // DELETE with a query string is refused (Swift: 400, safety net).
    // (`?bulk-delete` itself is the bulk middleware's, as in Swift.)
    let r = t.req_as(&adm, "DELETE", &format!("{a}?confirm=yes"), &[], b"");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(t.req_as(&adm, "HEAD", a, &[], b"").status, 204);

    let r = t.req_as(&adm, "DELETE", a, &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    for m in ["HEAD", "GET"] {
        let r = t.req_as(&adm, m, a, &[], b"");
        assert_eq!(r.status, 410, "{m} of a deleted account: {r:?}");
    }
    let r = t.req_as(&adm, "GET", &format!("{a}?format=json"), &[], b"");
    assert_eq!(r.status, 410, "{r:?}");
}

#[test]
fn deleted_account_cannot_be_recreated_or_deleted_again() {
    // Swift account server: PUT on a recently deleted account -> 403
    // "Recently deleted"; DELETE again -> 404.
    let t = T::new();
    let adm = t.admin();
    let a = "/v1/AUTH_gone";
    assert_eq!(t.req_as(&adm, "PUT", a, &[], b"").status, 201);
    assert_eq!(t.req_as(&adm, "DELETE", a, &[], b"").status, 204);
    let r = t.req_as(&adm, "DELETE", a, &[], b"");
    assert_eq!(r.status, 404, "second DELETE: {r:?}");
    let r = t.req_as(&adm, "PUT", a, &[], b"");
    assert_eq!(r.status, 403, "PUT of a recently deleted account: {r:?}");
    assert_eq!(t.req_as(&adm, "HEAD", a, &[], b"").status, 410);
}

#[test]
fn account_name_over_256_bytes_is_400() {
    let t = T::new();
    let adm = t.admin();
    let long = format!("/v1/AUTH_{}", "x".repeat(252)); // 257 bytes
    for m in ["HEAD", "GET", "POST", "PUT"] {
        let r = t.req_as(&adm, m, &long, &[], b"");
        assert_eq!(r.status, 400, "{m} {}-byte account: {r:?}", 257);
    }
    let ok = format!("/v1/AUTH_{}", "x".repeat(251)); // 256 bytes
    let r = t.req_as(&adm, "PUT", &ok, &[], b"");
    assert_eq!(r.status, 201, "{r:?}");
}

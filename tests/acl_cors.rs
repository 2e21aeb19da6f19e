//! Container ACLs (V1: `.r:*`, `.r:-host`, `.rlistings`, `account:user`,
//! `account`), account ACLs (`X-Account-Access-Control`, tempauth's
//! admin / read-write / read-only), owner-only headers, and CORS
//! (preflight OPTIONS and actual requests) over real sockets, against
//! Swift's tempauth + proxy semantics.
//!
//! Users (tempauth defaults): test:tester (admin of AUTH_test),
//! test:tester3 (in account test, not admin), test2:tester2 (admin of
//! AUTH_test2), admin:admin (reseller admin).

mod common;

use common::*;

const DRIVER: &str = "io_uring";
const C: &str = "/v1/AUTH_test/c";
const O: &str = "/v1/AUTH_test/c/o";

struct T {
    node: Node,
    /// test:tester, the owner
    tok: String,
    /// test:tester3, same account, not an admin
    tok3: String,
    /// test2:tester2, another account's admin
    tok2: String,
}

impl T {
    fn new() -> T {
        let node = Node::start(DRIVER);
        let tok = node.token();
        let tok3 = node.token_for("test:tester3", "testing3");
        let tok2 = node.token_for("test2:tester2", "testing2");
        T {
            node,
            tok,
            tok3,
            tok2,
        }
    }
    /// Owner container `c` with object `o` ("hello"), plus extra headers.
    fn with_container(headers: &[(&str, &str)]) -> T {
        let t = T::new();
        let r = t.owner("PUT", C, headers, b"");
        assert_eq!(r.status, 201, "{r:?}");
        let r = t.owner(
            "PUT",
            O,
            &[
                ("Content-Type", "text/plain"),
                ("X-Object-Meta-Color", "blue"),
            ],
            b"hello",
        );
        assert_eq!(r.status, 201, "{r:?}");
        t
    }
    fn as_(
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
    fn owner(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.as_(&self.tok, method, path, headers, body)
    }
    fn t3(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.as_(&self.tok3, method, path, headers, body)
    }
    fn t2(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.as_(&self.tok2, method, path, headers, body)
    }
    fn anon(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.node.req(method, path, headers, body)
    }
    fn post_container(&self, headers: &[(&str, &str)]) {
        let r = self.owner("POST", C, headers, b"");
        assert_eq!(r.status, 204, "{r:?}");
    }
}

const PUT_HDRS: &[(&str, &str)] = &[("Content-Type", "text/plain")];

// ---------------------------------------------------------------------------
// Referrer ACLs and anonymous access
// ---------------------------------------------------------------------------

#[test]
fn public_read_allows_objects_but_not_listing() {
    let t = T::with_container(&[("X-Container-Read", ".r:*")]);
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 200, "anonymous GET of a .r:* object: {r:?}");
    assert_eq!(r.body, b"hello");
    let r = t.anon("HEAD", O, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    // Listing needs .rlistings.
    let r = t.anon("GET", C, &[], b"");
    assert_eq!(r.status, 401, "anonymous listing without .rlistings: {r:?}");
    let r = t.anon("HEAD", C, &[], b"");
    assert_eq!(
        r.status, 401,
        "anonymous container HEAD without .rlistings: {r:?}"
    );
    // Read ACLs never grant writes.
    let r = t.anon("PUT", "/v1/AUTH_test/c/new", PUT_HDRS, b"x");
    assert_eq!(r.status, 401, "{r:?}");
    let r = t.anon("DELETE", O, &[], b"");
    assert_eq!(r.status, 401, "{r:?}");
    let r = t.anon("POST", O, &[("X-Object-Meta-A", "1")], b"");
    assert_eq!(r.status, 401, "{r:?}");
    // ...nor account access.
    let r = t.anon("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 401, "{r:?}");
    // Missing object in a public container: 404, not 401.
    let r = t.anon("GET", "/v1/AUTH_test/c/missing", &[], b"");
    assert_eq!(r.status, 404, "{r:?}");

    t.post_container(&[("X-Container-Read", ".r:*,.rlistings")]);
    let r = t.anon("GET", C, &[], b"");
    assert_eq!(r.status, 200, "anonymous listing with .rlistings: {r:?}");
    assert_eq!(r.text(), "o\n");
    assert!(!r.has("x-container-read"), "ACL leaked to anonymous: {r:?}");
    let r = t.anon("HEAD", C, &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    assert!(!r.has("x-container-read"), "ACL leaked to anonymous: {r:?}");
    let r = t.anon("GET", &format!("{C}?format=json"), &[], b"");
    assert_eq!(r.status, 200);

    // Removing the ACL closes it again.
    t.post_container(&[("X-Remove-Container-Read", "x")]);
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 401, "after removing the read ACL: {r:?}");
}

#[test]
fn private_container_anonymous_401() {
    let t = T::with_container(&[]);
    for (m, p) in [
        ("GET", O),
        ("HEAD", O),
        ("GET", C),
        ("HEAD", C),
        ("PUT", O),
        ("DELETE", O),
    ] {
        let r = t.anon(m, p, PUT_HDRS, b"");
        assert_eq!(r.status, 401, "anonymous {m} {p}: {r:?}");
    }
    let r = t.as_("AUTH_tkdeadbeef", "GET", O, &[], b"");
    assert_eq!(r.status, 401, "bogus token: {r:?}");
}

#[test]
fn referrer_deny_rules() {
    let t = T::with_container(&[("X-Container-Read", ".r:*,.r:-.bad.com")]);
    let bad = [("Referer", "http://www.bad.com/page")];
    let r = t.anon("GET", O, &bad, b"");
    assert_eq!(r.status, 401, "denied referrer: {r:?}");
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 200, "no Referer, .r:* applies: {r:?}");
    let r = t.anon("GET", O, &[("Referer", "http://good.com/x")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    // The owner is not affected by referrer rules.
    let r = t.owner("GET", O, &bad, b"");
    assert_eq!(r.status, 200, "{r:?}");

    // A deny-only ACL grants nobody.
    t.post_container(&[("X-Container-Read", ".r:-.bad.com")]);
    let r = t.anon("GET", O, &bad, b"");
    assert_eq!(r.status, 401, "{r:?}");
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 401, "{r:?}");

    // An allow-list of one domain.
    t.post_container(&[("X-Container-Read", ".r:.good.com")]);
    let r = t.anon("GET", O, &[("Referer", "http://www.good.com/p")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let r = t.anon("GET", O, &[("Referer", "http://www.bad.com/p")], b"");
    assert_eq!(r.status, 401, "{r:?}");
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 401, "no Referer vs .r:.good.com: {r:?}");
    // An exact host.
    t.post_container(&[("X-Container-Read", ".r:exact.example.com")]);
    let r = t.anon("GET", O, &[("Referer", "https://exact.example.com/")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let r = t.anon(
        "GET",
        O,
        &[("Referer", "https://sub.exact.example.com/")],
        b"",
    );
    assert_eq!(r.status, 401, "{r:?}");
}

// ---------------------------------------------------------------------------
// User ACLs
// ---------------------------------------------------------------------------

#[test]
fn no_acl_means_no_access_for_tester3() {
    let t = T::with_container(&[]);
    for (m, p) in [
        ("GET", O),
        ("HEAD", O),
        ("GET", C),
        ("HEAD", C),
        ("PUT", O),
        ("POST", O),
        ("DELETE", O),
    ] {
        let r = t.t3(m, p, PUT_HDRS, b"");
        assert_eq!(r.status, 403, "tester3 {m} {p}: {r:?}");
    }
    let r = t.t3("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
}

#[test]
fn user_read_acl() {
    let t = T::with_container(&[("X-Container-Read", "test:tester3")]);
    let r = t.t3("GET", O, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"hello");
    let r = t.t3("HEAD", O, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let r = t.t3("GET", C, &[], b"");
    assert_eq!(r.status, 200, "read ACL users can list: {r:?}");
    assert_eq!(r.text(), "o\n");
    let r = t.t3("HEAD", C, &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    // No writes.
    let r = t.t3("PUT", "/v1/AUTH_test/c/new", PUT_HDRS, b"x");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t3("POST", O, &[("X-Object-Meta-A", "1")], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t3("DELETE", O, &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    // Other users of other accounts are still out.
    let r = t.t2("GET", O, &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    // Anonymous too.
    let r = t.anon("GET", O, &[], b"");
    assert_eq!(r.status, 401, "{r:?}");
}

#[test]
fn group_and_cross_account_read_acls() {
    // "test2" (an account name) is a group every test2 user is in;
    // "test2:tester2" is one user.
    let t = T::with_container(&[("X-Container-Read", "test2")]);
    let r = t.t2("GET", O, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let r = t.t2("GET", C, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    t.post_container(&[("X-Container-Read", "test2:tester2")]);
    assert_eq!(t.t2("GET", O, &[], b"").status, 200);
    t.post_container(&[("X-Container-Read", "test2:someoneelse")]);
    assert_eq!(t.t2("GET", O, &[], b"").status, 403);
    // The group "test" includes the non-admin tester3.
    t.post_container(&[("X-Container-Read", "test")]);
    assert_eq!(t.t3("GET", O, &[], b"").status, 200);
}

#[test]
fn user_write_acl() {
    let t = T::with_container(&[("X-Container-Write", "test:tester3")]);
    let r = t.t3("PUT", "/v1/AUTH_test/c/by3", PUT_HDRS, b"from tester3");
    assert_eq!(r.status, 201, "{r:?}");
    let r = t.t3(
        "POST",
        "/v1/AUTH_test/c/by3",
        &[("X-Object-Meta-A", "1")],
        b"",
    );
    assert_eq!(r.status, 202, "{r:?}");
    let r = t.t3("DELETE", O, &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    // Write does not imply read.
    let r = t.t3("GET", "/v1/AUTH_test/c/by3", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t3("GET", C, &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    // The owner sees tester3's object.
    let r = t.owner("GET", "/v1/AUTH_test/c/by3", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"from tester3");
    let r = t.owner("GET", C, &[], b"");
    assert_eq!(r.text(), "by3\n");
}

#[test]
fn acl_users_cannot_change_the_container() {
    let t = T::with_container(&[
        ("X-Container-Read", "test:tester3"),
        ("X-Container-Write", "test:tester3"),
    ]);
    let r = t.t3("PUT", C, &[], b"");
    assert_eq!(r.status, 403, "tester3 PUT container: {r:?}");
    let r = t.t3("POST", C, &[("X-Container-Meta-A", "1")], b"");
    assert_eq!(r.status, 403, "tester3 POST container: {r:?}");
    let r = t.t3("POST", C, &[("X-Container-Read", ".r:*")], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t3("DELETE", C, &[], b"");
    assert_eq!(r.status, 403, "tester3 DELETE container: {r:?}");
    let r = t.t3("PUT", "/v1/AUTH_test/newc", &[], b"");
    assert_eq!(r.status, 403, "tester3 creates a container: {r:?}");
    // Nothing changed.
    let h = t.owner("HEAD", C, &[], b"");
    assert_eq!(h.status, 204);
    assert!(!h.has("x-container-meta-a"), "{h:?}");
    assert_eq!(h.header("x-container-read"), Some("test:tester3"), "{h:?}");
    assert_eq!(t.owner("HEAD", "/v1/AUTH_test/newc", &[], b"").status, 404);
}

#[test]
fn acl_headers_only_for_owners() {
    let t = T::with_container(&[
        ("X-Container-Read", "test:tester3,.r:*,.rlistings"),
        ("X-Container-Write", "test:tester3"),
        ("X-Container-Meta-Visible", "yes"),
    ]);
    let h = t.owner("HEAD", C, &[], b"");
    assert_eq!(
        h.header("x-container-read"),
        Some("test:tester3,.r:*,.rlistings"),
        "{h:?}"
    );
    assert_eq!(h.header("x-container-write"), Some("test:tester3"), "{h:?}");
    let g = t.owner("GET", C, &[], b"");
    assert_eq!(
        g.header("x-container-read"),
        Some("test:tester3,.r:*,.rlistings"),
        "{g:?}"
    );
    for (who, r) in [
        ("tester3 HEAD", t.t3("HEAD", C, &[], b"")),
        ("tester3 GET", t.t3("GET", C, &[], b"")),
        ("anonymous HEAD", t.anon("HEAD", C, &[], b"")),
        ("anonymous GET", t.anon("GET", C, &[], b"")),
    ] {
        assert!(r.status == 200 || r.status == 204, "{who}: {r:?}");
        assert!(
            !r.has("x-container-read"),
            "{who} sees X-Container-Read: {r:?}"
        );
        assert!(
            !r.has("x-container-write"),
            "{who} sees X-Container-Write: {r:?}"
        );
        assert_eq!(
            r.header("x-container-meta-visible"),
            Some("yes"),
            "{who}: {r:?}"
        );
    }
}

#[test]
fn temp_url_keys_only_for_owners() {
    // X-Container-Meta-Temp-URL-Key(-2) are in the proxy's
    // swift_owner_headers: hidden from non-owners.
    let t = T::with_container(&[
        ("X-Container-Read", "test:tester3"),
        ("X-Container-Meta-Temp-URL-Key", "secret"),
        ("X-Container-Meta-Temp-URL-Key-2", "secret2"),
    ]);
    let h = t.owner("HEAD", C, &[], b"");
    assert_eq!(
        h.header("x-container-meta-temp-url-key"),
        Some("secret"),
        "{h:?}"
    );
    let h = t.t3("HEAD", C, &[], b"");
    assert_eq!(h.status, 204);
    assert!(!h.has("x-container-meta-temp-url-key"), "{h:?}");
    assert!(!h.has("x-container-meta-temp-url-key-2"), "{h:?}");
}

#[test]
fn acl_syntax_validation_and_cleaning() {
    let t = T::new();
    let cases = [
        ("X-Container-Write", ".r:*"),
        ("X-Container-Write", ".referrer:example.com"),
        ("X-Container-Read", ".r:"),
        ("X-Container-Read", ".r:-"),
        ("X-Container-Read", ".foo:bar"),
    ];
    for (i, (h, v)) in cases.iter().enumerate() {
        let path = format!("/v1/AUTH_test/bad{i}");
        let r = t.owner("PUT", &path, &[(h, v)], b"");
        assert_eq!(r.status, 400, "PUT {h}: {v}: {r:?}");
        assert_eq!(
            t.owner("HEAD", &path, &[], b"").status,
            404,
            "a rejected PUT created {path}"
        );
    }
    assert_eq!(t.owner("PUT", C, &[], b"").status, 201);
    for (h, v) in cases {
        let r = t.owner("POST", C, &[(h, v)], b"");
        assert_eq!(r.status, 400, "POST {h}: {v}: {r:?}");
    }
    // Messy ACLs are stored cleaned (swift.common.middleware.acl.clean_acl).
    let r = t.owner(
        "POST",
        C,
        &[
            (
                "X-Container-Read",
                ".referrer : *, .rlistings , test:tester3,, bob",
            ),
            ("X-Container-Write", " test:tester3 , ,test2"),
        ],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    let h = t.owner("HEAD", C, &[], b"");
    assert_eq!(
        h.header("x-container-read"),
        Some(".r:*,.rlistings,test:tester3,bob"),
        "{h:?}"
    );
    assert_eq!(
        h.header("x-container-write"),
        Some("test:tester3,test2"),
        "{h:?}"
    );
}

// ---------------------------------------------------------------------------
// Account ACLs
// ---------------------------------------------------------------------------

fn set_account_acl(t: &T, acl: &str) {
    let r = t.owner(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Access-Control", acl)],
        b"",
    );
    assert_eq!(r.status, 204, "set account ACL {acl}: {r:?}");
}

#[test]
fn account_acl_read_only() {
    let t = T::with_container(&[]);
    // Before: test2 has no access.
    assert_eq!(t.t2("GET", "/v1/AUTH_test", &[], b"").status, 403);
    // Swift stores and returns the ACL normalised (sorted keys, no spaces).
    set_account_acl(&t, r#"{ "read-only" : [ "test2" ] }"#);
    let h = t.owner("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(
        h.header("x-account-access-control"),
        Some(r#"{"read-only":["test2"]}"#),
        "{h:?}"
    );

    let r = t.t2("GET", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 200, "read-only lists the account: {r:?}");
    assert_eq!(r.text(), "c\n");
    assert!(
        !r.has("x-account-access-control"),
        "non-owner sees the account ACL: {r:?}"
    );
    let r = t.t2("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    assert!(!r.has("x-account-access-control"), "{r:?}");
    assert_eq!(t.t2("HEAD", C, &[], b"").status, 204);
    assert_eq!(t.t2("GET", C, &[], b"").status, 200);
    let r = t.t2("GET", O, &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"hello");
    // No writes of any kind.
    for (m, p) in [
        ("PUT", "/v1/AUTH_test/c/new"),
        ("POST", O),
        ("DELETE", O),
        ("PUT", "/v1/AUTH_test/c2"),
        ("POST", C),
        ("DELETE", C),
        ("POST", "/v1/AUTH_test"),
    ] {
        let r = t.t2(m, p, PUT_HDRS, b"");
        assert_eq!(r.status, 403, "read-only {m} {p}: {r:?}");
    }
    // tester3 is not in the ACL.
    assert_eq!(t.t3("GET", "/v1/AUTH_test", &[], b"").status, 403);

    // "{}" clears the ACL.
    set_account_acl(&t, "{}");
    let h = t.owner("HEAD", "/v1/AUTH_test", &[], b"");
    assert!(!h.has("x-account-access-control"), "{h:?}");
    assert_eq!(t.t2("GET", "/v1/AUTH_test", &[], b"").status, 403);
}

#[test]
fn account_acl_read_write() {
    let t = T::with_container(&[]);
    set_account_acl(&t, r#"{"read-write":["test2"]}"#);
    let r = t.t2("PUT", "/v1/AUTH_test/c/by2", PUT_HDRS, b"two");
    assert_eq!(r.status, 201, "read-write PUTs objects: {r:?}");
    assert_eq!(t.t2("GET", "/v1/AUTH_test/c/by2", &[], b"").body, b"two");
    assert_eq!(t.t2("DELETE", O, &[], b"").status, 204);
    assert_eq!(t.t2("GET", "/v1/AUTH_test", &[], b"").status, 200);
    // The account itself is read-only for them.
    let r = t.t2("POST", "/v1/AUTH_test", &[("X-Account-Meta-A", "1")], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t2(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Access-Control", r#"{"admin":["test2"]}"#)],
        b"",
    );
    assert_eq!(r.status, 403, "read-write user escalating: {r:?}");
    let r = t.t2("PUT", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
    let r = t.t2("DELETE", "/v1/AUTH_test", &[], b"");
    assert_eq!(r.status, 403, "{r:?}");
}

#[test]
fn account_acl_read_write_manages_containers() {
    // tempauth docs: "A user with read-write account access can create new
    // containers, set any unprivileged container headers, overwrite
    // objects, delete containers, etc."
    let t = T::with_container(&[]);
    set_account_acl(&t, r#"{"read-write":["test2"]}"#);
    let r = t.t2(
        "PUT",
        "/v1/AUTH_test/made-by-2",
        &[("X-Container-Meta-X", "1")],
        b"",
    );
    assert_eq!(r.status, 201, "read-write creates a container: {r:?}");
    let h = t.owner("HEAD", "/v1/AUTH_test/made-by-2", &[], b"");
    assert_eq!(h.header("x-container-meta-x"), Some("1"), "{h:?}");
    // A non-owner's POST to a container may set metadata but owner-only
    // headers (ACLs) are dropped.
    let r = t.t2(
        "POST",
        C,
        &[
            ("X-Container-Meta-By2", "yes"),
            ("X-Container-Read", ".r:*"),
        ],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    let h = t.owner("HEAD", C, &[], b"");
    assert_eq!(h.header("x-container-meta-by2"), Some("yes"), "{h:?}");
    assert!(!h.has("x-container-read"), "non-owner set an ACL: {h:?}");
    assert_eq!(t.anon("GET", O, &[], b"").status, 401);
    let r = t.t2("DELETE", "/v1/AUTH_test/made-by-2", &[], b"");
    assert_eq!(r.status, 204, "read-write deletes a container: {r:?}");
}

#[test]
fn account_acl_admin() {
    let t = T::with_container(&[]);
    set_account_acl(&t, r#"{"admin":["test:tester3"]}"#);
    let r = t.t3("PUT", "/v1/AUTH_test/by3", &[], b"");
    assert_eq!(r.status, 201, "admin ACL user creates a container: {r:?}");
    let r = t.t3("PUT", "/v1/AUTH_test/by3/o", PUT_HDRS, b"x");
    assert_eq!(r.status, 201, "{r:?}");
    let r = t.t3(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Meta-By3", "yes")],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    // An admin is an owner: it may set container ACLs and sees them.
    let r = t.t3("POST", C, &[("X-Container-Read", "test2")], b"");
    assert_eq!(r.status, 204, "{r:?}");
    let h = t.t3("HEAD", C, &[], b"");
    assert_eq!(h.header("x-container-read"), Some("test2"), "{h:?}");
    let h = t.t3("HEAD", "/v1/AUTH_test", &[], b"");
    assert_eq!(h.header("x-account-meta-by3"), Some("yes"), "{h:?}");
    assert_eq!(
        h.header("x-account-access-control"),
        Some(r#"{"admin":["test:tester3"]}"#),
        "{h:?}"
    );
    assert_eq!(
        t.t2("GET", O, &[], b"").status,
        200,
        "tester3's container ACL works"
    );
    let r = t.t3("DELETE", "/v1/AUTH_test/by3/o", &[], b"");
    assert_eq!(r.status, 204);
    let r = t.t3("DELETE", "/v1/AUTH_test/by3", &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
}

#[test]
fn account_acl_validation() {
    let t = T::new();
    for bad in [
        "not json",
        r#"["test2"]"#,
        r#"{"read-only": "test2"}"#,
        r#"{"read-only": [1]}"#,
        r#"{"superuser": ["test2"]}"#,
    ] {
        let r = t.owner(
            "POST",
            "/v1/AUTH_test",
            &[("X-Account-Access-Control", bad)],
            b"",
        );
        assert_eq!(r.status, 400, "ACL {bad:?}: {r:?}");
    }
    let h = t.owner("HEAD", "/v1/AUTH_test", &[], b"");
    assert!(!h.has("x-account-access-control"), "{h:?}");
    // Non-owners may not set it.
    let acl = r#"{"admin":["test:tester3"]}"#;
    let r = t.t3(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Access-Control", acl)],
        b"",
    );
    assert_eq!(r.status, 403, "tester3 sets the account ACL: {r:?}");
    let r = t.t2(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Access-Control", acl)],
        b"",
    );
    assert_eq!(r.status, 403, "tester2 sets the account ACL: {r:?}");
    let r = t.anon(
        "POST",
        "/v1/AUTH_test",
        &[("X-Account-Access-Control", acl)],
        b"",
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        t.t3("PUT", "/v1/AUTH_test/x", &[], b"").status,
        403,
        "the ACL was not applied"
    );
}

// ---------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------

fn csv_lower(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn cors_container() -> T {
    T::with_container(&[
        (
            "X-Container-Meta-Access-Control-Allow-Origin",
            "http://a.com http://b.com",
        ),
        ("X-Container-Meta-Access-Control-Max-Age", "600"),
        (
            "X-Container-Meta-Access-Control-Expose-Headers",
            "X-Foo x-bar",
        ),
    ])
}

#[test]
fn cors_preflight_allowed() {
    let t = cors_container();
    for path in [O, C] {
        for origin in ["http://a.com", "http://b.com"] {
            let r = t.anon(
                "OPTIONS",
                path,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "GET"),
                    (
                        "Access-Control-Request-Headers",
                        "X-Auth-Token, content-type",
                    ),
                ],
                b"",
            );
            assert_eq!(r.status, 200, "preflight {path} from {origin}: {r:?}");
            assert_common_headers(&r);
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some(origin),
                "{r:?}"
            );
            let methods = csv_lower(r.header("access-control-allow-methods"));
            for m in ["get", "head", "put", "post", "delete", "options"] {
                assert!(
                    methods.contains(&m.to_string()),
                    "{m} not in Allow-Methods: {r:?}"
                );
            }
            assert_eq!(r.header("access-control-max-age"), Some("600"), "{r:?}");
            let ah = csv_lower(r.header("access-control-allow-headers"));
            assert!(ah.contains(&"x-auth-token".to_string()), "{r:?}");
            assert!(ah.contains(&"content-type".to_string()), "{r:?}");
            assert!(
                csv_lower(r.header("vary")).contains(&"origin".to_string()),
                "{r:?}"
            );
        }
    }
    // Every allowed method may be asked for.
    for m in ["PUT", "DELETE", "HEAD", "POST"] {
        let r = t.anon(
            "OPTIONS",
            O,
            &[
                ("Origin", "http://a.com"),
                ("Access-Control-Request-Method", m),
            ],
            b"",
        );
        assert_eq!(r.status, 200, "preflight for {m}: {r:?}");
    }
}

#[test]
fn cors_preflight_denied() {
    let t = cors_container();
    let r = t.anon(
        "OPTIONS",
        O,
        &[
            ("Origin", "http://evil.com"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    );
    assert_eq!(r.status, 401, "other origin: {r:?}");
    assert!(!r.has("access-control-allow-origin"), "{r:?}");
    let r = t.anon("OPTIONS", O, &[("Origin", "http://a.com")], b"");
    assert_eq!(r.status, 401, "no Access-Control-Request-Method: {r:?}");
    let r = t.anon(
        "OPTIONS",
        O,
        &[
            ("Origin", "http://a.com"),
            ("Access-Control-Request-Method", "FROB"),
        ],
        b"",
    );
    assert_eq!(r.status, 401, "unknown method: {r:?}");
    // A container without CORS metadata, and a missing one.
    assert_eq!(t.owner("PUT", "/v1/AUTH_test/plain", &[], b"").status, 201);
    for p in ["/v1/AUTH_test/plain/o", "/v1/AUTH_test/missing/o"] {
        let r = t.anon(
            "OPTIONS",
            p,
            &[
                ("Origin", "http://a.com"),
                ("Access-Control-Request-Method", "GET"),
            ],
            b"",
        );
        assert_eq!(r.status, 401, "{p}: {r:?}");
    }
}

#[test]
fn options_without_origin_lists_allowed_methods() {
    let t = T::with_container(&[]);
    for p in [O, C] {
        let r = t.anon("OPTIONS", p, &[], b"");
        assert_eq!(r.status, 200, "OPTIONS {p}: {r:?}");
        let allow = csv_lower(r.header("allow"));
        for m in ["get", "head", "put", "post", "delete", "options"] {
            assert!(
                allow.contains(&m.to_string()),
                "{m} missing from Allow: {r:?}"
            );
        }
        assert!(!r.has("access-control-allow-origin"), "{r:?}");
    }
}

#[test]
fn cors_wildcard_origin() {
    let t = T::with_container(&[("X-Container-Meta-Access-Control-Allow-Origin", "*")]);
    let r = t.anon(
        "OPTIONS",
        O,
        &[
            ("Origin", "http://anything.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{r:?}");
    let r = t.owner("GET", O, &[("Origin", "http://anything.example")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{r:?}");
}

#[test]
fn cors_actual_request_headers() {
    let t = cors_container();
    let r = t.owner("GET", O, &[("Origin", "http://a.com")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"hello");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.com"),
        "{r:?}"
    );
    let expose = csv_lower(r.header("access-control-expose-headers"));
    for h in [
        "etag",
        "x-timestamp",
        "x-trans-id",
        "x-openstack-request-id",
        "content-type",
        "last-modified",
        "cache-control",
        "content-language",
        "expires",
        "pragma",
        "x-object-meta-color",
        // from X-Container-Meta-Access-Control-Expose-Headers, lower-cased
        "x-foo",
        "x-bar",
    ] {
        assert!(expose.contains(&h.to_string()), "{h} not exposed: {r:?}");
    }
    // HEAD as well.
    let r = t.owner("HEAD", O, &[("Origin", "http://b.com")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://b.com"),
        "{r:?}"
    );

    // Container listing: container metadata names are exposed.
    let r = t.owner("GET", C, &[("Origin", "http://a.com")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.com"),
        "{r:?}"
    );
    let expose = csv_lower(r.header("access-control-expose-headers"));
    assert!(
        expose.contains(&"x-container-meta-access-control-max-age".to_string()),
        "{r:?}"
    );

    // Swift decorates error responses too (cors_validation wraps the
    // handler): a 404 for an allowed origin still has the CORS headers.
    let r = t.owner(
        "GET",
        "/v1/AUTH_test/c/missing",
        &[("Origin", "http://a.com")],
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.com"),
        "{r:?}"
    );

    // A PUT from an allowed origin.
    let r = t.owner(
        "PUT",
        "/v1/AUTH_test/c/new",
        &[("Origin", "http://a.com"), ("Content-Type", "text/plain")],
        b"n",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.com"),
        "{r:?}"
    );
}

#[test]
fn cors_actual_response_varies_on_origin() {
    let t = cors_container();
    for (m, p) in [("GET", O), ("HEAD", O), ("GET", C)] {
        let r = t.owner(m, p, &[("Origin", "http://a.com")], b"");
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("http://a.com"),
            "{r:?}"
        );
        assert!(
            csv_lower(r.header("vary")).contains(&"origin".to_string()),
            "{m} {p}: no Vary: Origin: {r:?}"
        );
    }
}

#[test]
fn cors_expose_headers_from_container_are_lowercased() {
    // Swift: header_line.strip().lower() for each name in
    // X-Container-Meta-Access-Control-Expose-Headers.
    let t = cors_container();
    let r = t.owner("GET", O, &[("Origin", "http://a.com")], b"");
    let raw: Vec<&str> = r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim())
        .collect();
    assert!(raw.contains(&"x-foo"), "{r:?}");
    assert!(!raw.contains(&"X-Foo"), "{r:?}");
}

#[test]
fn cors_other_origin_gets_no_cors_headers() {
    // strict_cors_mode (the default): the request is served, but without
    // any Access-Control-* headers.
    let t = cors_container();
    let r = t.owner("GET", O, &[("Origin", "http://evil.com")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!r.has("access-control-allow-origin"), "{r:?}");
    assert!(!r.has("access-control-expose-headers"), "{r:?}");
    // No Origin, no CORS headers.
    let r = t.owner("GET", O, &[], b"");
    assert!(!r.has("access-control-allow-origin"), "{r:?}");
}

#[test]
fn cors_with_public_container() {
    // The browser case: anonymous GET of a .r:* object from an allowed
    // origin.
    let t = T::with_container(&[
        ("X-Container-Read", ".r:*"),
        (
            "X-Container-Meta-Access-Control-Allow-Origin",
            "http://a.com",
        ),
    ]);
    let r = t.anon("GET", O, &[("Origin", "http://a.com")], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.com"),
        "{r:?}"
    );
    assert!(csv_lower(r.header("access-control-expose-headers")).contains(&"etag".to_string()));
}

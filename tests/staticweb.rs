//! Static web over real sockets: anonymous index pages, listings with and
//! without CSS, error pages, directory markers and trailing-slash
//! redirects; authenticated users see the plain API unless X-Web-Mode.

mod common;

use common::*;

const C: &str = "/v1/AUTH_test/site";

fn setup(node: &Node) -> String {
    let tok = node.token();
    let r = node.req(
        "PUT",
        C,
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Read", ".r:*,.rlistings"),
            ("X-Container-Meta-Web-Index", "index.html"),
            ("X-Container-Meta-Web-Error", "error.html"),
        ],
        b"",
    );
    assert_eq!(r.status, 201);
    for (name, ctype, body) in [
        ("index.html", "text/html", b"<p>home</p>".as_slice()),
        ("404error.html", "text/html", b"<p>not here</p>".as_slice()),
        ("docs/index.html", "text/html", b"<p>docs</p>".as_slice()),
        ("files/a.txt", "text/plain", b"aaaa".as_slice()),
        ("files/sub/b.txt", "text/plain", b"b".as_slice()),
        ("marker", "application/directory", b"".as_slice()),
    ] {
        let r = node.req(
            "PUT",
            &format!("{C}/{name}"),
            &[("X-Auth-Token", &tok), ("Content-Type", ctype)],
            body,
        );
        assert_eq!(r.status, 201, "{name}");
    }
    tok
}

fn index_pages_errors_and_redirects(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let host = [("Host", "example.com")];
    let r = node.req("GET", C, &host, b"");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("http://example.com/v1/AUTH_test/site/")
    );
    let r = node.req("GET", &format!("{C}/"), &[], b"");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, b"<p>home</p>".as_slice())
    );
    let r = node.req("GET", &format!("{C}/docs"), &host, b"");
    assert_eq!(r.status, 301, "{r:?}");
    assert_eq!(
        r.header("location"),
        Some("http://example.com/v1/AUTH_test/site/docs/")
    );
    let r = node.req("GET", &format!("{C}/docs/"), &[], b"");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, b"<p>docs</p>".as_slice())
    );
    // Missing objects get the container's 404 page, with status 404.
    let r = node.req("GET", &format!("{C}/nope.html"), &[], b"");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (404, b"<p>not here</p>".as_slice())
    );
    // A directory marker is no object for the web.
    let r = node.req("GET", &format!("{C}/marker"), &[], b"");
    assert_eq!(r.status, 404);
    // Owners see the API, unless they ask for web mode.
    let r = node.req("GET", &format!("{C}/"), &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("index.html\n"), "{}", r.text());
    let r = node.req(
        "GET",
        &format!("{C}/"),
        &[("X-Auth-Token", &tok), ("X-Web-Mode", "true")],
        b"",
    );
    assert_eq!(r.body, b"<p>home</p>");
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert!(info.get("staticweb").is_some());
    node.stop();
}

fn html_listings(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let r = node.req(
        "POST",
        C,
        &[
            ("X-Auth-Token", &tok),
            ("X-Container-Read", ".r:*,.rlistings"),
            ("X-Container-Meta-Web-Listings", "true"),
            ("X-Container-Meta-Web-Listings-CSS", "style.css"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = node.req("GET", &format!("{C}/files/"), &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=UTF-8"));
    let html = r.text();
    assert!(
        html.contains("<title>Listing of /v1/AUTH_test/site/files/</title>"),
        "{html}"
    );
    assert!(html.contains("href=\"../style.css\""), "{html}");
    assert!(html.contains("<a href=\"../\">../</a>"), "{html}");
    assert!(html.contains("<a href=\"./sub/\">sub/</a>"), "{html}");
    assert!(
        html.contains("<tr class=\"item type-text type-plain\">"),
        "{html}"
    );
    assert!(html.contains("<a href=\"./a%2Etxt\">a.txt</a>"), "{html}");
    assert!(!r.has("x-backend-content-generator"));
    // Listings off: the "disabled" page, as a 404.
    let r = node.req(
        "POST",
        C,
        &[
            ("X-Auth-Token", &tok),
            ("X-Remove-Container-Meta-Web-Listings", "x"),
            ("X-Remove-Container-Meta-Web-Error", "x"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = node.req("GET", &format!("{C}/files/"), &[], b"");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("Web Listing Disabled"), "{}", r.text());
    // Without .rlistings anonymous users may not see the site's root.
    let r = node.req(
        "POST",
        C,
        &[("X-Auth-Token", &tok), ("X-Container-Read", ".r:*")],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(node.req("GET", &format!("{C}/"), &[], b"").status, 401);
    let r = node.req("GET", &format!("{C}/files/a.txt"), &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"aaaa".as_slice()));
    node.stop();
}

driver_tests! {
    fn index_pages_errors_and_redirects;
    fn html_listings;
}

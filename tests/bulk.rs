//! Bulk delete and bulk extract over real sockets: objects then
//! containers, not-found and failed entries, the three answer formats, the
//! request limits, and tar / tar.gz / tar.bz2 archives unpacked into
//! objects (pax metadata, long names, created containers).

mod common;

use common::*;

fn setup(node: &Node) -> String {
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    for c in [
        "/v1/AUTH_test/c",
        "/v1/AUTH_test/full",
        "/v1/AUTH_test/empty",
    ] {
        assert_eq!(node.req("PUT", c, &t, b"").status, 201);
    }
    for o in [
        "/v1/AUTH_test/c/a",
        "/v1/AUTH_test/c/b%20c",
        "/v1/AUTH_test/full/x",
    ] {
        assert_eq!(node.req("PUT", o, &t, b"data").status, 201);
    }
    tok
}

fn deletes_objects_then_containers(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let list = b"/empty\nc/a\n/c/b%20c\nc/missing\n\n/full\n";
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[
            ("X-Auth-Token", &tok),
            ("Accept", "application/json"),
            ("Content-Type", "text/plain"),
        ],
        list,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Number Deleted"], 3, "{v}");
    assert_eq!(v["Number Not Found"], 1, "{v}");
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert_eq!(v["Errors"], serde_json::json!([["/full", "409 Conflict"]]));
    let t = [("X-Auth-Token", tok.as_str())];
    assert_eq!(node.req("GET", "/v1/AUTH_test/c", &t, b"").status, 204);
    assert_eq!(node.req("HEAD", "/v1/AUTH_test/empty", &t, b"").status, 404);
    // Text answer, all fine.
    let r = node.req(
        "DELETE",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok)],
        b"full/x\nfull\n",
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text().trim_start(),
        "Number Deleted: 2\nNumber Not Found: 0\nResponse Body: \nResponse Status: 200 OK\nErrors:\n"
    );
    // XML, and nothing to delete.
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/xml")],
        b"\n",
    );
    let text = r.text();
    assert!(
        text.contains("<response_status>400 Bad Request</response_status>"),
        "{text}"
    );
    assert!(
        text.contains("<response_body>Invalid bulk delete.</response_body>"),
        "{text}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert_eq!(info["bulk_delete"]["max_deletes_per_request"], 10000);
    node.stop();
}

fn limits_and_authorization(driver: &str) {
    let node = Node::start(driver);
    let tok = setup(&node);
    let many: String = (0..10_001).map(|i| format!("c/o{i}\n")).collect();
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/json")],
        many.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "413 Request Entity Too Large");
    assert_eq!(
        v["Response Body"],
        "Maximum Bulk Deletes: 10000 per request"
    );
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[
            ("X-Auth-Token", &tok),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
        ],
        b"c/a\n",
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "406 Not Acceptable");
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok), ("Accept", "application/json")],
        format!("c/{}\n", "x".repeat(3000)).as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(v["Response Body"], "Invalid File Name", "{v}");
    // Another account's user may not delete here: each delete is authorized.
    let tok2 = node.token_for("test2:tester2", "testing2");
    let r = node.req(
        "POST",
        "/v1/AUTH_test?bulk-delete",
        &[("X-Auth-Token", &tok2), ("Accept", "application/json")],
        b"c/a\n",
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(
        v["Errors"],
        serde_json::json!([["c/a", "403 Forbidden"]]),
        "{v}"
    );
    let r = node.req("HEAD", "/v1/AUTH_test/c/a", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 200);
    node.stop();
}

driver_tests! {
    fn deletes_objects_then_containers;
    fn limits_and_authorization;
    fn extract_archives;
}

fn archive() -> Vec<u8> {
    let mut t = Vec::new();
    tar_member(&mut t, "top.txt", b"ignored: no container", b'0');
    tar_member(&mut t, "photos/", b"", b'5');
    tar_member(&mut t, "photos/a.jpg", &pattern(200_000, 3), b'0');
    let rec = "SCHILY.xattr.user.meta.lunch=burger";
    let line = format!("{} {rec}\n", rec.len() + 4);
    tar_member(&mut t, "PaxHeader", line.as_bytes(), b'x');
    tar_member(&mut t, "./docs/readme.md", b"# hi", b'0');
    t.extend(vec![0u8; 1024]);
    t
}

fn extract_archives(driver: &str) {
    use std::io::Write;
    let node = Node::start(driver);
    let tok = node.token();
    let t = [("X-Auth-Token", tok.as_str())];
    let tar = archive();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gz");
    let gz = gz.finish().expect("gz");
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&tar).expect("bz");
    let bz = bz.finish().expect("bz");
    for (kind, body, base) in [
        ("tar", tar.clone(), "/v1/AUTH_test"),
        ("tar.gz", gz, "/v1/AUTH_test/gz"),
        ("tar.bz2", bz, "/v1/AUTH_test/bz/sub/"),
    ] {
        let r = node.req(
            "PUT",
            &format!("{base}?extract-archive={kind}"),
            &[
                ("X-Auth-Token", &tok),
                ("Accept", "application/json"),
                ("X-Object-Meta-Src", "tar"),
            ],
            &body,
        );
        assert_eq!(r.status, 200, "{kind}: {r:?}");
        let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
        assert_eq!(v["Response Status"], "201 Created", "{kind}: {v}");
        assert_eq!(
            v["Number Files Created"],
            if kind == "tar" { 2 } else { 3 },
            "{kind}: {v}"
        );
    }
    let r = node.req("GET", "/v1/AUTH_test/photos/a.jpg", &t, b"");
    assert_eq!(r.body, pattern(200_000, 3));
    let r = node.req("HEAD", "/v1/AUTH_test/docs/readme.md", &t, b"");
    assert_eq!(r.header("x-object-meta-lunch"), Some("burger"));
    assert_eq!(r.header("x-object-meta-src"), Some("tar"));
    let r = node.req("GET", "/v1/AUTH_test/gz", &t, b"");
    assert_eq!(r.text(), "docs/readme.md\nphotos/a.jpg\ntop.txt\n");
    let r = node.req("GET", "/v1/AUTH_test/bz", &t, b"");
    assert_eq!(
        r.text(),
        "sub/docs/readme.md\nsub/photos/a.jpg\nsub/top.txt\n"
    );
    // Bad archives and types.
    let r = node.req("PUT", "/v1/AUTH_test?extract-archive=zip", &t, b"x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Unsupported archive format")
    );
    let r = node.req(
        "PUT",
        "/v1/AUTH_test/c?extract-archive=tar.gz",
        &[("X-Auth-Token", &tok), ("Accept", "application/json")],
        &tar,
    );
    let v: serde_json::Value = serde_json::from_slice(r.body.trim_ascii()).expect("json");
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert!(
        v["Response Body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Invalid Tar File:")),
        "{v}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&node.req("GET", "/info", &[], b"").body).expect("json");
    assert_eq!(info["bulk_upload"]["max_containers_per_extraction"], 10000);
    node.stop();
}

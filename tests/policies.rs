//! Storage policies against a real node configured with four of them:
//! `gold` (0, hashed, default), `silver` (1, hashed, alias `argent`),
//! `files` (2, onfile under a temp mount) and `old` (3, deprecated).
//! Containers choose their policy once, objects land in the policy's store
//! (`objects-1/` on the device, plain files under the mount), `/info` and
//! the account report policies as Swift does, listings are unaffected.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const A: &str = "/v1/AUTH_test";

struct T {
    node: Node,
    tok: String,
    mount: tempfile::TempDir,
}

impl T {
    fn new(driver: &str) -> T {
        let mount = tempfile::Builder::new()
            .prefix("paco-it-mount")
            .tempdir()
            .expect("mount tempdir");
        let config = format!(
            "expirer_interval_secs = 1\n\n\
             [[policies]]\nindex = 0\nname = \"gold\"\ndefault = true\n\n\
             [[policies]]\nindex = 1\nname = \"silver\"\naliases = [\"argent\"]\n\n\
             [[policies]]\nindex = 2\nname = \"files\"\nlayout = \"onfile\"\nmount = {:?}\n\n\
             [[policies]]\nindex = 3\nname = \"old\"\ndeprecated = true\n",
            mount.path().display().to_string()
        );
        let node = NodeOpts::new(driver).config(&config).start();
        let tok = node.token();
        T { node, tok, mount }
    }

    fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut h: Vec<(&str, &str)> = vec![("X-Auth-Token", &self.tok)];
        h.extend_from_slice(headers);
        self.node.req(method, path, &h, body)
    }

    fn container(&self, c: &str, policy: &str) -> Response {
        self.req(
            "PUT",
            &format!("{A}/{c}"),
            &[("X-Storage-Policy", policy)],
            b"",
        )
    }

    fn put(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.req("PUT", &format!("{A}/{path}"), headers, body)
    }

    fn onfile_path(&self, rel: &str) -> PathBuf {
        self.mount.path().join("AUTH_test").join(rel)
    }
}

fn listing(t: &T, c: &str) -> Vec<String> {
    let r = t.req("GET", &format!("{A}/{c}?format=json"), &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|o| o["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn info_lists_policies(driver: &str) {
    let t = T::new(driver);
    let r = t.node.req("GET", "/info", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("/info is JSON");
    assert_eq!(
        v["swift"]["policies"],
        serde_json::json!([
            {"name": "gold", "aliases": "gold", "default": true},
            {"name": "silver", "aliases": "silver, argent"},
            {"name": "files", "aliases": "files"},
        ]),
        "deprecated policies are hidden, the default is marked: {v}"
    );
    t.node.stop();
}

fn policy_is_chosen_once(driver: &str) {
    let t = T::new(driver);
    // No header: the default policy.
    let r = t.req("PUT", &format!("{A}/plain"), &[], b"");
    assert_eq!(r.status, 201, "{r:?}");
    let h = t.req("HEAD", &format!("{A}/plain"), &[], b"");
    assert_eq!(h.header("x-storage-policy"), Some("gold"), "{h:?}");
    // An alias, any case, names the policy; HEAD and GET report its name.
    assert_eq!(t.container("sc", "ARGENT").status, 201);
    let h = t.req("HEAD", &format!("{A}/sc"), &[], b"");
    assert_eq!(h.header("x-storage-policy"), Some("silver"), "{h:?}");
    let g = t.req("GET", &format!("{A}/sc"), &[], b"");
    assert_eq!(g.header("x-storage-policy"), Some("silver"), "{g:?}");
    // Same policy again: 202; another policy: 409, and nothing changes.
    assert_eq!(t.container("sc", "silver").status, 202);
    let r = t.container("sc", "gold");
    assert_eq!(r.status, 409, "a container's policy is immutable: {r:?}");
    let r = t.container("plain", "files");
    assert_eq!(r.status, 409, "{r:?}");
    let h = t.req("HEAD", &format!("{A}/sc"), &[], b"");
    assert_eq!(h.header("x-storage-policy"), Some("silver"), "{h:?}");
    // A PUT without the header keeps the existing policy.
    assert_eq!(
        t.req("PUT", &format!("{A}/sc"), &[], b"").status,
        202,
        "no X-Storage-Policy on an existing container"
    );
    // Swift's texts for unknown and deprecated names.
    let r = t.container("x", "bogus");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.text(), "Invalid X-Storage-Policy 'bogus'");
    let r = t.container("x", "old");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.text(), "Storage Policy 'old' is deprecated");
    assert_eq!(t.req("HEAD", &format!("{A}/x"), &[], b"").status, 404);
    // Deleted and recreated: the new PUT chooses again.
    assert_eq!(t.req("DELETE", &format!("{A}/sc"), &[], b"").status, 204);
    assert_eq!(t.container("sc", "files").status, 201);
    let h = t.req("HEAD", &format!("{A}/sc"), &[], b"");
    assert_eq!(h.header("x-storage-policy"), Some("files"), "{h:?}");
    t.node.stop();
}

fn hashed_policy_uses_objects_n(driver: &str) {
    let t = T::new(driver);
    assert_eq!(t.container("sc", "silver").status, 201);
    let body = pattern(10_000, 7);
    let r = t.put("sc/o1", &[("Content-Type", "text/plain")], &body);
    assert_eq!(r.status, 201, "{r:?}");
    let (part, hash) = hash_path("", "changeme", 10, "AUTH_test", "sc", "o1");
    let dev = t.node.data_dir.join("sda1");
    let dir = dev
        .join("objects-1")
        .join(part.to_string())
        .join(&hash[hash.len() - 3..])
        .join(&hash);
    let data: Vec<PathBuf> = walk_files(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    assert_eq!(
        data.len(),
        1,
        "one .data under objects-1: {:?}",
        walk_files(&dev)
    );
    assert!(
        !t.node.object_dir("AUTH_test", "sc", "o1").exists(),
        "nothing under objects/ for policy 1"
    );
    let g = t.req("GET", &format!("{A}/sc/o1"), &[], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, body);
    let g = t.req(
        "GET",
        &format!("{A}/sc/o1"),
        &[("Range", "bytes=10-19")],
        b"",
    );
    assert_eq!(g.status, 206);
    assert_eq!(g.body, &body[10..20]);
    assert_eq!(listing(&t, "sc"), vec!["o1"]);
    // The account reports per-policy totals under the policy's name (the
    // container reports to its account asynchronously).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let h = loop {
        let h = t.req("HEAD", A, &[], b"");
        if h.header("x-account-storage-policy-silver-object-count") == Some("1")
            || std::time::Instant::now() > deadline
        {
            break h;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        h.header("x-account-storage-policy-silver-object-count"),
        Some("1"),
        "{h:?}"
    );
    assert_eq!(
        h.header("x-account-storage-policy-silver-bytes-used"),
        Some("10000"),
        "{h:?}"
    );
    assert_eq!(
        h.header("x-account-storage-policy-silver-container-count"),
        Some("1"),
        "{h:?}"
    );
    // The account listing names each container's policy.
    let r = t.req("GET", &format!("{A}?format=json"), &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v[0]["name"], "sc");
    assert_eq!(v[0]["storage_policy"], "silver", "{v}");
    assert_eq!(t.req("DELETE", &format!("{A}/sc/o1"), &[], b"").status, 204);
    assert_eq!(t.req("GET", &format!("{A}/sc/o1"), &[], b"").status, 404);
    t.node.stop();
}

fn only_regular_files(root: &Path) -> Vec<PathBuf> {
    walk_files(root)
}

fn onfile_objects_are_plain_files(driver: &str) {
    let t = T::new(driver);
    assert_eq!(t.container("fc", "files").status, 201);
    let body = pattern(300_000, 3);
    let r = t.put(
        "fc/dir/sub/data.bin",
        &[
            ("Content-Type", "application/x-test"),
            ("X-Object-Meta-Color", "blue"),
        ],
        &body,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let etag = md5_hex(&body);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    // Byte-identical plain file, nothing else beside it.
    let path = t.onfile_path("fc/dir/sub/data.bin");
    assert_eq!(std::fs::read(&path).expect("plain file"), body);
    assert_eq!(
        only_regular_files(t.mount.path()),
        vec![path.clone()],
        "no temp or sidecar files"
    );
    // Reads through the object server's usual paths.
    let g = t.req("GET", &format!("{A}/fc/dir/sub/data.bin"), &[], b"");
    assert_eq!(g.status, 200);
    assert_eq!(g.body, body);
    assert_eq!(g.header("content-type"), Some("application/x-test"));
    assert_eq!(g.header("x-object-meta-color"), Some("blue"));
    let g = t.req(
        "GET",
        &format!("{A}/fc/dir/sub/data.bin"),
        &[("Range", "bytes=-5")],
        b"",
    );
    assert_eq!(g.status, 206);
    assert_eq!(g.body, &body[body.len() - 5..]);
    let g = t.req(
        "GET",
        &format!("{A}/fc/dir/sub/data.bin"),
        &[("If-None-Match", &format!("\"{etag}\""))],
        b"",
    );
    assert_eq!(g.status, 304, "{g:?}");
    // POST replaces user metadata; the file's bytes stay as they are.
    let p = t.req(
        "POST",
        &format!("{A}/fc/dir/sub/data.bin"),
        &[("X-Object-Meta-Shape", "round")],
        b"",
    );
    assert_eq!(p.status, 202, "{p:?}");
    let h = t.req("HEAD", &format!("{A}/fc/dir/sub/data.bin"), &[], b"");
    assert_eq!(h.header("x-object-meta-shape"), Some("round"), "{h:?}");
    assert!(!h.has("x-object-meta-color"), "{h:?}");
    assert_eq!(h.header("content-length"), Some("300000"));
    assert_eq!(std::fs::read(&path).expect("plain file"), body);
    // Overwrite, then listing.
    assert_eq!(t.put("fc/dir/sub/data.bin", &[], b"short").status, 201);
    assert_eq!(std::fs::read(&path).expect("plain file"), b"short");
    assert_eq!(t.put("fc/top", &[], b"t").status, 201);
    assert_eq!(listing(&t, "fc"), vec!["dir/sub/data.bin", "top"]);
    // DELETE removes the file and the directories it left empty.
    let d = t.req("DELETE", &format!("{A}/fc/dir/sub/data.bin"), &[], b"");
    assert_eq!(d.status, 204, "{d:?}");
    assert!(!path.exists());
    assert!(!t.onfile_path("fc/dir").exists(), "empty parents remain");
    assert_eq!(
        t.req("GET", &format!("{A}/fc/dir/sub/data.bin"), &[], b"")
            .status,
        404
    );
    assert_eq!(listing(&t, "fc"), vec!["top"]);
    t.node.stop();
}

fn onfile_directory_markers_and_conflicts(driver: &str) {
    let t = T::new(driver);
    assert_eq!(t.container("fc", "files").status, 201);
    // A directory marker becomes a directory.
    let r = t.put(
        "fc/photos/",
        &[("Content-Type", "application/directory")],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert!(t.onfile_path("fc/photos").is_dir());
    let h = t.req("HEAD", &format!("{A}/fc/photos/"), &[], b"");
    assert_eq!(h.status, 200, "{h:?}");
    assert_eq!(h.header("content-type"), Some("application/directory"));
    assert_eq!(h.header("content-length"), Some("0"));
    let g = t.req("GET", &format!("{A}/fc/photos/"), &[], b"");
    assert_eq!(g.status, 200, "{g:?}");
    assert!(g.body.is_empty());
    assert_eq!(listing(&t, "fc"), vec!["photos/"]);
    // Objects go inside it.
    assert_eq!(t.put("fc/photos/cat.jpg", &[], b"meow").status, 201);
    assert_eq!(
        std::fs::read(t.onfile_path("fc/photos/cat.jpg")).expect("file"),
        b"meow"
    );
    // A directory marker with a body is refused.
    let r = t.put("fc/d2/", &[("Content-Type", "application/directory")], b"x");
    assert_eq!(r.status, 400, "{r:?}");
    // Collisions: a file where a directory is needed, and the reverse: 409.
    let r = t.put("fc/photos/cat.jpg/whiskers", &[], b"w");
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.text().contains("already exists"), "{r:?}");
    let r = t.put("fc/photos", &[], b"not a dir");
    assert_eq!(r.status, 409, "{r:?}");
    assert!(t.onfile_path("fc/photos").is_dir());
    // Names that cannot be a path below the mount: 400, nothing written.
    for name in ["a//b", "a/./b", "a/../../../etc/x", "ends/with/slash/"] {
        let r = t.put(&format!("fc/{name}"), &[], b"x");
        assert_eq!(r.status, 400, "{name}: {r:?}");
    }
    // Metadata that does not fit in the xattr: 400, and the old object stays.
    let big = "v".repeat(250);
    let mut headers: Vec<(String, String)> = Vec::new();
    for i in 0..15 {
        headers.push((format!("X-Object-Meta-K{i:02}"), big.clone()));
    }
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = t.put("fc/photos/cat.jpg", &h, b"bigger meta");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.text().contains("Metadata too large"), "{r:?}");
    assert_eq!(
        std::fs::read(t.onfile_path("fc/photos/cat.jpg")).expect("file"),
        b"meow"
    );
    // Deleting a marker over other objects keeps the directory.
    assert_eq!(
        t.req("DELETE", &format!("{A}/fc/photos/"), &[], b"").status,
        204
    );
    assert!(t.onfile_path("fc/photos/cat.jpg").exists());
    assert_eq!(
        t.req("HEAD", &format!("{A}/fc/photos/"), &[], b"").status,
        404
    );
    let files = walk_files(t.mount.path());
    assert!(
        files.iter().all(|p| !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".paco-tmp"))),
        "temp files left: {files:?}"
    );
    t.node.stop();
}

fn account_quota_per_policy(driver: &str) {
    let t = T::new(driver);
    assert_eq!(t.container("sc", "silver").status, 201);
    assert_eq!(t.container("gc", "gold").status, 201);
    let admin = t.node.token_for("admin:admin", "admin");
    let r = t.node.req(
        "POST",
        A,
        &[
            ("X-Auth-Token", &admin),
            ("X-Account-Quota-Bytes-Policy-silver", "5"),
        ],
        b"",
    );
    assert_eq!(r.status, 204, "{r:?}");
    let h = t.req("HEAD", A, &[], b"");
    assert_eq!(
        h.header("x-account-quota-bytes-policy-silver"),
        Some("5"),
        "{h:?}"
    );
    let r = t.put("sc/o", &[], b"0123456789");
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.text(), "Upload exceeds policy quota.");
    assert_eq!(t.put("gc/o", &[], b"0123456789").status, 201);
    assert_eq!(t.put("sc/small", &[], b"0123").status, 201);
    t.node.stop();
}

/// The expiry queue remembers each object's policy: the expirer deletes
/// the onfile file and the `objects-1/` object, not a policy-0 namesake.
fn expirer_deletes_in_the_objects_policy(driver: &str) {
    let t = T::new(driver);
    assert_eq!(t.container("fc", "files").status, 201);
    assert_eq!(t.container("sc", "silver").status, 201);
    let r = t.put("fc/dir/gone", &[("X-Delete-After", "1")], b"bye");
    assert_eq!(r.status, 201, "{r:?}");
    let r = t.put("sc/gone", &[("X-Delete-After", "1")], b"bye");
    assert_eq!(r.status, 201, "{r:?}");
    let path = t.onfile_path("fc/dir/gone");
    assert!(path.exists());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    // The two entries are due in the same second, in either order: wait
    // for both objects and both listings.
    while (path.exists() || !listing(&t, "sc").is_empty() || !listing(&t, "fc").is_empty())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!path.exists(), "the expirer left the onfile object");
    assert!(listing(&t, "fc").is_empty());
    assert!(
        listing(&t, "sc").is_empty(),
        "the expirer left the silver object"
    );
    t.node.stop();
}

/// A node whose only policy is onfile: every container's objects are
/// plain files, with no `X-Storage-Policy` needed.
fn onfile_as_the_only_policy(driver: &str) {
    let mount = tempfile::Builder::new()
        .prefix("paco-it-mount")
        .tempdir()
        .expect("mount tempdir");
    let config = format!(
        "[[policies]]\nindex = 0\nname = \"nas\"\nlayout = \"onfile\"\nmount = {:?}\n",
        mount.path().display().to_string()
    );
    let node = NodeOpts::new(driver).config(&config).start();
    let tok = node.token();
    let auth = [("X-Auth-Token", tok.as_str())];
    assert_eq!(node.req("PUT", &format!("{A}/c"), &auth, b"").status, 201);
    let h = node.req("HEAD", &format!("{A}/c"), &auth, b"");
    assert_eq!(h.header("x-storage-policy"), Some("nas"), "{h:?}");
    assert_eq!(
        node.req("PUT", &format!("{A}/c/a/b"), &auth, b"xyz").status,
        201
    );
    assert_eq!(
        std::fs::read(mount.path().join("AUTH_test/c/a/b")).expect("plain file"),
        b"xyz"
    );
    let g = node.req("GET", &format!("{A}/c/a/b"), &auth, b"");
    assert_eq!(g.body, b"xyz");
    assert!(
        walk_files(&node.data_dir)
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "data")),
        "nothing in the hashed layout"
    );
    node.stop();
}

driver_tests! {
    fn onfile_as_the_only_policy;
    fn expirer_deletes_in_the_objects_policy;
    fn account_quota_per_policy;
    fn info_lists_policies;
    fn policy_is_chosen_once;
    fn hashed_policy_uses_objects_n;
    fn onfile_objects_are_plain_files;
    fn onfile_directory_markers_and_conflicts;
}

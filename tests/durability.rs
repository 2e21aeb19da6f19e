//! On-disk layout (Swift's hashed layout, hash and partition computed by
//! Swift's rule) and crash safety: kill -9 during and after a PUT, then
//! restart on the same data directory. Every test runs on both drivers.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const A: &str = "/v1/AUTH_test";

/// The test helper implements Swift's hash_path (values from Swift's own
/// unit tests, test/unit/common/test_utils.py::test_hash_path, where the
/// suffix is "endcap").
#[test]
fn hash_path_matches_swift_vectors() {
    assert_eq!(
        hash_path("", "endcap", 10, "a", "c", "o").1,
        "06fbf0b514e5199dfc4e00f42eb5ea83"
    );
    assert_eq!(
        hash_path("abcdef", "endcap", 10, "a", "c", "o").1,
        "363f9b535bfb7d17a43a46a358afca0e"
    );
    // 0x06fbf0b5 >> 22 == 27
    assert_eq!(
        hash_path("", "endcap", 10, "a", "c", "o").0,
        0x06fbf0b5u32 >> 22
    );
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    walk_files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

fn tmp_files(data_dir: &Path) -> Vec<PathBuf> {
    walk_files(&data_dir.join("sda1").join("tmp"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// The files under `dir` once `done` holds for them (superseded versions
/// are removed by a task that runs after the answer), or after 5 s.
fn settled_files(dir: &Path, done: impl Fn(&[PathBuf]) -> bool) -> Vec<PathBuf> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let files = walk_files(dir);
        if done(&files) || std::time::Instant::now() > deadline {
            return files;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn on_disk_layout(driver: &str) {
    let node = Node::start(driver);
    let tok = node.setup();
    let body = pattern(4096, 2);
    let r = node.req(
        "PUT",
        &format!("{A}/photos/cat.jpg"),
        &[("X-Auth-Token", &tok)],
        &body,
    );
    assert_eq!(r.status, 201);
    let g = node.req(
        "HEAD",
        &format!("{A}/photos/cat.jpg"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    let ts = g.header("x-timestamp").unwrap().to_string();
    let (part, hash) = hash_path("", "changeme", 10, "AUTH_test", "photos", "cat.jpg");
    let dir = node
        .data_dir
        .join("sda1/objects")
        .join(part.to_string())
        .join(&hash[29..])
        .join(&hash);
    let data = dir.join(format!("{ts}.data"));
    assert!(
        data.is_file(),
        "expected {data:?}; files under data dir: {:#?}",
        walk_files(&node.data_dir)
    );
    let bytes = std::fs::read(&data).unwrap();
    assert!(
        bytes.len() >= body.len() && bytes[..body.len()] == body[..],
        "object bytes are not at offset 0 of the .data file"
    );
    // Exactly one file for the object.
    assert_eq!(walk_files(&dir), vec![data.clone()]);

    // POST writes a .meta next to the .data.
    let p = node.req(
        "POST",
        &format!("{A}/photos/cat.jpg"),
        &[("X-Auth-Token", &tok), ("X-Object-Meta-A", "b")],
        b"",
    );
    assert_eq!(p.status, 202);
    assert_eq!(
        files_with_ext(&dir, "meta").len(),
        1,
        "{:?}",
        walk_files(&dir)
    );
    assert!(data.is_file());

    // A newer PUT replaces the old .data (Swift cleans up obsolete files).
    let body2 = b"second version".to_vec();
    assert_eq!(
        node.req(
            "PUT",
            &format!("{A}/photos/cat.jpg"),
            &[("X-Auth-Token", &tok)],
            &body2
        )
        .status,
        201
    );
    settled_files(&dir, |f| f.len() == 1);
    let datas = files_with_ext(&dir, "data");
    assert_eq!(
        datas.len(),
        1,
        "obsolete .data not cleaned up: {:?}",
        walk_files(&dir)
    );
    assert_ne!(datas[0], data);
    assert!(
        files_with_ext(&dir, "meta").is_empty(),
        "obsolete .meta kept: {:?}",
        walk_files(&dir)
    );

    // DELETE leaves only a tombstone named by its timestamp.
    let d = node.req(
        "DELETE",
        &format!("{A}/photos/cat.jpg"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(d.status, 204);
    let files = settled_files(&dir, |f| f.len() == 1);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "ts");
    let ts_name = files[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert!(
        ts_name.parse::<f64>().is_ok() && ts_name.len() == 16,
        "tombstone name {ts_name:?}"
    );
    assert!(tmp_files(&node.data_dir).is_empty());
}

fn custom_hash_config(driver: &str) {
    let cfg = "[swift_hash]\nprefix = \"abcdef\"\nsuffix = \"endcap\"\n[storage]\ndevice = \"d7\"\npart_power = 8\n";
    let node = NodeOpts::new(driver).config(cfg).start();
    let tok = node.setup();
    for name in ["o", "x/y/z", "héllo wörld"] {
        let r = node.req(
            "PUT",
            &format!("{A}/c/{}", quote(name)),
            &[("X-Auth-Token", &tok)],
            b"x",
        );
        assert_eq!(r.status, 201, "{r:?}");
        let (part, hash) = hash_path("abcdef", "endcap", 8, "AUTH_test", "c", name);
        assert!(part < 256);
        let dir = node
            .data_dir
            .join("d7/objects")
            .join(part.to_string())
            .join(&hash[29..])
            .join(&hash);
        assert_eq!(
            files_with_ext(&dir, "data").len(),
            1,
            "{name:?}: expected a .data in {dir:?}; have {:#?}",
            walk_files(&node.data_dir)
        );
    }
}

fn kill9_during_put(driver: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let total = 8 * 1024 * 1024;
    let body = pattern(total, 4);
    let old = b"the old version".to_vec();
    {
        let mut node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
        let tok = node.setup();
        assert_eq!(
            node.req(
                "PUT",
                &format!("{A}/c/with-old"),
                &[("X-Auth-Token", &tok)],
                &old
            )
            .status,
            201
        );
        let mut conns = Vec::new();
        for name in ["fresh", "with-old"] {
            let mut c = node.conn();
            c.send(format!("PUT {A}/c/{name} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\nContent-Length: {total}\r\n\r\n").as_bytes());
            c.send(&body[..total / 2]);
            conns.push(c);
        }
        // Let the node consume what was sent.
        std::thread::sleep(Duration::from_millis(500));
        node.kill9();
    }
    let node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
    let tok = node.setup();
    let g = node.req(
        "GET",
        &format!("{A}/c/fresh"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(
        g.status, 404,
        "a half-written object must not appear: {g:?}"
    );
    let g = node.req(
        "GET",
        &format!("{A}/c/with-old"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(
        g.body, old,
        "the old version must survive an interrupted overwrite"
    );
    let tmp = tmp_files(data_dir.path());
    assert!(tmp.is_empty(), "temp files remain after restart: {tmp:?}");
    assert!(files_with_ext(&node.object_dir("AUTH_test", "c", "fresh"), "data").is_empty());
    node.stop();
}

fn kill9_after_201(driver: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let body = pattern(3 * 1024 * 1024 + 17, 6);
    let etag = md5_hex(&body);
    {
        let mut node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
        let tok = node.setup();
        let r = node.req(
            "PUT",
            &format!("{A}/c/done"),
            &[("X-Auth-Token", &tok), ("X-Object-Meta-K", "v")],
            &body,
        );
        assert_eq!(r.status, 201);
        node.kill9();
    }
    let node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
    let tok = node.setup();
    let g = node.req(
        "GET",
        &format!("{A}/c/done"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.header("etag"), Some(etag.as_str()));
    assert_eq!(g.header("x-object-meta-k"), Some("v"));
    assert_eq!(md5_hex(&g.body), etag, "body after restart");
    assert!(tmp_files(data_dir.path()).is_empty());
}

/// Overwrite one object again and again and SIGKILL at an arbitrary
/// moment: after restart the object is one complete version.
fn kill9_random_moments(driver: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let versions: Vec<Vec<u8>> = (0..4u8)
        .map(|i| pattern(512 * 1024 + i as usize, 10 + i))
        .collect();
    let etags: Vec<String> = versions.iter().map(|v| md5_hex(v)).collect();
    for (round, delay_ms) in [30u64, 110, 260].into_iter().enumerate() {
        {
            let mut node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
            let tok = node.setup();
            if round == 0 {
                assert_eq!(
                    node.req(
                        "PUT",
                        &format!("{A}/c/busy"),
                        &[("X-Auth-Token", &tok)],
                        &versions[0]
                    )
                    .status,
                    201
                );
            }
            let port = node.port;
            let vs = versions.clone();
            let writer = std::thread::spawn(move || {
                for i in 0.. {
                    let Ok(mut c) = Conn::try_connect(port) else {
                        return;
                    };
                    let raw = build_request(
                        "PUT",
                        &format!("{A}/c/busy"),
                        &[("X-Auth-Token", &tok)],
                        &vs[i % vs.len()],
                    );
                    if c.try_send(&raw).is_err() || c.read_response(false).is_err() {
                        return;
                    }
                }
            });
            std::thread::sleep(Duration::from_millis(delay_ms));
            node.kill9();
            writer.join().unwrap();
        }
        let node = NodeOpts::new(driver).data_dir(data_dir.path()).start();
        let tok = node.setup();
        let g = node.req(
            "GET",
            &format!("{A}/c/busy"),
            &[("X-Auth-Token", &tok)],
            b"",
        );
        assert_eq!(g.status, 200, "round {round}: {g:?}");
        let e = g.header("etag").unwrap().to_string();
        assert!(etags.contains(&e), "round {round}: unknown ETag {e}");
        assert_eq!(
            md5_hex(&g.body),
            e,
            "round {round}: body does not match its ETag"
        );
        assert!(
            tmp_files(data_dir.path()).is_empty(),
            "round {round}: temp files remain"
        );
        node.stop();
    }
}

/// Writers race on one object while readers read it (two workers): every
/// read is one complete version (body matches its ETag), every write
/// succeeds or loses by timestamp, and the final state is one version.
fn concurrent_writers_and_readers(driver: &str) {
    let node = NodeOpts::new(driver).workers(2).start();
    let tok = node.setup();
    let versions: Vec<Vec<u8>> = (0..6u8)
        .map(|i| pattern(200 * 1024 + i as usize * 7, 30 + i))
        .collect();
    let etags: Vec<String> = versions.iter().map(|v| md5_hex(v)).collect();
    assert_eq!(
        node.req(
            "PUT",
            &format!("{A}/c/race"),
            &[("X-Auth-Token", &tok)],
            &versions[0]
        )
        .status,
        201
    );
    let port = node.port;
    let mut threads = Vec::new();
    for w in 0..4usize {
        let (tok, vs) = (tok.clone(), versions.clone());
        threads.push(std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            for k in 0..6 {
                let v = &vs[(w + k) % vs.len()];
                let r = c.request("PUT", &format!("{A}/c/race"), &[("X-Auth-Token", &tok)], v);
                // 409: a concurrent PUT got a newer timestamp first.
                assert!(r.status == 201 || r.status == 409, "writer {w}: {r:?}");
            }
        }));
    }
    for rdr in 0..3usize {
        let (tok, etags) = (tok.clone(), etags.clone());
        threads.push(std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            for _ in 0..15 {
                let r = c.request(
                    "GET",
                    &format!("{A}/c/race"),
                    &[("X-Auth-Token", &tok)],
                    b"",
                );
                assert_eq!(r.status, 200, "reader {rdr}: {r:?}");
                let e = r.header("etag").unwrap();
                assert!(
                    etags.iter().any(|x| x == e),
                    "reader {rdr}: unknown ETag {e}"
                );
                assert_eq!(
                    md5_hex(&r.body),
                    e,
                    "reader {rdr}: body is not the version its ETag names"
                );
            }
        }));
    }
    for t in threads {
        t.join().expect("a worker thread failed");
    }
    let g = node.req(
        "GET",
        &format!("{A}/c/race"),
        &[("X-Auth-Token", &tok)],
        b"",
    );
    let e = g.header("etag").unwrap().to_string();
    assert!(etags.contains(&e));
    assert_eq!(md5_hex(&g.body), e);
    assert_eq!(
        files_with_ext(&node.object_dir("AUTH_test", "c", "race"), "data").len(),
        1,
        "obsolete .data files kept"
    );
    assert!(tmp_files(&node.data_dir).is_empty());
}

driver_tests! {
    fn on_disk_layout;
    fn custom_hash_config;
    fn kill9_during_put;
    fn kill9_after_201;
    fn kill9_random_moments;
    fn concurrent_writers_and_readers;
}

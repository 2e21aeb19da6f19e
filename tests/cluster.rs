//! A cluster of paco nodes on loopback: three processes with two devices
//! each, object, container and account rings with three replicas built by
//! paco's own builder, each node's proxy routing through the rings to its
//! own devices in process and to its peers' backend listeners. Writes
//! succeed with a node down, handoffs hold them, reads succeed from the
//! rest, the container and account updates the down node missed reach it
//! from the async-pending queues, every proxy gives the same listings, and
//! a node holding no copy of a container still lists it.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const NODES: usize = 3;
const DEVICES: [&str; 2] = ["sda1", "sdb1"];

/// Object, container and account rings: one zone per node, two devices
/// in each, three replicas.
fn build_rings(dir: &Path, ports: &[u16]) {
    run_paco(dir, &["ring", "create", "6", "3", "1"]);
    for (i, p) in ports.iter().enumerate() {
        for d in DEVICES {
            let dev = format!("r1z{}-127.0.0.1:{p}/{d}", i + 1);
            run_paco(dir, &["ring", "add", &dev, "100"]);
        }
    }
    run_paco(dir, &["ring", "rebalance"]);
    run_paco(dir, &["ring", "write_ring", "-o", "object.ring.gz"]);
    for name in ["container.ring.gz", "account.ring.gz"] {
        std::fs::copy(dir.join("object.ring.gz"), dir.join(name)).expect("copy ring");
    }
}

/// A cluster's temp dirs (rings, one data dir a node) and backend ports,
/// with its rings built.
struct Layout {
    ring_dir: tempfile::TempDir,
    data: Vec<tempfile::TempDir>,
    ports: Vec<u16>,
}

impl Layout {
    fn new() -> Self {
        let ring_dir = tempfile::tempdir().expect("ring dir");
        let data = (0..NODES)
            .map(|_| tempfile::tempdir().expect("data dir"))
            .collect();
        let ports: Vec<u16> = (0..NODES).map(|_| free_port()).collect();
        build_rings(ring_dir.path(), &ports);
        Layout {
            ring_dir,
            data,
            ports,
        }
    }
}

fn start_node(ring_dir: &Path, data: &Path, port: u16) -> Node {
    start_node_with(ring_dir, data, port, "")
}

fn start_node_with(ring_dir: &Path, data: &Path, port: u16, extra: &str) -> Node {
    let cfg = format!(
        "backend_bind = \"127.0.0.1:{port}\"\nupdater_interval_secs = 1\n\
         [storage]\nextra_devices = [\"sdb1\"]\n\
         [cluster]\nswift_dir = \"{}\"\nconn_timeout_ms = 300\nnode_timeout_ms = 5000\n\
         container_updater_interval_secs = 1\n{extra}",
        ring_dir.display()
    );
    NodeOpts::new("epoll").config(&cfg).data_dir(data).start()
}

/// The partition and primaries (`ip:port`, device) of a name in a ring.
fn placement(ring: &Path, names: &[&str]) -> (u32, Vec<(u16, String)>) {
    let dir = ring.parent().expect("ring dir");
    let mut args = vec!["ring", "get", ring.to_str().expect("utf8"), "--json"];
    args.extend_from_slice(names);
    let v: serde_json::Value = serde_json::from_str(&run_paco(dir, &args)).expect("ring get json");
    let part = v["partition"].as_u64().expect("partition") as u32;
    let prim = v["primaries"]
        .as_array()
        .expect("primaries")
        .iter()
        .map(|d| {
            (
                d["port"].as_u64().expect("port") as u16,
                d["device"].as_str().expect("device").to_string(),
            )
        })
        .collect();
    (part, prim)
}

/// A GET straight to a backend listener: (status, body).
fn backend_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn names(plain: &str) -> BTreeSet<String> {
    plain.lines().map(str::to_string).collect()
}

fn json_names(body: &str) -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn get(node: &Node, path: &str) -> (u16, String) {
    let t = node.token();
    let r = node.req("GET", path, &[("X-Auth-Token", &t)], b"");
    (r.status, r.text())
}

fn wait_for(what: &str, mut ok: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ok() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn count_files(root: &Path, suffix: &str) -> usize {
    walk_files(root)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .count()
}

#[test]
fn three_nodes_survive_a_node_down() {
    let Layout {
        ring_dir,
        data,
        ports,
    } = Layout::new();
    let mut nodes: Vec<Option<Node>> = (0..NODES)
        .map(|i| Some(start_node(ring_dir.path(), data[i].path(), ports[i])))
        .collect();
    let n0 = nodes[0].as_ref().expect("node 0");
    let tok0 = n0.token();
    let r = n0.req("PUT", "/v1/AUTH_test/c", &[("X-Auth-Token", &tok0)], b"");
    assert_eq!(r.status, 201, "container PUT: {r:?}");
    let body = pattern(10_000, 7);
    let r = n0.req(
        "PUT",
        "/v1/AUTH_test/c/first",
        &[("X-Auth-Token", &tok0)],
        &body,
    );
    assert_eq!(r.status, 201, "{r:?}");
    // Node 0's own replica was written in process: its backend listener saw
    // no PUT of the object, while node 1's did (the partition tells object
    // writes from container-row updates, which use the container's).
    let oring = ring_dir.path().join("object.ring.gz");
    let (opart, oprims) = placement(&oring, &["AUTH_test", "c", "first"]);
    let (cpart0, _) = placement(
        &ring_dir.path().join("container.ring.gz"),
        &["AUTH_test", "c"],
    );
    assert_ne!(
        opart, cpart0,
        "the object and container partitions must differ here"
    );
    let put_seen = |i: usize| -> bool {
        let dev = oprims
            .iter()
            .find(|(port, _)| *port == ports[i])
            .map(|(_, d)| d.clone())
            .expect("a replica on every node");
        let path = format!("/{dev}/{opart}/AUTH_test/c/first");
        let log = nodes[i].as_ref().expect("node").log();
        log.lines()
            .any(|l| l.contains("backend_access") && l.contains("PUT") && l.contains(&path))
    };
    assert!(!put_seen(0), "node 0 sent its own replica over HTTP");
    assert!(put_seen(1), "node 1's replica arrived over HTTP");
    // Every node reads it, and lists the container and the account.
    for (i, n) in nodes.iter().enumerate() {
        let n = n.as_ref().expect("node");
        let t = n.token();
        let r = n.req("GET", "/v1/AUTH_test/c/first", &[("X-Auth-Token", &t)], b"");
        assert_eq!((r.status, r.body == body), (200, true), "node {i}");
        assert_eq!(
            get(n, "/v1/AUTH_test/c"),
            (200, "first\n".into()),
            "node {i}"
        );
        assert_eq!(get(n, "/v1/AUTH_test"), (200, "c\n".into()), "node {i}");
    }

    // Node 2 goes down.
    let down = 2;
    nodes[down].take().expect("down node").stop();
    let p = nodes[0].as_ref().expect("proxy");
    let tok = p.token();
    let r = p.req("PUT", "/v1/AUTH_test/c2", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 201, "container PUT with a node down: {r:?}");
    let mut want_c: BTreeSet<String> = ["first".to_string()].into();
    let mut want_c2 = BTreeSet::new();
    for i in 0..12 {
        let name = format!("obj-{i}");
        let r = p.req(
            "PUT",
            &format!("/v1/AUTH_test/c/{name}"),
            &[("X-Auth-Token", &tok)],
            &pattern(3000 + i, i as u8),
        );
        assert_eq!(r.status, 201, "PUT {name} with a node down: {r:?}");
        want_c.insert(name);
    }
    for i in 0..4 {
        let name = format!("in-c2-{i}");
        let r = p.req(
            "PUT",
            &format!("/v1/AUTH_test/c2/{name}"),
            &[("X-Auth-Token", &tok)],
            b"x",
        );
        assert_eq!(r.status, 201, "PUT c2/{name}: {r:?}");
        want_c2.insert(name);
    }
    // Reads succeed from the nodes still up.
    for i in [0, 1] {
        let n = nodes[i].as_ref().expect("node");
        let t = n.token();
        for j in 0..12 {
            let r = n.req(
                "GET",
                &format!("/v1/AUTH_test/c/obj-{j}"),
                &[("X-Auth-Token", &t)],
                b"",
            );
            assert_eq!(r.status, 200, "GET obj-{j} from node {i}");
            assert!(r.body == pattern(3000 + j, j as u8), "body of obj-{j}");
        }
        let (s, l) = get(n, "/v1/AUTH_test/c2");
        assert_eq!((s, names(&l)), (200, want_c2.clone()), "c2 on node {i}");
    }
    // Handoffs hold the writes: every object written while node 2 was down
    // has all three replicas on nodes 0 and 1 (two primaries, a handoff).
    let up_data: usize = [0, 1]
        .iter()
        .map(|&i| count_files(data[i].path(), ".data"))
        .sum();
    assert_eq!(up_data, 3 * 16 + 2, "replicas on the nodes still up");
    // The updates node 2 missed were queued: container rows of the objects,
    // and c2's row in node 2's account replica.
    let pending = |sub: &str| -> usize {
        [0, 1]
            .iter()
            .flat_map(|&i| DEVICES.iter().map(move |d| (i, d)))
            .map(|(i, d)| walk_files(&data[i].path().join(d).join(sub)).len())
            .sum()
    };
    assert!(pending("async_pending") > 0, "no container async pending");
    assert!(
        pending("async_pending_accounts") > 0,
        "no account async pending"
    );

    // Node 2 returns; the updaters bring its replicas up to date.
    nodes[down] = Some(start_node(ring_dir.path(), data[down].path(), ports[down]));
    let cring = ring_dir.path().join("container.ring.gz");
    let aring = ring_dir.path().join("account.ring.gz");
    let (cpart, cprims) = placement(&cring, &["AUTH_test", "c"]);
    let (_, c2prims) = placement(&cring, &["AUTH_test", "c2"]);
    let (apart, aprims) = placement(&aring, &["AUTH_test"]);
    let on_down = |prims: &[(u16, String)]| -> String {
        prims
            .iter()
            .find(|(port, _)| *port == ports[down])
            .map(|(_, d)| d.clone())
            .expect("a replica on every node")
    };
    let (cdev, adev) = (on_down(&cprims), on_down(&aprims));
    wait_for("node 2's container replica", || {
        let (s, b) = backend_get(
            ports[down],
            &format!("/{cdev}/{cpart}/AUTH_test/c?format=json"),
        );
        let got = json_names(&b);
        (s == 200 && got == want_c)
            .then_some(())
            .ok_or(format!("{s} {got:?}"))
    });
    wait_for("node 2's account replica", || {
        let (s, b) = backend_get(
            ports[down],
            &format!("/{adev}/{apart}/AUTH_test?format=json"),
        );
        let got = json_names(&b);
        let want: BTreeSet<String> = ["c".to_string(), "c2".to_string()].into();
        (s == 200 && got == want)
            .then_some(())
            .ok_or(format!("{s} {got:?}"))
    });
    // Node 2 holds no copy of c2 (created while it was down, no replicator
    // ran), yet its proxy lists it from the other replicas.
    let c2dev = on_down(&c2prims);
    let (c2part, _) = placement(&cring, &["AUTH_test", "c2"]);
    let (s, _) = backend_get(ports[down], &format!("/{c2dev}/{c2part}/AUTH_test/c2"));
    assert_eq!(s, 404, "node 2 should have no c2 database");
    // Every proxy gives the same listings.
    for (i, n) in nodes.iter().enumerate() {
        let n = n.as_ref().expect("node");
        let (s, l) = get(n, "/v1/AUTH_test/c");
        assert_eq!((s, names(&l)), (200, want_c.clone()), "c on node {i}");
        let (s, l) = get(n, "/v1/AUTH_test/c2");
        assert_eq!((s, names(&l)), (200, want_c2.clone()), "c2 on node {i}");
        // Listing parameters reach the container servers.
        assert_eq!(
            get(n, "/v1/AUTH_test/c?delimiter=j-&limit=5"),
            (200, "first\nobj-\n".to_string()),
            "delimited listing on node {i}"
        );
        assert_eq!(
            get(n, "/v1/AUTH_test/c?prefix=obj-1&reverse=true"),
            (200, "obj-11\nobj-10\nobj-1\n".to_string()),
            "prefix, reverse on node {i}"
        );
        let (s, l) = get(n, "/v1/AUTH_test");
        assert_eq!(
            (s, names(&l)),
            (200, ["c".to_string(), "c2".to_string()].into()),
            "account on node {i}"
        );
        let t = n.token();
        let r = n.req("HEAD", "/v1/AUTH_test/c2", &[("X-Auth-Token", &t)], b"");
        assert_eq!(r.status, 204, "HEAD c2 on node {i}");
    }
    // The container updaters bring every account replica the containers'
    // totals (objects are counted in containers only).
    let want_totals = serde_json::json!({"c": [13, 10_000 + (0..12).map(|i| 3000 + i).sum::<usize>()], "c2": [4, 4]});
    for (port, dev) in &aprims {
        wait_for("account totals on every replica", || {
            let (s, b) = backend_get(*port, &format!("/{dev}/{apart}/AUTH_test?format=json"));
            let v: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
            let got: serde_json::Map<String, serde_json::Value> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["name"].as_str().unwrap_or_default().to_string(),
                                serde_json::json!([e["count"], e["bytes"]]),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (s == 200 && serde_json::Value::Object(got.clone()) == want_totals)
                .then_some(())
                .ok_or(format!("{port}/{dev}: {s} {got:?}"))
        });
    }
    for n in nodes.into_iter().flatten() {
        n.stop();
    }
}

/// Each storage policy follows its own object ring: policy 1's
/// `object-1.ring.gz` places two replicas on the `sdb1` devices only.
#[test]
fn each_policy_has_its_own_object_ring() {
    let Layout {
        ring_dir,
        data,
        ports,
    } = Layout::new();
    let dir = ring_dir.path();
    run_paco(
        dir,
        &["ring", "-b", "silver.builder", "create", "6", "2", "1"],
    );
    for (i, p) in ports.iter().enumerate() {
        let dev = format!("r1z{}-127.0.0.1:{p}/sdb1", i + 1);
        run_paco(dir, &["ring", "-b", "silver.builder", "add", &dev, "100"]);
    }
    run_paco(dir, &["ring", "-b", "silver.builder", "rebalance"]);
    run_paco(
        dir,
        &[
            "ring",
            "-b",
            "silver.builder",
            "write_ring",
            "-o",
            "object-1.ring.gz",
        ],
    );
    let policies = "[[policies]]\nindex = 0\nname = \"gold\"\ndefault = true\n\n\
                    [[policies]]\nindex = 1\nname = \"silver\"\n";
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| start_node_with(dir, data[i].path(), ports[i], policies))
        .collect();
    let n0 = &nodes[0];
    let tok = n0.token();
    let r = n0.req(
        "PUT",
        "/v1/AUTH_test/s",
        &[("X-Auth-Token", &tok), ("X-Storage-Policy", "silver")],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    for i in 0..5 {
        let r = n0.req(
            "PUT",
            &format!("/v1/AUTH_test/s/o{i}"),
            &[("X-Auth-Token", &tok)],
            &pattern(500 + i, i as u8),
        );
        assert_eq!(r.status, 201, "{r:?}");
    }
    let files = |dev: &str| -> usize {
        data.iter()
            .map(|d| count_files(&d.path().join(dev).join("objects-1"), ".data"))
            .sum()
    };
    assert_eq!(files("sdb1"), 10, "two replicas of each object on sdb1");
    assert_eq!(files("sda1"), 0, "policy 1 uses no sda1 device");
    for (i, n) in nodes.iter().enumerate() {
        let t = n.token();
        let r = n.req("GET", "/v1/AUTH_test/s/o3", &[("X-Auth-Token", &t)], b"");
        assert_eq!(
            (r.status, r.body == pattern(503, 3)),
            (200, true),
            "node {i}"
        );
        let r = n.req("HEAD", "/v1/AUTH_test/s", &[("X-Auth-Token", &t)], b"");
        assert_eq!(r.header("X-Storage-Policy"), Some("silver"), "node {i}");
    }
    // Per-policy account totals reach every proxy from the account ring.
    for (i, n) in nodes.iter().enumerate() {
        wait_for("per-policy account totals", || {
            let t = n.token();
            let r = n.req("HEAD", "/v1/AUTH_test", &[("X-Auth-Token", &t)], b"");
            let got = (
                r.header("X-Account-Storage-Policy-silver-Object-Count"),
                r.header("X-Account-Storage-Policy-silver-Container-Count"),
            );
            (got == (Some("5"), Some("1")))
                .then_some(())
                .ok_or(format!("node {i}: {got:?}"))
        });
    }
    for (i, n) in nodes.iter().enumerate() {
        let (s, b) = get(n, "/v1/AUTH_test?format=json");
        let v: serde_json::Value = serde_json::from_str(&b).expect("json");
        assert_eq!(
            (s, &v[0]["storage_policy"]),
            (200, &serde_json::json!("silver")),
            "node {i}"
        );
    }
    for n in nodes {
        n.stop();
    }
}

/// This node's own replica fails before it has read the body (its device's
/// `tmp/` is gone): a handoff takes its place, as for an unreachable
/// remote primary, so the object still has three replicas.
#[test]
fn a_failed_local_replica_leaves_the_write_to_the_others() {
    let Layout {
        ring_dir,
        data,
        ports,
    } = Layout::new();
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| start_node(ring_dir.path(), data[i].path(), ports[i]))
        .collect();
    let tok = nodes[0].token();
    let r = nodes[0].req("PUT", "/v1/AUTH_test/c", &[("X-Auth-Token", &tok)], b"");
    assert_eq!(r.status, 201, "container PUT: {r:?}");
    let (_, prims) = placement(
        &ring_dir.path().join("object.ring.gz"),
        &["AUTH_test", "c", "o"],
    );
    let local_dev = prims
        .iter()
        .find(|(port, _)| *port == ports[0])
        .map(|(_, d)| d.clone())
        .expect("one replica on every node");
    let tmp = data[0].path().join(&local_dev).join("tmp");
    std::fs::remove_dir_all(&tmp).expect("remove tmp");
    std::fs::write(&tmp, b"not a directory").expect("block tmp");
    let body = pattern(700_000, 9);
    let r = nodes[0].req("PUT", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], &body);
    assert_eq!(r.status, 201, "{r:?}\n{}", nodes[0].log_tail(20));
    assert_eq!(r.header("etag"), Some(md5_hex(&body).as_str()));
    for node in &nodes[1..] {
        let tok = node.token();
        let g = node.req("GET", "/v1/AUTH_test/c/o", &[("X-Auth-Token", &tok)], b"");
        assert_eq!(g.status, 200, "{g:?}");
        assert!(g.body == body, "body differs");
    }
    let copies: usize = data.iter().map(|d| count_files(d.path(), ".data")).sum();
    assert_eq!(copies, 3, "two primaries and a handoff hold the object");
}

//! A cluster of paco nodes on loopback: four processes, rings with three
//! replicas built by paco's own builder, each node's proxy routing through
//! the rings to its peers' backend listeners. Writes succeed with a node
//! down, handoffs hold them, reads succeed from the rest, and the updates
//! the down node missed reach it from the async-pending queues.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NODES: usize = 4;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn ring_cmd(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_paco"))
        .current_dir(dir)
        .arg("ring")
        .args(args)
        .env_remove("PACO_CONFIG")
        .output()
        .expect("run paco ring");
    assert!(
        out.status.success(),
        "paco ring {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// object, container and account rings over the nodes' backend ports.
fn build_rings(dir: &Path, ports: &[u16]) {
    ring_cmd(dir, &["create", "6", "3", "1"]);
    for (i, p) in ports.iter().enumerate() {
        let dev = format!("r1z{}-127.0.0.1:{p}/sda1", i + 1);
        ring_cmd(dir, &["add", &dev, "100"]);
    }
    ring_cmd(dir, &["rebalance"]);
    ring_cmd(dir, &["write_ring", "-o", "object.ring.gz"]);
    for name in ["container.ring.gz", "account.ring.gz"] {
        std::fs::copy(dir.join("object.ring.gz"), dir.join(name)).expect("copy ring");
    }
}

fn start_node(ring_dir: &Path, data: &Path, port: u16) -> Node {
    let cfg = format!(
        "backend_bind = \"127.0.0.1:{port}\"\nupdater_interval_secs = 1\n\
         [cluster]\nswift_dir = \"{}\"\nconn_timeout_ms = 300\nnode_timeout_ms = 5000\n",
        ring_dir.display()
    );
    NodeOpts::new("epoll").config(&cfg).data_dir(data).start()
}

fn listing(node: &Node, tok: &str) -> (u16, String) {
    let r = node.req("GET", "/v1/AUTH_test/c", &[("X-Auth-Token", tok)], b"");
    (r.status, r.text())
}

#[test]
fn three_replicas_survive_a_node_down() {
    let ring_dir = tempfile::tempdir().expect("ring dir");
    let data: Vec<tempfile::TempDir> = (0..NODES)
        .map(|_| tempfile::tempdir().expect("data dir"))
        .collect();
    let ports: Vec<u16> = (0..NODES).map(|_| free_port()).collect();
    build_rings(ring_dir.path(), &ports);
    let mut nodes: Vec<Option<Node>> = (0..NODES)
        .map(|i| Some(start_node(ring_dir.path(), data[i].path(), ports[i])))
        .collect();

    let n0 = nodes[0].as_ref().expect("node 0");
    let tok0 = n0.token();
    let r = n0.req("PUT", "/v1/AUTH_test/c", &[("X-Auth-Token", &tok0)], b"");
    assert!(matches!(r.status, 201 | 202), "container PUT: {r:?}");

    // The container lives on three of the four nodes.
    let holders: Vec<usize> = (0..NODES)
        .filter(|&i| {
            let n = nodes[i].as_ref().expect("node");
            let t = n.token();
            n.req("HEAD", "/v1/AUTH_test/c", &[("X-Auth-Token", &t)], b"")
                .status
                == 204
        })
        .collect();
    assert_eq!(holders.len(), 3, "container replicas: {holders:?}");

    // All up: a write is readable through every container holder.
    let body = pattern(10_000, 7);
    let r = n0.req(
        "PUT",
        "/v1/AUTH_test/c/first",
        &[("X-Auth-Token", &tok0)],
        &body,
    );
    assert_eq!(r.status, 201, "{r:?}");
    for &i in &holders {
        let n = nodes[i].as_ref().expect("node");
        let t = n.token();
        let r = n.req("GET", "/v1/AUTH_test/c/first", &[("X-Auth-Token", &t)], b"");
        assert_eq!((r.status, r.body == body), (200, true), "node {i}");
    }

    // Stop a container holder that is not the proxy we use.
    let proxy = holders[0];
    let down = holders[1];
    let other = holders[2];
    let down_node = nodes[down].take().expect("down node");
    down_node.stop();

    let p = nodes[proxy].as_ref().expect("proxy");
    let tok = p.token();
    let names: Vec<String> = (0..12).map(|i| format!("obj-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let r = p.req(
            "PUT",
            &format!("/v1/AUTH_test/c/{name}"),
            &[("X-Auth-Token", &tok)],
            &pattern(3000 + i, i as u8),
        );
        assert_eq!(r.status, 201, "PUT {name} with a node down: {r:?}");
    }
    // Reads succeed from the nodes still up.
    for &i in &[proxy, other] {
        let n = nodes[i].as_ref().expect("node");
        let t = n.token();
        for (j, name) in names.iter().enumerate() {
            let r = n.req(
                "GET",
                &format!("/v1/AUTH_test/c/{name}"),
                &[("X-Auth-Token", &t)],
                b"",
            );
            assert_eq!(r.status, 200, "GET {name} from node {i}");
            assert!(r.body == pattern(3000 + j, j as u8), "body of {name}");
        }
    }
    // Objects whose primaries include the down node went to a handoff:
    // the fourth node, which holds no container, has object files.
    let spare = (0..NODES).find(|i| !holders.contains(i)).expect("spare");
    let spare_files = walk_files(&data[spare].path().join("sda1").join("objects"));
    assert!(
        !spare_files.is_empty(),
        "no handoff wrote to the spare node"
    );
    // Updates for the down container replica were queued.
    let pending: usize = (0..NODES)
        .filter(|&i| i != down)
        .map(|i| walk_files(&data[i].path().join("sda1").join("async_pending")).len())
        .sum();
    assert!(pending > 0, "no async pending for the down container");

    // The node returns; the updaters bring its listing up to date.
    let (_, want) = listing(p, &tok);
    nodes[down] = Some(start_node(ring_dir.path(), data[down].path(), ports[down]));
    for name in names.iter().chain(["first".to_string()].iter()) {
        assert!(want.contains(name.as_str()), "{name} missing from {want}");
    }
    let back = nodes[down].as_ref().expect("back");
    let tb = back.token();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = listing(back, &tb);
        if got == (200, want.clone()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "listing on the returned node never agreed: {got:?} vs {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = nodes[other].as_ref().expect("other");
    let to = o.token();
    assert_eq!(listing(o, &to), (200, want));
}

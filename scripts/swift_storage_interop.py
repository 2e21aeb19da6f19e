#!/usr/bin/env python3
"""A paco proxy in front of real Swift account, container and object servers.

Run with the conformance venv's Python (Swift 2.38.3 and python-swiftclient):

    .venv-conformance/bin/python scripts/swift_storage_interop.py --paco target/debug/paco

The other direction of scripts/swift_proxy_interop.py: starts Swift's
account-server, container-server and object-server (devices in a temp dir,
mount_check off), builds their rings with Swift's RingBuilder (the object ring
with two devices and two replicas, so paco's replicated writes and reads meet
Swift's object server), starts a paco node whose [cluster] swift_dir holds
those rings and none of its own devices, and drives paco's proxy with
python-swiftclient: container creation, uploads (small, 3 MiB, chunked, an
SLO by hand and one by swiftclient's segmented upload), byte-compared
downloads, ranged reads, metadata POST, conditional requests, X-Newest over a
lost and a stale replica, a server-side copy, expiry, listings with prefix and
delimiter, deletes. It also checks behind paco's back, on Swift's servers: the
object bytes, the tombstone, the container rows Swift's object servers sent
from the update headers paco chose, and the expiry queue entry. Prints one
line per check and a closing 'N passed, N failed' line; exits non-zero on any
failure. Every process it starts is stopped on the way out, on failure and on
SIGTERM too (and dies with it on SIGKILL).

Swift's object server keeps metadata in user xattrs, so the temp dir must be
on a filesystem that has them; the script says so and stops if it does not.
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import textwrap
import time
from urllib.parse import quote

from swiftclient import client as sc

import interop_common as ic
from interop_common import Run, die_with_parent, free_port, wait_port

PREFIX, SUFFIX = "storage-interop-pre", "storage-interop-suf"
SERVERS = ("account", "container", "object")


def has_user_xattrs(path):
    probe = os.path.join(path, "xattr-probe")
    with open(probe, "w"):
        pass
    try:
        os.setxattr(probe, "user.swift.probe", b"1")
        return os.getxattr(probe, "user.swift.probe") == b"1"
    except OSError:
        return False
    finally:
        os.unlink(probe)


LOGS = ("paco",) + SERVERS


def main():
    return ic.main(__doc__, "paco-swift-storage.", scenario, LOGS)


def start_swift_servers(work, procs):
    """Starts Swift's three storage servers, each in its own process;
    returns their ports and (name, process) pairs to wait for."""
    devices = os.path.join(work, "srv")
    for dev in ("sda1", "sdb1"):
        os.makedirs(os.path.join(devices, dev))
    if not has_user_xattrs(devices):
        raise RuntimeError(
            "%s has no user xattrs; Swift's object server needs them (set TMPDIR "
            "to a directory on ext4/xfs)" % devices)
    ports, started = {}, []
    for server in SERVERS:
        port = free_port()
        ports[server] = port
        conf = os.path.join(work, server + "-server.conf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent("""
                [DEFAULT]
                swift_dir = %(work)s
                devices = %(devices)s
                mount_check = false
                bind_ip = 127.0.0.1
                bind_port = %(port)d
                workers = 0
                user = %(user)s
                log_level = INFO
                [pipeline:main]
                pipeline = %(server)s-server
                [app:%(server)s-server]
                use = egg:swift#%(server)s
                [%(server)s-updater]
                [%(server)s-replicator]
                [%(server)s-auditor]
            """ % {"work": work, "devices": devices, "port": port,
                   "user": _user(), "server": server}))
        log = open(os.path.join(work, server + ".log"), "w")
        exe = os.path.join(os.path.dirname(sys.executable), "swift-%s-server" % server)
        p = subprocess.Popen([sys.executable, exe, conf, "-v"], stdout=log,
                             stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        procs.append(p)
        started.append((server, p))
    return ports, started


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def build_rings(work, ports):
    """The three rings, made by Swift's RingBuilder: the code behind
    swift-ring-builder's create, add, rebalance and write_ring, run in this
    process (nine swift-ring-builder runs, each importing Swift, took
    longer than all the checks on a loaded machine)."""
    from swift.common.ring import RingBuilder
    for ring in SERVERS:
        devs = ["sda1", "sdb1"] if ring == "object" else ["sda1"]
        b = RingBuilder(6, len(devs), 1)
        for i, dev in enumerate(devs):
            b.add_dev({"region": 1, "zone": i + 1, "ip": "127.0.0.1", "port": ports[ring],
                       "device": dev, "weight": 1})
        b.rebalance()
        b.save(os.path.join(work, ring + ".builder"))
        b.get_ring().save(os.path.join(work, ring + ".ring.gz"))


def start_paco(paco, work, procs):
    _, url = ic.start_paco(paco, work, procs, PREFIX, SUFFIX, free_port(), "paco-data",
                           '[cluster]\nswift_dir = "%s"\nnode_timeout_ms = 5000\n' % work)
    return url


def swift_backend(work, ring_name, names, query=""):
    """GETs straight from the first primary Swift server of `names` in
    `ring_name`; returns (status, headers, body)."""
    from swift.common.ring import Ring
    ring = Ring(work, ring_name=ring_name)
    part, nodes = ring.get_nodes(*names)
    node = nodes[0]
    path = quote("/%s/%d/%s" % (node["device"], part, "/".join(names)))
    c = http.client.HTTPConnection(node["ip"], node["port"], timeout=10)
    c.request("GET", path + query, headers={"X-Backend-Storage-Policy-Index": "0"})
    resp = c.getresponse()
    body = resp.read()
    c.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def swift_object(work, account, container, obj):
    """GETs an object straight from Swift's object server (first primary)."""
    status, _, body = swift_backend(work, "object", (account, container, obj))
    return status, body


def replica_dirs(work, account, container, obj):
    """The object's hash directories on Swift's devices, primaries in order."""
    from swift.common.ring import Ring
    from swift.common.utils import hash_path
    ring = Ring(work, ring_name="object")
    part, nodes = ring.get_nodes(account, container, obj)
    h = hash_path(account, container, obj)
    return [os.path.join(work, "srv", n["device"], "objects", str(part), h[-3:], h)
            for n in nodes]


def swift_listing(work, account, container):
    """The object rows of a container on Swift's container server."""
    status, _, body = swift_backend(work, "container", (account, container), "?format=json")
    return json.loads(body) if status == 200 else status


def scenario(paco, work, procs):
    ic.write_swift_conf(work, PREFIX, SUFFIX)
    from swift.common import utils
    utils.set_swift_dir(work)
    ports, started = start_swift_servers(work, procs)
    build_rings(work, ports)
    for server, p in started:
        wait_port(ports[server], p, "swift %s-server" % server)
    paco_url = start_paco(paco, work, procs)

    r = Run()
    conn = sc.Connection(authurl=paco_url + "/auth/v1.0", user="test:tester", key="testing",
                         retries=0)
    url, _ = conn.get_auth()
    account = url.rsplit("/", 1)[-1]

    conn.put_container("photos", headers={"X-Container-Meta-Owner": "me"})
    h = conn.head_container("photos")
    r.check("container PUT/HEAD with metadata", h.get("x-container-meta-owner") == "me", h)

    small = b"hello from paco's proxy"
    big = os.urandom(3 * 1024 * 1024 + 5)
    resp = {}
    etag = conn.put_object("photos", "cat/1.txt", small, content_type="text/plain",
                           headers={"X-Object-Meta-Color": "tabby"}, response_dict=resp)
    # Unquoted, as from paco's own object server (Swift's are quoted).
    r.check("small upload etag", etag == hashlib.md5(small).hexdigest()
            and resp["headers"].get("etag") == etag, resp["headers"])
    etag = conn.put_object("photos", "big.bin", big)
    r.check("3 MiB upload etag", etag == hashlib.md5(big).hexdigest(), etag)
    chunks = (big[i:i + 100000] for i in range(0, 400000, 100000))
    etag = conn.put_object("photos", "chunked.bin", chunks)
    r.check("chunked upload (no Content-Length)",
            etag == hashlib.md5(big[:400000]).hexdigest(), etag)

    h, body = conn.get_object("photos", "cat/1.txt")
    r.check("download", body == small and h.get("x-object-meta-color") == "tabby"
            and h.get("content-type") == "text/plain", h)
    h, body = conn.get_object("photos", "big.bin")
    leaked = [k for k in h if k.startswith(("x-backend-", "x-object-sysmeta-"))]
    r.check("no backend or sysmeta headers reach the client", not leaked, leaked)
    r.check("3 MiB download, byte for byte", body == big
            and h.get("etag") == hashlib.md5(big).hexdigest(), h)
    h, body = conn.get_object("photos", "big.bin", headers={"Range": "bytes=10-19"})
    r.check("ranged read", body == big[10:20]
            and h.get("content-range", "").startswith("bytes 10-19/"), h)
    h, body = conn.get_object("photos", "big.bin", headers={"Range": "bytes=0-0,-3"})
    r.check("multi-range read",
            h.get("content-type", "").startswith("multipart/byteranges")
            and big[:1] in body and big[-3:] in body, h)
    status, body = swift_object(work, account, "photos", "big.bin")
    r.check("Swift's object server holds what paco wrote", status == 200 and body == big, status)

    conn.post_object("photos", "cat/1.txt", headers={"X-Object-Meta-Color": "black"})
    h = conn.head_object("photos", "cat/1.txt")
    r.check("object POST metadata", h.get("x-object-meta-color") == "black", h)
    try:
        conn.get_object("photos", "cat/1.txt", headers={"If-None-Match": h["etag"]})
        r.check("conditional GET (If-None-Match)", False, "no 304")
    except sc.ClientException as e:
        r.check("conditional GET (If-None-Match)", e.http_status == 304, e)

    try:
        conn.put_object("photos", "cat/1.txt", b"clobber", headers={"If-None-Match": "*"})
        r.check("PUT If-None-Match: * on an existing object", False, "no 412")
    except sc.ClientException as e:
        r.check("PUT If-None-Match: * on an existing object", e.http_status == 412, e)
    try:
        conn.get_object("photos", "nope")
        r.check("GET of a missing object", False, "no 404")
    except sc.ClientException as e:
        r.check("GET of a missing object", e.http_status == 404, e)
    conn.put_object("photos", "over.txt", b"first")
    conn.put_object("photos", "over.txt", b"second version")
    h, body = conn.get_object("photos", "over.txt", headers={"X-Newest": "true"})
    r.check("overwrite, read with X-Newest", body == b"second version", body)
    # One replica lost (its files removed behind Swift's back), the other
    # stale: reads fall over to the replica that has the object, and
    # X-Newest picks the newer copy whichever answers first.
    import shutil
    first, second = replica_dirs(work, account, "photos", "over.txt")
    saved = os.path.join(work, "saved-replica")
    shutil.copytree(first, saved)
    shutil.rmtree(first)
    h, body = conn.get_object("photos", "over.txt")
    r.check("GET falls over when a replica is missing", body == b"second version", body)
    conn.put_object("photos", "over.txt", b"third version")
    shutil.rmtree(first)
    shutil.copytree(saved, first)  # first primary: "second version" again
    h, body = conn.get_object("photos", "over.txt", headers={"X-Newest": "true"})
    r.check("X-Newest picks the newer replica", body == b"third version", body)
    # Put it right (the replicator's job in a running cluster).
    shutil.rmtree(first)
    shutil.copytree(second, first)
    conn.put_object("photos", "copy.bin", None, headers={"X-Copy-From": "photos/big.bin"})
    h, body = conn.get_object("photos", "copy.bin")
    r.check("server-side copy of the 3 MiB object", body == big, len(body))

    # Names and metadata beyond ASCII survive the trip through paco's
    # backend paths and headers to Swift's object server and back.
    odd = "dir/\u00fcn\u00efcode name?&#%+;=.txt"
    conn.put_object("photos", odd, b"odd", headers={"X-Object-Meta-Who": "J\u00f6rg"})
    h, body = conn.get_object("photos", odd)
    r.check("odd object name and UTF-8 metadata", body == b"odd"
            and h.get("x-object-meta-who") == "J\u00f6rg", h)
    status, body = swift_object(work, account, "photos", odd)
    r.check("Swift's object server has the odd name", status == 200 and body == b"odd", status)
    conn.delete_object("photos", odd)
    try:
        conn.post_object("photos", "nope", headers={"X-Object-Meta-A": "b"})
        r.check("POST to a missing object", False, "no 404")
    except sc.ClientException as e:
        r.check("POST to a missing object", e.http_status == 404, e)

    # Expiry: Swift's object server queues it in the task container paco's
    # proxy names (the one Swift's own proxy would name), and stops
    # serving the object once it is due.
    conn.put_object("photos", "expiring.txt", b"soon gone", headers={"X-Delete-After": "3"})
    h = conn.head_object("photos", "expiring.txt")
    delete_at = int(h.get("x-delete-at", "0"))
    r.check("X-Delete-After becomes X-Delete-At", delete_at > time.time(), h)
    from swift.obj.expirer import ExpirerConfig
    from swift.common.ring import Ring
    exp = ExpirerConfig({}, container_ring=Ring(work, ring_name="container"))
    _, task_nodes, task = exp.get_delete_at_nodes(delete_at, account, "photos", "expiring.txt")
    rows = swift_listing(work, ".expiring_objects", task)
    want = "%010d-%s/photos/expiring.txt" % (delete_at, account)
    r.check("expiry queued in Swift's .expiring_objects/%s" % task,
            isinstance(rows, list) and [o["name"] for o in rows] == [want], rows)

    # Container updates reach Swift's container server (sent by Swift's
    # object servers to the hosts paco's proxy named), POST's new
    # Content-Type too.
    conn.post_object("photos", "over.txt", headers={"Content-Type": "text/x-over"})
    rows = swift_listing(work, account, "photos")
    got = {o["name"]: (o["bytes"], o["content_type"]) for o in rows} if isinstance(rows, list) else rows
    r.check("Swift's container server lists paco's writes",
            isinstance(got, dict) and got.get("big.bin") == (len(big), "application/octet-stream")
            and got.get("over.txt") == (len(b"third version"), "text/x-over")
            and set(got) == {"big.bin", "cat/1.txt", "chunked.bin", "copy.bin", "expiring.txt",
                             "over.txt"}, got)

    # A segmented large object: segments and an SLO manifest.
    conn.put_container("photos_segments")
    seg_data = [os.urandom(1024 * 1024 + i) for i in range(3)]
    manifest = []
    for i, data in enumerate(seg_data):
        name = "movie/%03d" % i
        e = conn.put_object("photos_segments", name, data)
        manifest.append({"path": "/photos_segments/" + name, "etag": e, "size_bytes": len(data)})
    conn.put_object("photos", "movie.mp4", json.dumps(manifest),
                    query_string="multipart-manifest=put")
    whole = b"".join(seg_data)
    h, body = conn.get_object("photos", "movie.mp4")
    r.check("SLO download, byte for byte", body == whole
            and h.get("x-static-large-object") == "True", len(body))
    h, body = conn.get_object("photos", "movie.mp4",
                              headers={"Range": "bytes=%d-%d" % (len(whole) - 2000000, len(whole) - 1)})
    r.check("SLO ranged read across segments", body == whole[-2000000:], len(body))

    wait = delete_at + 1 - time.time()
    if wait > 0:
        time.sleep(wait)
    try:
        conn.get_object("photos", "expiring.txt")
        r.check("expired object is gone", False, "still served")
    except sc.ClientException as e:
        r.check("expired object is gone", e.http_status == 404, e)
    try:
        # No expirer runs here: the tombstone keeps it out of the listings.
        conn.delete_object("photos", "expiring.txt")
    except sc.ClientException as e:
        if e.http_status != 404:
            raise

    # python-swiftclient's own segmented upload (what `swift upload
    # --use-slo -S` does) and download.
    from swiftclient.service import SwiftService, SwiftUploadObject
    src = os.path.join(work, "upload.bin")
    data = os.urandom(2 * 1024 * 1024 + 777)
    with open(src, "wb") as f:
        f.write(data)
    opts = {"auth": paco_url + "/auth/v1.0", "user": "test:tester", "key": "testing",
            "auth_version": "1.0", "retries": 0}
    with SwiftService(options=opts) as svc:
        results = list(svc.upload("movies", [SwiftUploadObject(src, object_name="clip.bin")],
                                  options={"segment_size": 512 * 1024, "use_slo": True}))
        errors = [x.get("error") for x in results if not x.get("success")]
        r.check("swiftclient segmented SLO upload", not errors, errors)
        out = os.path.join(work, "download.bin")
        got = list(svc.download("movies", ["clip.bin"], options={"out_file": out}))
        ok = all(x.get("success") for x in got) and open(out, "rb").read() == data
        r.check("swiftclient SLO download, byte for byte", ok,
                [x.get("error") for x in got])
        segs = list(svc.list("movies_segments"))
        n = sum(len(page.get("listing", [])) for page in segs if page.get("success"))
        r.check("the upload's segments are listed", n == 5, n)
        results = list(svc.delete("movies", ["clip.bin"]))
        r.check("swiftclient delete of the SLO and its segments",
                all(x.get("success") for x in results), results)
    conn.delete_container("movies")
    conn.delete_container("movies_segments")

    _, listing = conn.get_container("photos")
    names = [o["name"] for o in listing]
    r.check("container listing",
            names == ["big.bin", "cat/1.txt", "chunked.bin", "copy.bin", "movie.mp4", "over.txt"],
            names)
    sizes = {o["name"]: o["bytes"] for o in listing}
    r.check("listing sizes from Swift's container updates",
            sizes.get("big.bin") == len(big) and sizes.get("cat/1.txt") == len(small), sizes)
    _, listing = conn.get_container("photos", delimiter="/")
    r.check("listing with delimiter",
            [o.get("name") or o.get("subdir") for o in listing]
            == ["big.bin", "cat/", "chunked.bin", "copy.bin", "movie.mp4", "over.txt"], listing)
    _, listing = conn.get_container("photos", prefix="cat/")
    r.check("listing with prefix", [o["name"] for o in listing] == ["cat/1.txt"], listing)
    h, containers = conn.get_account()
    r.check("account listing", [c["name"] for c in containers] == ["photos", "photos_segments"],
            containers)

    conn.delete_object("photos", "movie.mp4", query_string="multipart-manifest=delete")
    _, segs = conn.get_container("photos_segments")
    r.check("SLO delete removes the segments", segs == [], segs)
    for name in ("cat/1.txt", "big.bin", "chunked.bin", "copy.bin", "over.txt"):
        conn.delete_object("photos", name)
    try:
        conn.head_object("photos", "big.bin")
        r.check("object DELETE", False, "still there")
    except sc.ClientException as e:
        r.check("object DELETE", e.http_status == 404, e)
    status, _ = swift_object(work, account, "photos", "big.bin")
    r.check("Swift's object server has the tombstone", status == 404, status)
    _, listing = conn.get_container("photos")
    r.check("listing empty after deletes", listing == [], listing)
    conn.delete_container("photos")
    conn.delete_container("photos_segments")
    _, containers = conn.get_account()
    r.check("container DELETE", containers == [], containers)

    return r.finish("swift storage interop", work, LOGS)


if __name__ == "__main__":
    sys.exit(main())

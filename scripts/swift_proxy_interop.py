#!/usr/bin/env python3
"""A real Swift proxy in front of a paco node's backend listener.

Run with the conformance venv's Python (Swift 2.38.3 and python-swiftclient):

    .venv-conformance/bin/python scripts/swift_proxy_interop.py --paco target/debug/paco

Starts a paco node with `backend_bind`, builds account, container and
object rings with the real swift-ring-builder pointing at that listener,
starts Swift's proxy-server (tempauth, account autocreate) on them, and
drives it with python-swiftclient: account and container creation,
uploads (small and 2 MiB), downloads, ranged reads, metadata, listings with
prefix and delimiter, deletes. Objects written through the Swift proxy must
be readable through paco's own API too. Prints one line per check and a
closing 'N passed, N failed' line; exits non-zero on any failure.
"""

import hashlib
import os
import subprocess
import sys
import textwrap

from swiftclient import client as sc

import interop_common as ic
from interop_common import Run, die_with_parent, free_port, wait_port

PREFIX, SUFFIX = "proxy-interop-pre", "proxy-interop-suf"


LOGS = ("paco", "proxy")


PROXY_MAIN = textwrap.dedent("""
    import sys
    import eventlet
    eventlet.monkey_patch()
    import eventlet.wsgi
    from swift.common import utils
    utils.set_swift_dir(sys.argv[1])
    from swift.common.wsgi import loadapp
    inner = loadapp(sys.argv[2])

    class DictCache:
        # Stands in for memcached (tempauth tokens, proxy info caching) in
        # this one-process proxy; the thing under test is paco, not memcache.
        def __init__(self):
            self.d = {}
        def get(self, key, **kw):
            return self.d.get(key)
        def set(self, key, value, serialize=True, time=0, **kw):
            self.d[key] = value
        def incr(self, key, delta=1, time=0, **kw):
            self.d[key] = self.d.get(key, 0) + delta
            return self.d[key]
        def decr(self, key, delta=1, time=0, **kw):
            return self.incr(key, -delta)
        def delete(self, key, **kw):
            self.d.pop(key, None)
        def get_multi(self, keys, server_key, **kw):
            return [self.d.get(k) for k in keys]
        def set_multi(self, mapping, server_key, serialize=True, time=0, **kw):
            self.d.update(mapping)

    cache = DictCache()

    def app(env, start_response):
        env["swift.cache"] = cache
        return inner(env, start_response)

    sock = eventlet.listen(("127.0.0.1", int(sys.argv[3])))
    eventlet.wsgi.server(sock, app, log=open(sys.argv[4], "a"))
""")


def main():
    return ic.main(__doc__, "paco-swift-proxy.", scenario, LOGS)


def scenario(paco, work, procs):
    backend_port, proxy_port = free_port(), free_port()
    ic.write_swift_conf(work, PREFIX, SUFFIX)
    node, paco_url = ic.start_paco(paco, work, procs, PREFIX, SUFFIX, backend_port, "data")
    wait_port(backend_port, node, "paco backend listener")

    srb = os.path.join(os.path.dirname(sys.executable), "swift-ring-builder")
    for ring in ("account", "container", "object"):
        b = os.path.join(work, ring + ".builder")
        subprocess.run([srb, b, "create", "8", "1", "1"], check=True, capture_output=True)
        subprocess.run([srb, b, "add", "r1z1-127.0.0.1:%d/sda1" % backend_port, "1"],
                       check=True, capture_output=True)
        subprocess.run([srb, b, "rebalance"], capture_output=True)
        if not os.path.exists(os.path.join(work, ring + ".ring.gz")):
            raise RuntimeError("swift-ring-builder wrote no %s ring" % ring)

    conf = os.path.join(work, "proxy-server.conf")
    with open(conf, "w") as f:
        f.write(textwrap.dedent("""
            [DEFAULT]
            swift_dir = %s
            [pipeline:main]
            pipeline = catch_errors proxy-logging tempauth proxy-logging proxy-server
            [app:proxy-server]
            use = egg:swift#proxy
            account_autocreate = true
            [filter:tempauth]
            use = egg:swift#tempauth
            user_test_tester = testing .admin
            [filter:catch_errors]
            use = egg:swift#catch_errors
            [filter:proxy-logging]
            use = egg:swift#proxy_logging
        """ % work))
    proxy_log = os.path.join(work, "proxy.log")
    proxy = subprocess.Popen([sys.executable, "-c", PROXY_MAIN, work, conf, str(proxy_port), proxy_log],
                             stdout=open(proxy_log, "a"), stderr=subprocess.STDOUT,
                             preexec_fn=die_with_parent)
    procs.append(proxy)
    wait_port(proxy_port, proxy, "swift proxy")

    r = Run()
    url, token = sc.get_auth("http://127.0.0.1:%d/auth/v1.0" % proxy_port, "test:tester", "testing")
    conn = sc.Connection(preauthurl=url, preauthtoken=token, retries=0)
    head = conn.head_account()
    r.check("account autocreated by the Swift proxy on paco", "x-account-container-count" in head, head)
    conn.put_container("photos", headers={"X-Container-Meta-Owner": "me"})
    h = conn.head_container("photos")
    r.check("container PUT/HEAD with metadata", h.get("x-container-meta-owner") == "me", h)
    small = b"hello from a swift proxy"
    big = os.urandom(2 * 1024 * 1024 + 3)
    etag = conn.put_object("photos", "cat/1.txt", small, content_type="text/plain",
                           headers={"X-Object-Meta-Color": "tabby"})
    r.check("small upload etag", etag == hashlib.md5(small).hexdigest(), etag)
    etag = conn.put_object("photos", "big.bin", big)
    r.check("2 MiB upload etag", etag == hashlib.md5(big).hexdigest(), etag)
    h, body = conn.get_object("photos", "cat/1.txt")
    r.check("download", body == small and h.get("x-object-meta-color") == "tabby", h)
    h, body = conn.get_object("photos", "big.bin")
    r.check("2 MiB download", body == big)
    h, body = conn.get_object("photos", "big.bin", headers={"Range": "bytes=10-19"})
    r.check("ranged read", body == big[10:20] and h.get("content-range", "").startswith("bytes 10-19/"), h)
    conn.post_object("photos", "cat/1.txt", headers={"X-Object-Meta-Color": "black"})
    h = conn.head_object("photos", "cat/1.txt")
    r.check("object POST metadata", h.get("x-object-meta-color") == "black", h)
    _, listing = conn.get_container("photos")
    names = [o["name"] for o in listing]
    r.check("container listing", names == ["big.bin", "cat/1.txt"], names)
    _, listing = conn.get_container("photos", delimiter="/")
    r.check("listing with delimiter",
            [o.get("name") or o.get("subdir") for o in listing] == ["big.bin", "cat/"], listing)
    _, listing = conn.get_container("photos", prefix="cat/")
    r.check("listing with prefix", [o["name"] for o in listing] == ["cat/1.txt"], listing)
    h, containers = conn.get_account()
    r.check("account listing", [c["name"] for c in containers] == ["photos"], containers)
    # paco's own API sees what the Swift proxy wrote.
    pconn = sc.Connection(authurl=paco_url + "/auth/v1.0", user="test:tester", key="testing",
                          retries=0)
    purl, ptok = pconn.get_auth()
    # Same account name on both sides (tempauth's AUTH_test).
    path_account = url.rsplit("/", 1)[-1]
    h, body = sc.get_object(purl.rsplit("/", 1)[0] + "/" + path_account, ptok, "photos", "cat/1.txt")
    r.check("paco's API reads the object the Swift proxy wrote", body == small, h)
    conn.delete_object("photos", "cat/1.txt")
    conn.delete_object("photos", "big.bin")
    try:
        conn.head_object("photos", "big.bin")
        r.check("object DELETE", False, "still there")
    except sc.ClientException as e:
        r.check("object DELETE", e.http_status == 404, e)
    conn.delete_container("photos")
    _, containers = conn.get_account()
    r.check("container DELETE", containers == [], containers)

    return r.finish("swift proxy interop", work, LOGS)


if __name__ == "__main__":
    sys.exit(main())

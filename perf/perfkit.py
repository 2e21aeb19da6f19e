"""Shared machinery for perf/compare.py and perf/check.py.

Starts the servers under test (paco, a real OpenStack Swift all-in-one,
nginx with WebDAV) on loopback with free ports and temp dirs, pinned to one
CPU; runs `paco bench` and wrk against them; measures the physical limits
of the machine with public tools (fio, iperf3, openssl, a small
create+fsync+rename loop). Everything started here is stopped by
`Stack.close()`, which `with Stack(...)` and signal handlers guarantee.

Only the Python standard library is used, so the check can run with any
python3; the Swift servers run from the venv built by perf/setup.sh.
"""

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


_T0 = time.time()


def log(msg):
    print(f"perf: [{time.time() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def free_port():
    """A port nothing listens on right now (the server binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def taskset(cpu):
    """Command prefix pinning to `cpu` (None: no pinning)."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[11]) + int(fields[12])  # ppid, utime+stime
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu_seconds(root_pids):
    """CPU seconds (user + system) used so far by these processes and all
    their descendants."""
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                table[int(d)] = st
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, list(root_pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total / CLK_TCK


class Server:
    """A process (with its own process group) started by this module."""

    def __init__(self, name, cmd, cpu, log_path, env=None, cwd=None):
        self.name = name
        self.log_path = log_path
        self.logf = open(log_path, "wb")
        self.proc = subprocess.Popen(
            taskset(cpu) + cmd,
            stdout=subprocess.PIPE,
            stderr=self.logf,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.logf.close()


class Target:
    """Something `paco bench` can drive: name, bench arguments, CPU probe."""

    name = "?"
    bench_args = []
    pids = []

    def cpu_seconds(self):
        return tree_cpu_seconds(self.pids)

    def url_prefix(self):
        """Where objects of container C live, for wrk: `<prefix>/C/name`."""
        raise NotImplementedError

    def token(self):
        return None


class Paco(Target):
    name = "paco"

    def __init__(self, stack, binary, cpu):
        d = stack.mkdir("paco")
        srv = stack.start(
            "paco",
            [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", f"{d}/data",
             "--workers", "1", "--log", "warn"]
            # paco pins worker i to CPU i; the whole process is pinned by
            # taskset instead, so it stays on the server CPU.
            + (["--no-pin"] if cpu is not None else []),
            cpu,
        )
        line = srv.proc.stdout.readline().decode()
        m = re.search(r"listening on http://[\d.]+:(\d+)", line)
        if not m:
            raise RuntimeError(f"paco did not start: {line!r}, see {srv.log_path}")
        self.port = int(m.group(1))
        self.pids = [srv.proc.pid]
        self.data_dir = f"{d}/data"
        self.auth = f"http://127.0.0.1:{self.port}/auth/v1.0"
        self.bench_args = ["-A", self.auth, "-U", "test:tester", "-K", "testing"]
        self._token = None

    def token(self):
        if self._token is None:
            self._token = tempauth_token(self.auth)[0]
        return self._token

    def url_prefix(self):
        return f"http://127.0.0.1:{self.port}/v1/AUTH_test"


def tempauth_token(auth_url, user="test:tester", key="testing"):
    req = urllib.request.Request(auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]


SWIFT_PROXY_PIPELINE = (
    # proxy-server.conf-sample's pipeline, as an operator deploys it
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
    "container_sync bulk tempurl ratelimit tempauth copy container-quotas "
    "account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server"
)


class SwiftAIO(Target):
    """Real OpenStack Swift, single node, one replica, tempauth, memcached:
    four WSGI servers (one worker each) pinned with memcached to `cpu`."""

    name = "swift"

    def __init__(self, stack, venv, cpu, part_power=10):
        d = stack.mkdir("swift")
        etc, dev = f"{d}/etc", f"{d}/srv"
        os.makedirs(etc)
        os.makedirs(f"{dev}/sdb1")
        check_xattrs(dev)
        binp = f"{venv}/bin"
        env = dict(os.environ, PATH=f"{binp}:{os.environ.get('PATH', '')}")
        ports = {k: free_port() for k in ("proxy", "account", "container", "object", "memcache")}
        with open(f"{etc}/swift.conf", "w") as f:
            f.write(
                "[swift-hash]\nswift_hash_path_suffix = perf\nswift_hash_path_prefix = perf\n\n"
                "[storage-policy:0]\nname = one-replica\ndefault = yes\n"
            )
        common = (
            f"[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 1\nswift_dir = {etc}\n"
            f"user = {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"devices = {dev}\nmount_check = false\n"
            # per-request access logging off: no syslog daemon here, and it
            # only makes Swift slower (this errs in Swift's favour)
            "log_level = WARNING\n"
        )
        for kind in ("account", "container", "object"):
            with open(f"{etc}/{kind}-server.conf", "w") as f:
                f.write(
                    common + f"bind_port = {ports[kind]}\n\n"
                    f"[pipeline:main]\npipeline = healthcheck {kind}-server\n\n"
                    f"[app:{kind}-server]\nuse = egg:swift#{kind}\n\n"
                    "[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
                )
            builder = f"{etc}/{kind}.builder"
            for args in (
                ["create", str(part_power), "1", "1"],
                ["add", f"r1z1-127.0.0.1:{ports[kind]}/sdb1", "100"],
                ["rebalance"],
            ):
                r = subprocess.run([f"{binp}/swift-ring-builder", builder] + args,
                                   env=env, capture_output=True, text=True)
                # rebalance exits 1 with a warning on a one-device ring
                if r.returncode not in (0, 1):
                    raise RuntimeError(f"swift-ring-builder {args}: {r.stdout}{r.stderr}")
        # filter name -> extra lines; the egg entry point is the name with
        # "-" as "_" (memcache is the one exception)
        extras = {
            "cache": f"memcache_servers = 127.0.0.1:{ports['memcache']}\n",
            "tempauth": "user_admin_admin = admin .admin .reseller_admin\n"
                        "user_test_tester = testing .admin\n",
        }
        with open(f"{etc}/proxy-server.conf", "w") as f:
            f.write(common + f"bind_port = {ports['proxy']}\n\n"
                    f"[pipeline:main]\npipeline = {SWIFT_PROXY_PIPELINE}\n\n"
                    "[app:proxy-server]\nuse = egg:swift#proxy\n"
                    "account_autocreate = true\nallow_account_management = true\n"
                    # One core serving 64 concurrent 64 MiB streams is slow,
                    # not broken: let requests queue instead of timing out,
                    # and never error-limit the only node (Swift's defaults
                    # would answer 503 for a minute after an overload).
                    # Both err in Swift's favour.
                    "conn_timeout = 10\nnode_timeout = 120\nrecoverable_node_timeout = 120\n"
                    "client_timeout = 120\nerror_suppression_limit = 1000000\n\n")
            for name in sorted(set(SWIFT_PROXY_PIPELINE.split()) - {"proxy-server"}):
                egg = "memcache" if name == "cache" else name.replace("-", "_")
                f.write(f"[filter:{name}]\nuse = egg:swift#{egg}\n{extras.get(name, '')}\n")
        mc = stack.start("memcached", ["memcached", "-l", "127.0.0.1", "-p", str(ports["memcache"]),
                                       "-U", "0", "-m", "64", "-t", "1", "-u", "root"], cpu)
        self.pids = [mc.proc.pid]
        for kind in ("account", "container", "object", "proxy"):
            srv = stack.start(f"swift-{kind}", [f"{binp}/swift-{kind}-server",
                                                 f"{etc}/{kind}-server.conf"], cpu, env=env)
            self.pids.append(srv.proc.pid)
            wait_port(ports[kind], srv.proc, f"swift-{kind}-server")
        self.port = ports["proxy"]
        self.auth = f"http://127.0.0.1:{self.port}/auth/v1.0"
        self.bench_args = ["-A", self.auth, "-U", "test:tester", "-K", "testing"]
        self._token = None
        # The first request creates the account (autocreate). A server can
        # listen before its WSGI app is ready, and a busy machine makes the
        # proxy's first backend requests fail: retry a 5xx for a while.
        tok, url = tempauth_token(self.auth)
        for attempt in range(20):
            req = urllib.request.Request(url + "/warmup", method="PUT",
                                         headers={"X-Auth-Token": tok})
            try:
                urllib.request.urlopen(req, timeout=30).close()
                break
            except urllib.error.HTTPError as e:
                if e.code < 500 or attempt == 19:
                    raise
                time.sleep(0.5)

    def token(self):
        if self._token is None:
            self._token = tempauth_token(self.auth)[0]
        return self._token

    def url_prefix(self):
        return f"http://127.0.0.1:{self.port}/v1/AUTH_test"


def check_xattrs(path):
    try:
        os.setxattr(path, "user.perf", b"1")
        os.removexattr(path, "user.perf")
    except OSError as e:
        raise RuntimeError(f"{path} has no user xattrs ({e}); Swift needs them. "
                           "Set PERF_TMP to a directory on ext4/xfs.") from e


class Nginx(Target):
    """nginx as the practical HTTP upper bound: one worker, sendfile for GET,
    WebDAV PUT (no fsync: not durable) into the same tree it serves."""

    name = "nginx"

    def __init__(self, stack, cpu):
        d = stack.mkdir("nginx")
        self.root = f"{d}/www"
        os.makedirs(self.root)
        self.port = free_port()
        conf = f"{d}/nginx.conf"
        with open(conf, "w") as f:
            f.write(f"""user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location / {{
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            dav_access user:rw;
        }}
    }}
}}
""")
        srv = stack.start("nginx", ["nginx", "-c", conf, "-p", d], cpu)
        wait_port(self.port, srv.proc, "nginx")
        self.pids = [srv.proc.pid]
        self.bench_args = ["-A", "none", "--url", f"http://127.0.0.1:{self.port}/"]

    def url_prefix(self):
        return f"http://127.0.0.1:{self.port}"


TRASH_SUFFIX = ".trash"
# ext4 without a journal will not reuse an inode within 60 s of its
# deletion (RECENTCY_MIN in fs/ext4/ialloc.c; 300 s more while its inode
# table block is still dirty, which writeback ends within about 35 s), plus
# a margin.
DELETION_SETTLE_SECS = 65


class Stack:
    """Owns a temp dir and every process started for a run."""

    def __init__(self, prefix="paco-perf-", background_cleanup=False):
        base = os.environ.get("PERF_TMP") or tempfile.gettempdir()
        # Removing tens of thousands of small files takes up to a minute on
        # a busy disk; the gate hands that to a detached, idle-priority rm.
        # That rm competes with the next run's PUT references (the raw
        # create loop suffers far more than paco), so a new run first
        # finishes whatever an earlier run left behind.
        self.background_cleanup = background_cleanup
        self._finish_earlier_cleanup(base, prefix)
        self.started = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=base)
        self.servers = []
        self._closed = False
        self._note("dir", self.dir)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    @staticmethod
    def _finish_earlier_cleanup(base, prefix):
        trash = [os.path.join(base, n) for n in os.listdir(base)
                 if n.startswith(prefix) and n.endswith(TRASH_SUFFIX)]
        for d in trash:
            log(f"finishing an earlier run's cleanup of {d}")
            shutil.rmtree(d, ignore_errors=True)
        if trash:
            subprocess.run(["sync"], check=False)

    def settle_after_deletions(self, secs=DELETION_SETTLE_SECS):
        """Waits until `secs` have passed since this run started.

        On ext4 without a journal, the inode allocator steps over every free
        inode deleted in the last minute (`recently_deleted`), one buffer
        cache lookup each: after mass deletions a create takes about 1 ms
        instead of 60-90 us. Whatever ran just before (an earlier run's
        cleanup, a test suite removing its temp dirs) would otherwise set
        the PUT rates."""
        left = secs - (time.monotonic() - self.started)
        if left > 0:
            log(f"waiting {left:.0f} s for recent deletions to settle before the PUT phase")
            time.sleep(left)

    def _on_signal(self, signum, _frame):
        self.close()
        sys.exit(128 + signum)

    @staticmethod
    def _note(kind, value):
        """Records what was started in $PERF_PIDFILE, so that the calling
        shell script's trap can stop it even if this process is killed."""
        path = os.environ.get("PERF_PIDFILE")
        if path:
            with open(path, "a") as f:
                f.write(f"{kind} {value}\n")

    def mkdir(self, name):
        p = os.path.join(self.dir, name)
        os.makedirs(p, exist_ok=True)
        return p

    def start(self, name, cmd, cpu, env=None):
        s = Server(name, cmd, cpu, os.path.join(self.dir, f"{name}.log"), env=env)
        self.servers.append(s)
        self._note("pgid", s.proc.pid)
        return s

    def close(self):
        if self._closed:
            return
        self._closed = True
        for s in reversed(self.servers):
            s.stop()
        if os.environ.get("PERF_KEEP_TMP"):
            log(f"kept {self.dir}")
        elif self.background_cleanup and shutil.which("rm"):
            # renamed first, so the next run can tell it is garbage
            trash = self.dir + TRASH_SUFFIX
            os.rename(self.dir, trash)
            log(f"removing {trash} in the background")
            subprocess.Popen(["nice", "-n", "19", "ionice", "-c", "3", "rm", "-rf", trash],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        else:
            log(f"removing {self.dir}")
            shutil.rmtree(self.dir, ignore_errors=True)
        # the calling script's trap leaves the dir alone from here on
        self._note("closed", self.dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- load


def paco_bench(binary, target, args, cpu, timeout=900):
    """Runs `paco bench --json` against `target` (one load thread on `cpu`)
    and adds the server's CPU use during the run."""
    cmd = taskset(cpu) + [binary, "bench", "--json", "--threads", "1"] + target.bench_args + args
    c0, t0 = target.cpu_seconds(), time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    c1, t1 = target.cpu_seconds(), time.time()
    if r.returncode != 0:
        raise RuntimeError(f"paco bench {' '.join(args)} against {target.name} failed: "
                           f"{r.stderr.strip()[-2000:]}")
    out = json.loads(r.stdout)
    util = (c1 - c0) / max(t1 - t0, 1e-9)
    out["server_cpu_cores"] = util
    ops = out["total"]["ops_per_s"]
    # warm-up and measurement run at the same rate, so CPU time per op is
    # the CPU share over the whole run divided by the measured rate
    out["server_cpu_us_per_op"] = util / ops * 1e6 if ops else None
    return out


def _wrk_time_us(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s.strip())
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[m.group(2)]


def wrk_get(target, container, objects, conns, duration, cpu, workdir):
    """wrk (an independent load generator, closed loop like paco bench) doing
    GETs of objects o0000000000.. in `container`, one thread on `cpu`."""
    script = os.path.join(workdir, f"wrk-{target.name}.lua")
    tok = target.token()
    hdr = f'["X-Auth-Token"] = "{tok}"' if tok else ""
    prefix = f"{target.url_prefix()}/{container}"
    path_prefix = "/" + prefix.split("/", 3)[3] if prefix.count("/") >= 3 else ""
    with open(script, "w") as f:
        f.write(f"""local n = {objects}
local headers = {{ {hdr} }}
request = function()
  return wrk.format("GET", string.format("{path_prefix}/o%010d", math.random(0, n - 1)), headers)
end
""")
    base = prefix.split("/", 3)
    url = f"{base[0]}//{base[2]}/"
    cmd = taskset(cpu) + ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", script, url]
    c0, t0 = target.cpu_seconds(), time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    c1, t1 = target.cpu_seconds(), time.time()
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    text = r.stdout
    res = {"tool": "wrk", "connections": conns, "duration_s": duration, "raw": text}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    res["ops_per_s"] = float(m.group(1)) if m else None
    lat = {}
    for q, key in (("50%", "p50"), ("75%", "p75"), ("90%", "p90"), ("99%", "p99")):
        m = re.search(rf"^\s*{re.escape(q)}\s+(\S+)", text, re.M)
        if m:
            lat[key] = _wrk_time_us(m.group(1))
    res["latency_us"] = lat
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", text)
    res["socket_errors"] = m.group(0) if m else None
    res["server_cpu_cores"] = (c1 - c0) / max(t1 - t0, 1e-9)
    return res


# ---------------------------------------------------------------- limits


_DURABLE = r"""
import os, sys, threading, time
d, threads, secs, size = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
data = os.urandom(size)
counts = [0] * threads
stop = time.time() + secs
def work(t):
    sub = os.path.join(d, f"t{t}")
    os.makedirs(sub)
    dfd = os.open(sub, os.O_RDONLY)
    i = 0
    while time.time() < stop:
        tmp, final = os.path.join(sub, f".tmp{i}"), os.path.join(sub, f"f{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fdatasync(fd)
        os.close(fd)
        os.rename(tmp, final)
        os.fsync(dfd)
        i += 1
    counts[t] = i
    os.close(dfd)
start = time.time()
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(counts) / (time.time() - start))
"""


def durable_create_rate(workdir, threads, secs=3.0, size=4096, cpu=None):
    """Files/s for write 4 KiB + fdatasync + rename + fsync(dir), in fresh
    directories, `threads` threads in one process (fsync releases the GIL).
    The files stay in `workdir` (removed with it): deleting them here would
    slow the next measurement (ext4 is slow to reuse freed inodes)."""
    d = tempfile.mkdtemp(prefix="durable-", dir=workdir)
    r = subprocess.run(taskset(cpu) + [sys.executable, "-c", _DURABLE, d, str(threads),
                                       str(secs), str(size)],
                       capture_output=True, text=True, check=True, timeout=secs + 120)
    return float(r.stdout.strip())


def fio_limits(workdir, secs=5):
    """fio with io_uring on the data disk: sequential 1 MiB write and read
    with O_DIRECT (QD 16), and 4 KiB writes with an fdatasync after each
    (QD 1): the disk's durable small-write rate."""
    if not shutil.which("fio"):
        return {"error": "fio not installed"}
    f = os.path.join(workdir, "fio.dat")
    common = ["fio", "--output-format=json", f"--filename={f}", "--size=1G",
              "--ioengine=io_uring", "--time_based", f"--runtime={secs}", "--group_reporting"]
    jobs = {
        "seq_write_1m": ["--name=w", "--rw=write", "--bs=1M", "--direct=1", "--iodepth=16"],
        "seq_read_1m": ["--name=r", "--rw=read", "--bs=1M", "--direct=1", "--iodepth=16"],
        "write_4k_fdatasync_qd1": ["--name=s", "--rw=write", "--bs=4k", "--iodepth=1",
                                   "--fdatasync=1"],
    }
    out = {}
    try:
        for name, args in jobs.items():
            r = subprocess.run(common + args, capture_output=True, text=True, timeout=secs + 120)
            if r.returncode != 0:
                out[name] = {"error": r.stderr.strip()[-500:]}
                continue
            j = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
            side = j["read"] if "read" in name else j["write"]
            out[name] = {"mb_per_s": side["bw_bytes"] / 1e6, "iops": side["iops"],
                         "lat_p50_us": side["clat_ns"]["percentile"].get("50.000000", 0) / 1e3,
                         "lat_p99_us": side["clat_ns"]["percentile"].get("99.000000", 0) / 1e3}
            if name == "write_4k_fdatasync_qd1":
                sync = j.get("sync", {}).get("lat_ns", {}).get("percentile", {})
                out[name]["fdatasync_p50_us"] = sync.get("50.000000", 0) / 1e3
    finally:
        try:
            os.unlink(f)
        except OSError:
            pass
    return out


def loopback_tcp(server_cpu, client_cpu, secs=3):
    """iperf3, one stream over loopback, server and client on their CPUs."""
    if not shutil.which("iperf3"):
        return {"error": "iperf3 not installed"}
    port = free_port()
    srv = subprocess.Popen(taskset(server_cpu) + ["iperf3", "-s", "-1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        # a bare probe connection would use up the one-off (-1) server, so
        # the client itself retries until the server listens
        for _ in range(50):
            r = subprocess.run(taskset(client_cpu) + ["iperf3", "-c", "127.0.0.1", "-p", str(port),
                                                      "-t", str(secs), "-J"],
                               capture_output=True, text=True, timeout=secs + 30)
            j = json.loads(r.stdout or "{}")
            if "refused" not in str(j.get("error", "")):
                break
            time.sleep(0.1)
        if "error" in j or "end" not in j:
            return {"error": j.get("error", r.stderr.strip())}
        return {"gb_per_s": j["end"]["sum_received"]["bits_per_second"] / 8e9}
    finally:
        if srv.poll() is None:
            os.killpg(srv.pid, signal.SIGTERM)
        srv.wait()


def md5_speed(cpu, secs=2):
    """Single-core MD5 throughput: openssl speed (1 MiB blocks) and Python's
    hashlib (also OpenSSL) over a 64 MiB buffer."""
    out = {}
    if shutil.which("openssl"):
        r = subprocess.run(taskset(cpu) + ["openssl", "speed", "-seconds", str(secs), "-bytes",
                                           "1048576", "-evp", "md5"],
                           capture_output=True, text=True, timeout=secs + 60)
        m = re.search(r"^md5\s+([\d.]+)k", r.stdout, re.M)
        if m:
            out["openssl_mb_per_s"] = float(m.group(1)) * 1000 / 1e6
    code = ("import hashlib,time;b=bytes(64<<20);t=time.perf_counter();n=0\n"
            f"while time.perf_counter()-t<{secs}:\n hashlib.md5(b).digest();n+=1\n"
            "print(n*len(b)/(time.perf_counter()-t)/1e6)")
    r = subprocess.run(taskset(cpu) + [sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=secs + 60)
    if r.returncode == 0:
        out["hashlib_mb_per_s"] = float(r.stdout.strip())
    return out


# ---------------------------------------------------------------- machine


def machine_info():
    def cmd(*c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    model = None
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1) if m else None
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "kernel": os.uname().release,
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "mem_bytes": mem,
        "fs": cmd("df", "-T", tempfile.gettempdir()),
        "loadavg": os.getloadavg(),
        "commit": cmd("git", "-C", REPO, "rev-parse", "--short", "HEAD"),
        "dirty": bool(cmd("git", "-C", REPO, "status", "--porcelain", "--untracked-files=no")),
        "nginx": (cmd("nginx", "-v") or "") + (subprocess.run(["nginx", "-v"], capture_output=True,
                                                              text=True).stderr.strip()
                                               if shutil.which("nginx") else ""),
        "fio": cmd("fio", "--version") if shutil.which("fio") else None,
        "wrk": "wrk 4.x" if shutil.which("wrk") else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def busy_cpu_share(secs=1.0):
    """Share of all CPUs busy over `secs` (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle
    a = snap()
    time.sleep(secs)
    b = snap()
    total = b[0] - a[0]
    return 1 - (b[1] - a[1]) / total if total else 0.0


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def md5_hex(b):
    return hashlib.md5(b).hexdigest()

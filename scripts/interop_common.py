"""What scripts/swift_proxy_interop.py and scripts/swift_storage_interop.py
share: ports, starting paco and Swift servers so none outlives the check,
the per-check report, and a main() that cleans up on failure and SIGTERM.

Imported as a sibling module: both scripts run as `python scripts/x.py`, which
puts scripts/ first on sys.path.
"""

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30):
    """Waits until something listens on `port`; fails early if `proc` exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited early (status %s)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not listen on %d" % (what, port))


def die_with_parent():
    """Runs in each child before exec: the kernel kills it if this script
    dies, even by SIGKILL, so no server outlives the check."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Run:
    """Counts checks and prints one line for each."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, label, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok   " + label)
        else:
            self.failed += 1
            print("FAIL %s %s" % (label, detail))

    def finish(self, name, work, logs):
        """Prints the closing lines (the last one is what conformance.sh
        reports) and the logs' tails on failure; returns the exit status."""
        if self.failed:
            show_logs(work, logs)
        print("%s: %d passed, %d failed" % (name, self.passed, self.failed))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def show_logs(work, logs):
    """Prints the tail of each `<name>.log` in `work` that exists."""
    for name in logs:
        path = os.path.join(work, name + ".log")
        if os.path.exists(path):
            print("--- %s.log (tail) ---" % name)
            with open(path, errors="replace") as f:
                print("".join(f.readlines()[-30:]))


def write_swift_conf(work, prefix, suffix):
    """swift.conf with the hash path prefix and suffix paco is given too,
    and one default policy."""
    with open(os.path.join(work, "swift.conf"), "w") as f:
        f.write("[swift-hash]\nswift_hash_path_prefix = %s\nswift_hash_path_suffix = %s\n"
                "[storage-policy:0]\nname = gold\ndefault = yes\n" % (prefix, suffix))


def start_paco(paco, work, procs, prefix, suffix, backend_port, data_dir, extra=""):
    """Starts one paco node (one worker, logging to paco.log) with a backend
    listener on `backend_port`; `extra` is appended to its config. Returns
    the proxy's URL once it listens."""
    with open(os.path.join(work, "paco.toml"), "w") as f:
        f.write('bind = "127.0.0.1:0"\nbackend_bind = "127.0.0.1:%d"\n'
                'data_dir = "%s"\n[swift_hash]\nprefix = "%s"\nsuffix = "%s"\n%s'
                % (backend_port, os.path.join(work, data_dir), prefix, suffix, extra))
    log = open(os.path.join(work, "paco.log"), "w")
    node = subprocess.Popen([paco, "serve", "--config", os.path.join(work, "paco.toml"),
                             "--workers", "1", "--no-pin"],
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            preexec_fn=die_with_parent)
    procs.append(node)
    line = node.stdout.readline()
    if "paco listening on" not in line:
        raise RuntimeError("paco did not start: %r" % line)
    return node, line.strip().rsplit(" ", 1)[-1]


def main(doc, tmp_prefix, scenario, logs):
    """Parses --paco, runs `scenario(paco, work, procs)` in a temp dir and
    stops every process it put in `procs`, on failure and on SIGTERM too.
    Returns the exit status."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--paco", required=True)
    args = ap.parse_args()

    def stop(signum, _frame):
        raise SystemExit("stopped by signal %d" % signum)

    # A timeout's SIGTERM unwinds through the clean-up below (Python's
    # default handler would skip it and leave the servers running).
    signal.signal(signal.SIGTERM, stop)
    procs = []
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as work:
        try:
            return scenario(os.path.abspath(args.paco), work, procs)
        except Exception as e:
            print("FAIL set-up or client error: %r" % (e,))
            show_logs(work, logs)
            print("0 passed, 1 failed")
            return 1
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

#!/usr/bin/env python3
"""python-swiftclient end to end against a running paco node.

Drives the real `swift` command-line client (from the conformance venv) the
way a user would, one step at a time, and records each step's outcome as a
JSON line {"kind": "step", "step": NAME, "outcome": passed|failed|skipped,
"message": ..., "duration": ...} in --results.  scripts/conformance.sh runs it
against the node it started and judges the steps with the same expectation
file as Swift's functional tests (ids `e2e:<step>`).

Usage (normally called by scripts/conformance.sh):
  swiftclient_e2e.py --auth http://127.0.0.1:PORT/auth/v1.0 \
      --user test:tester --key testing --results e2e.jsonl [--swift PATH]

Steps (a step whose precondition step failed is still run when it can be,
so each is judged on its own):
  stat                      swift stat (account)
  upload_tree               swift upload of a tree with unicode, spaces, %, nesting
  stat_objects              swift stat <container> <object> for every uploaded file
  download_objects          swift download <container> <object> -o F, byte compare
  list_container            swift list <container> (all names)
  list_prefix               swift list --prefix
  list_delimiter            swift list --delimiter / (top level and under a prefix)
  list_account              swift list (the container appears)
  download_container        swift download <container> -D DIR, diff -r with the tree
  post_object_meta          swift post -m on an object, read back with stat
  post_container_meta       swift post -m on a container, read back with stat
  upload_segment_size       swift upload --segment-size (large object), download, compare
  upload_stdin              swift upload --object-name X <container> - (small stream)
  upload_stdin_segmented    same with --segment-size, so the stream becomes segments
  delete_object             swift delete <container> <object>, then 404
  delete_all                swift delete --all, then no containers are left
"""

import argparse
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

STEP_TIMEOUT = 120  # seconds per swift command

TREE = {
    # relative path -> size in bytes (content is random, seeded by the name)
    "tree/readme.txt": 1200,
    "tree/empty.dat": 0,
    "tree/dir one/file with spaces.bin": 70000,
    "tree/nested/a/b/c/deep.txt": 333,
    "tree/nested/a/sibling.txt": 50,
    "tree/nested/z.txt": 10,
    "tree/ünïcødé/日本語のファイル.txt": 4096,
    "tree/ünïcødé/emoji 😀.bin": 1,
    "tree/percent%20and+plus.txt": 77,
    "tree/odd/..dots..name": 5,
}


def _content(name, size):
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    out = bytearray()
    block = seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out.extend(block)
    return bytes(out[:size])


class E2E:
    def __init__(self, args):
        self.args = args
        self.results = open(args.results, "a", encoding="utf-8")
        self.work = tempfile.mkdtemp(prefix="paco-e2e-")
        tag = uuid.uuid4().hex[:8]
        self.container = "e2e-%s" % tag
        self.big_container = "e2e-big-%s" % tag
        self.env = {k: v for k, v in os.environ.items()
                    if not (k.startswith("OS_") or k.startswith("ST_"))}
        self.env["LC_ALL"] = "C.UTF-8"
        self.env["PYTHONIOENCODING"] = "utf-8"
        self.passed = self.failed = self.skipped = 0

    # ---------------------------------------------------------------- utils
    def swift(self, *argv, stdin=None, cwd=None, check=True):
        cmd = [self.args.swift, "-A", self.args.auth, "-U", self.args.user,
               "-K", self.args.key, "--retries", str(self.args.retries)] + list(argv)
        p = subprocess.run(cmd, input=stdin, cwd=cwd or self.work, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=STEP_TIMEOUT)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise StepFailed("`swift %s` exited %d: %s" % (
                " ".join(argv), p.returncode, (err or out).strip()[-600:]))
        return p.returncode, out, err

    def record(self, step, outcome, message="", duration=0.0):
        rec = {"kind": "step", "step": step, "outcome": outcome,
               "message": message, "duration": round(duration, 3)}
        self.results.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.results.flush()
        setattr(self, outcome, getattr(self, outcome) + 1)
        print("e2e %-24s %s%s" % (step, outcome.upper(),
                                  (": " + message) if message else ""), flush=True)

    def step(self, name, fn):
        t0 = time.time()
        try:
            fn()
        except StepFailed as e:
            self.record(name, "failed", str(e), time.time() - t0)
            return False
        except subprocess.TimeoutExpired as e:
            self.record(name, "failed", "timed out after %ss: %s" % (
                STEP_TIMEOUT, " ".join(e.cmd[9:])), time.time() - t0)
            return False
        except Exception as e:  # a bug in this script shows up as a failure
            self.record(name, "failed", "%s: %s" % (type(e).__name__, e),
                        time.time() - t0)
            return False
        self.record(name, "passed", "", time.time() - t0)
        return True

    def expect(self, cond, msg):
        if not cond:
            raise StepFailed(msg)

    # ---------------------------------------------------------------- steps
    def make_tree(self):
        for rel, size in TREE.items():
            path = os.path.join(self.work, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(_content(rel, size))

    def s_stat(self):
        _, out, _ = self.swift("stat")
        acct = "AUTH_" + self.args.user.split(":")[0]
        self.expect("Account: %s" % acct in out,
                    "no 'Account: %s' in swift stat output: %s" % (acct, out.strip()[:400]))
        for field in ("Containers:", "Objects:", "Bytes:"):
            self.expect(field in out, "no %r in swift stat output: %s" % (field, out.strip()[:400]))

    def s_upload_tree(self):
        _, out, err = self.swift("upload", self.container, "tree")
        uploaded = set(l.strip() for l in out.splitlines() if l.strip())
        missing = [n for n in TREE if n not in uploaded]
        self.expect(not missing, "swift upload did not report %s (stdout %r, stderr %r)" % (
            missing, out[:300], err[:300]))

    def s_stat_objects(self):
        for rel, size in TREE.items():
            _, out, _ = self.swift("stat", self.container, rel)
            self.expect("Content Length: %d" % size in out,
                        "stat %s: expected Content Length %d in %r" % (rel, size, out[:300]))
            etag = hashlib.md5(_content(rel, size)).hexdigest()
            self.expect(etag in out, "stat %s: ETag %s not in %r" % (rel, etag, out[:300]))

    def s_download_objects(self):
        dest = os.path.join(self.work, "dl-objects")
        os.makedirs(dest, exist_ok=True)
        for i, rel in enumerate(TREE):
            target = os.path.join(dest, "obj%d" % i)
            self.swift("download", self.container, rel, "-o", target)
            with open(target, "rb") as f:
                got = f.read()
            self.expect(got == _content(rel, TREE[rel]),
                        "downloaded %s differs from what was uploaded (%d vs %d bytes)" % (
                            rel, len(got), TREE[rel]))

    def _list(self, *argv):
        _, out, _ = self.swift("list", *argv)
        return [l for l in out.splitlines() if l]

    def s_list_container(self):
        got = self._list(self.container)
        want = sorted(TREE, key=lambda s: s.encode("utf-8"))
        self.expect(got == want, "swift list %s: got %r, want %r" % (self.container, got, want))

    def s_list_prefix(self):
        got = self._list(self.container, "--prefix", "tree/nested/")
        want = sorted(n for n in TREE if n.startswith("tree/nested/"))
        self.expect(got == want, "--prefix tree/nested/: got %r, want %r" % (got, want))
        got = self._list(self.container, "--prefix", "tree/ünïcødé/")
        want = sorted((n for n in TREE if n.startswith("tree/ünïcødé/")),
                      key=lambda s: s.encode("utf-8"))
        self.expect(got == want, "--prefix tree/ünïcødé/: got %r, want %r" % (got, want))

    def s_list_delimiter(self):
        got = self._list(self.container, "--delimiter", "/")
        self.expect(got == ["tree/"], "--delimiter /: got %r, want ['tree/']" % (got,))
        got = self._list(self.container, "--prefix", "tree/", "--delimiter", "/")
        children = set()
        for n in TREE:
            rest = n[len("tree/"):]
            children.add("tree/" + rest.split("/", 1)[0] + ("/" if "/" in rest else ""))
        want = sorted(children, key=lambda s: s.encode("utf-8"))
        self.expect(got == want, "--prefix tree/ --delimiter /: got %r, want %r" % (got, want))

    def s_list_account(self):
        got = self._list()
        self.expect(self.container in got, "swift list: %s not in %r" % (self.container, got[:20]))

    def s_download_container(self):
        dest = os.path.join(self.work, "dl-container")
        os.makedirs(dest, exist_ok=True)
        self.swift("download", self.container, "-D", dest)
        cmp = filecmp.dircmp(os.path.join(self.work, "tree"), os.path.join(dest, "tree"))
        problems = _dircmp_problems(cmp)
        self.expect(not problems, "download -D differs from the tree: %s" % problems[:10])
        # byte for byte, not just stat: compare every file
        for rel in TREE:
            self.expect(filecmp.cmp(os.path.join(self.work, rel), os.path.join(dest, rel),
                                    shallow=False), "%s differs after download" % rel)

    def s_post_object_meta(self):
        obj = "tree/readme.txt"
        self.swift("post", "-m", "Color:Blue", "-m", "Flavor:Cherry Pie",
                   self.container, obj)
        _, out, _ = self.swift("stat", self.container, obj)
        self.expect("Meta Color: Blue" in out and "Meta Flavor: Cherry Pie" in out,
                    "metadata not read back: %r" % out[:500])
        # POST replaces user metadata
        self.swift("post", "-m", "Color:Red", self.container, obj)
        _, out, _ = self.swift("stat", self.container, obj)
        self.expect("Meta Color: Red" in out and "Flavor" not in out,
                    "second POST did not replace the metadata: %r" % out[:500])

    def s_post_container_meta(self):
        self.swift("post", "-m", "Project:paco", "-m", "Owner:ünïcødé",
                   self.container)
        _, out, _ = self.swift("stat", self.container)
        self.expect("Meta Project: paco" in out and "Meta Owner: ünïcødé" in out,
                    "container metadata not read back: %r" % out[:500])

    def s_upload_segment_size(self):
        size = 5 * 1024 * 1024 + 12345
        path = os.path.join(self.work, "big.bin")
        with open(path, "wb") as f:
            f.write(_content("big.bin", size))
        self.swift("upload", "--segment-size", "1048576", self.big_container, "big.bin")
        _, out, _ = self.swift("stat", self.big_container, "big.bin")
        self.expect("Content Length: %d" % size in out,
                    "large object: expected Content Length %d in %r" % (size, out[:500]))
        self.expect("Manifest:" in out or "X-Static-Large-Object: True" in out,
                    "stat does not show a large-object manifest: %r" % out[:500])
        target = os.path.join(self.work, "big.dl")
        self.swift("download", self.big_container, "big.bin", "-o", target)
        self.expect(filecmp.cmp(path, target, shallow=False),
                    "downloaded large object differs from the uploaded file")

    def _stdin(self, name, size, extra):
        data = _content(name, size)
        self.swift("upload", *extra, "--object-name", name, self.container, "-",
                   stdin=data)
        target = os.path.join(self.work, name.replace("/", "_") + ".dl")
        self.swift("download", self.container, name, "-o", target)
        with open(target, "rb") as f:
            got = f.read()
        self.expect(got == data, "%s: downloaded %d bytes, uploaded %d, contents %s" % (
            name, len(got), len(data), "equal" if got == data else "differ"))

    def s_upload_stdin(self):
        # smaller than the default stdin segment (10 MiB): one plain object
        self._stdin("from-stdin/small.bin", 300000, [])

    def s_upload_stdin_segmented(self):
        # larger than --segment-size: segments plus an SLO manifest
        self._stdin("from-stdin/segmented.bin", 300000, ["--segment-size", "102400"])

    def s_delete_object(self):
        obj = "tree/nested/z.txt"
        self.swift("delete", self.container, obj)
        rc, out, err = self.swift("stat", self.container, obj, check=False)
        self.expect(rc != 0 and "404" in (out + err),
                    "object still there after delete: rc=%d %r" % (rc, (out + err)[:300]))

    def s_delete_all(self):
        self.swift("delete", "--all")
        got = self._list()
        self.expect(got == [], "containers left after delete --all: %r" % got[:20])
        rc, out, err = self.swift("stat", self.container, "tree/readme.txt", check=False)
        self.expect(rc != 0 and "404" in (out + err),
                    "object still readable after delete --all: rc=%d %r" % (rc, (out + err)[:300]))

    def run(self):
        self.make_tree()
        steps = [
            ("stat", self.s_stat),
            ("upload_tree", self.s_upload_tree),
            ("stat_objects", self.s_stat_objects),
            ("download_objects", self.s_download_objects),
            ("list_container", self.s_list_container),
            ("list_prefix", self.s_list_prefix),
            ("list_delimiter", self.s_list_delimiter),
            ("list_account", self.s_list_account),
            ("download_container", self.s_download_container),
            ("post_object_meta", self.s_post_object_meta),
            ("post_container_meta", self.s_post_container_meta),
            ("upload_segment_size", self.s_upload_segment_size),
            ("upload_stdin", self.s_upload_stdin),
            ("upload_stdin_segmented", self.s_upload_stdin_segmented),
            ("delete_object", self.s_delete_object),
            ("delete_all", self.s_delete_all),
        ]
        only = set(self.args.only.split(",")) if self.args.only else None
        for name, fn in steps:
            if only and name not in only:
                continue
            self.step(name, fn)
        self.results.write(json.dumps({"kind": "finished"}) + "\n")
        self.results.close()
        shutil.rmtree(self.work, ignore_errors=True)
        print("e2e: %d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped))


class StepFailed(Exception):
    pass


def _dircmp_problems(cmp, prefix=""):
    out = []
    out += ["only uploaded: %s%s" % (prefix, n) for n in cmp.left_only]
    out += ["only downloaded: %s%s" % (prefix, n) for n in cmp.right_only]
    out += ["differs: %s%s" % (prefix, n) for n in cmp.diff_files]
    for name, sub in cmp.subdirs.items():
        out += _dircmp_problems(sub, prefix + name + "/")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--auth", required=True, help="auth URL, .../auth/v1.0")
    p.add_argument("--user", default="test:tester")
    p.add_argument("--key", default="testing")
    p.add_argument("--results", required=True, help="JSON-lines file to append to")
    p.add_argument("--swift", default=shutil.which("swift") or "swift",
                   help="the swift command (python-swiftclient)")
    p.add_argument("--only", help="comma-separated step names to run")
    p.add_argument("--retries", type=int, default=0,
                   help="swift --retries (default 0: on loopback a failure is "
                        "a failure, and swift's back-off after a 5xx would cost "
                        "31 s per command)")
    args = p.parse_args()
    E2E(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

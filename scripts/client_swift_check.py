#!/usr/bin/env python3
"""paco's Swift client against real OpenStack Swift: starts the Swift
all-in-one from perf/ (perf/setup.sh builds its venv, .venv-swift-aio/),
then `paco upload` from a pipe and from a file (SLO, as Swift's /info
advertises it), `paco download` compared byte for byte, `list`, `stat`
and `delete`. Everything started is stopped on exit.

    scripts/client_swift_check.py [PACO_BIN]    (default target/release/paco)
"""
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "perf"))
import perfkit  # noqa: E402


def main():
    paco = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target/release/paco")
    venv = os.environ.get("SWIFT_AIO_VENV", os.path.join(REPO, ".venv-swift-aio"))
    failures = []

    def check(what, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what} {detail}".rstrip())
        if not ok:
            failures.append(what)

    with perfkit.Stack(prefix="paco-client-swift-") as st:
        swift = perfkit.SwiftAIO(st, venv, None)
        env = dict(os.environ, ST_AUTH=swift.auth, ST_USER="test:tester", ST_KEY="testing")

        def paco_run(args, data=None):
            return subprocess.run([paco] + args, input=data, env=env, capture_output=True,
                                  timeout=120)

        data = os.urandom(3 * 1024 * 1024 + 777)
        r = paco_run(["upload", "--segment-size", "1048576", "--json", "c", "piped", "-"], data)
        check("upload from a pipe", r.returncode == 0 and b'"manifest":"slo"' in r.stdout,
              r.stderr.decode()[-300:])
        r = paco_run(["download", "c", "piped", "-o", "-"])
        check("download of the piped upload", r.returncode == 0 and r.stdout == data)
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            r = paco_run(["upload", "--segment-size", "1048576", "--concurrency", "3",
                          "c", "file", f.name])
            check("upload of a file in parallel segments", r.returncode == 0,
                  r.stderr.decode()[-300:])
        r = paco_run(["download", "c", "file", "-o", "-"])
        check("download of the file upload", r.returncode == 0 and r.stdout == data)
        r = paco_run(["stat", "c", "piped"])
        check("stat shows an SLO", b"x-static-large-object: True" in r.stdout)
        r = paco_run(["delete", "c", "piped"])
        check("delete", r.returncode == 0)
        r = paco_run(["list", "c"])
        check("list after delete", r.returncode == 0 and r.stdout.split() == [b"file"],
              r.stdout.decode())
    print(f"client vs Swift: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

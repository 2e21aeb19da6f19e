"""pytest plugin used by scripts/conformance.sh.

Loaded with ``-p pytest_paco_results`` (this folder on PYTHONPATH) and the
option ``--paco-results FILE``.  It appends one JSON object per line to FILE,
flushed as it goes, so that the outcomes recorded before a hang or a crash
survive a hard kill of pytest:

  {"kind": "collected", "ids": [...]}              once, after collection
  {"kind": "report", "id": ..., "when": ..., ...}  one per phase / subtest
  {"kind": "finished", "exitstatus": N}            when pytest ends normally

Test ids are pytest node ids relative to Swift's ``test/functional/`` folder,
e.g. ``tests.py::TestFile::testCopy``.  Judging (pass / fail / skip per test)
is done by tests/conformance/judge.py, not here.
"""

import json
import os
import time

_PREFIX = "test/functional/"


def _tid(nodeid):
    nodeid = nodeid.replace(os.sep, "/")
    idx = nodeid.find(_PREFIX)
    if idx >= 0:
        nodeid = nodeid[idx + len(_PREFIX):]
    return nodeid


def pytest_addoption(parser):
    parser.addoption("--paco-results", action="store", default=None,
                     help="append per-test outcomes as JSON lines to FILE")
    parser.addoption("--paco-max-backoff", action="store", type=float,
                     default=None,
                     help="cap the back-off sleep of test.functional.retry() "
                          "(1, 2, 4, 8, 16 s between its 5 retries on 5xx and "
                          "socket errors) to this many seconds")


class _Recorder:
    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")

    def write(self, obj):
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self):
        self._f.close()

    def pytest_collection_finish(self, session):
        cap = session.config.getoption("--paco-max-backoff")
        if cap is not None:
            _cap_retry_backoff(cap)
        self.write({"kind": "collected",
                    "ids": [_tid(item.nodeid) for item in session.items],
                    "time": time.time()})

    def pytest_collectreport(self, report):
        if report.failed:
            self.write({"kind": "collect_error", "id": _tid(report.nodeid),
                        "message": _message(report)})

    def pytest_runtest_logreport(self, report):
        rec = {
            "kind": "report",
            "id": _tid(report.nodeid),
            "when": report.when,
            "outcome": report.outcome,  # passed / failed / skipped
            "duration": round(getattr(report, "duration", 0.0), 3),
        }
        # unittest subTest() / pytest subtests produce extra call reports
        ctx = getattr(report, "context", None)
        if ctx is not None:
            rec["subtest"] = str(getattr(ctx, "msg", None) or
                                 getattr(ctx, "kwargs", "") or "subtest")
        if hasattr(report, "wasxfail"):
            rec["wasxfail"] = True
        if report.failed or report.skipped:
            rec["message"] = _message(report)
        self.write(rec)

    def pytest_sessionfinish(self, session, exitstatus):
        self.write({"kind": "finished", "exitstatus": int(exitstatus),
                    "time": time.time()})


def _cap_retry_backoff(cap):
    """retry() in test/functional/__init__.py sleeps with its module-level
    name `sleep` (imported from time) between retries, and uses it for
    nothing else. Capping it keeps the number of retries and every assertion
    as they are; it only stops a node that answers 5xx at once from costing
    31 s per request. Sleeps elsewhere in the suite (waiting for expiry,
    listing consistency) are untouched."""
    import time as _time
    import test.functional as tf
    real = _time.sleep

    def capped_sleep(seconds):
        real(min(seconds, cap))

    tf.sleep = capped_sleep


def _message(report):
    """A short, single-paragraph reason for a failure, error or skip."""
    lr = report.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:  # skip: (file, line, reason)
        return str(lr[2])
    crash = getattr(lr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        msg = crash.message
    else:
        msg = str(lr)
    msg = msg.strip()
    if len(msg) > 2000:
        msg = msg[:2000] + " [...]"
    return msg


def pytest_configure(config):
    path = config.getoption("--paco-results")
    if path:
        rec = _Recorder(path)
        config._paco_recorder = rec
        config.pluginmanager.register(rec, "paco-results-recorder")


def pytest_unconfigure(config):
    rec = getattr(config, "_paco_recorder", None)
    if rec is not None:
        rec.close()

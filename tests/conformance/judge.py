#!/usr/bin/env python3
"""Collects and judges a conformance run (used by scripts/conformance.sh).

  judge.py collect --run-dir DIR --out results.json [--meta K=V ...]
      merge the per-module JSON-lines files written by pytest_paco_results.py,
      the e2e results and the run metadata into one results.json

  judge.py check --results results.json --expected expected.txt
      print pass/fail/skip per module and compare every test with the
      expectation file; exit 1 when the run does not meet it

  judge.py update --results results.json --expected expected.txt
      rewrite the expectation file from the last run (keeps existing reasons,
      marks passes `pass`, writes `xfail: TODO` for new failures, which
      `check` rejects until someone writes a real reason)

Expectation file, one test per line (blank lines and `#` comments allowed):

  <test id> pass
  <test id> xfail: <missing feature> (issue N)
  <test id> skip: <why this setup never runs it, e.g. Keystone-only>

Rules applied by `check`:
  pass  + passed                  ok
  pass  + failed/error/skipped/no result  -> FAILURE (a skip is never a pass)
  xfail + passed                  -> reported "now passes, promote it" (ok)
  xfail + anything else           ok
  skip  + skipped / no result     ok
  skip  + passed                  -> reported "now passes, promote it" (ok)
  skip  + failed/error            -> FAILURE (it should not even run here)
  test not in the file            -> FAILURE (run --update-expected, give reason)
  `pass` line whose test is no longer collected -> FAILURE (stale entry)
  reason that is TODO, empty, says flaky/intermittent, or (xfail) names no
  issue                           -> FAILURE
Only modules that were run are judged; the file may hold others.

Standard library only.
"""

import argparse
import collections
import json
import os
import re
import sys

STATUSES = ("pass", "xfail", "skip")
LINE_RE = re.compile(r"^(?P<id>\S+)\s+(?P<status>pass|xfail|skip)(?::\s*(?P<reason>.*))?\s*$")
ISSUE_RE = re.compile(r"\(issue\s+\d+\)", re.I)
BAD_REASON_RE = re.compile(r"\b(todo|flaky|flakey|intermittent|random(ly)?|sometimes)\b", re.I)

# Real Swift 2.38.3, all-in-one (SAIO) setup: tests that pass per module
# (from issue 3).  Modules not listed have no published figure.
REFERENCE_PASSES = {
    "tests.py": 214,
    "test_object.py": 27,
    "test_container.py": 29,
    "test_account.py": 26,
}
REFERENCE_TOTAL = 1062  # whole functional suite, 18 skips

OUTCOMES = ("passed", "failed", "error", "skipped", "missing")


def module_of(test_id):
    if test_id.startswith("e2e:"):
        return "e2e"
    return test_id.split("::", 1)[0]


# --------------------------------------------------------------- collecting

def _read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                # a line cut short by a hard kill
                continue
    return out


def _outcome_from_reports(reports):
    """(outcome, message, duration, teardown_error) for one test's reports."""
    setup = [r for r in reports if r["when"] == "setup"]
    call = [r for r in reports if r["when"] == "call"]
    teardown = [r for r in reports if r["when"] == "teardown"]
    duration = round(sum(r.get("duration", 0.0) for r in reports), 3)
    td_err = None
    for r in teardown:
        if r["outcome"] == "failed":
            td_err = r.get("message", "")
    for r in setup:
        if r["outcome"] == "failed":
            return "error", "setup: " + r.get("message", ""), duration, td_err
        if r["outcome"] == "skipped":
            return "skipped", r.get("message", ""), duration, td_err
    if not call:
        return "missing", ("no result: pytest was stopped (time limit) or "
                           "crashed while running it"), duration, td_err
    failed = [r for r in call if r["outcome"] == "failed"]
    if failed:
        msgs = []
        for r in failed:
            m = r.get("message", "")
            if r.get("subtest"):
                m = "[subtest %s] %s" % (r["subtest"], m)
            msgs.append(m)
        return "failed", "\n".join(msgs), duration, td_err
    main = [r for r in call if "subtest" not in r] or call
    if any(r.get("wasxfail") for r in main):
        # unittest expectedFailure: not a pass
        return "failed", "expected failure (unittest expectedFailure)", duration, td_err
    if all(r["outcome"] == "skipped" for r in main):
        return "skipped", main[0].get("message", ""), duration, td_err
    return "passed", "", duration, td_err


def collect(args):
    run_dir = args.run_dir
    meta = {}
    for kv in args.meta or []:
        k, _, v = kv.partition("=")
        meta[k] = v
    modules_order = []
    mod_status = {}
    tsv = os.path.join(run_dir, "modules.tsv")
    if os.path.exists(tsv):
        with open(tsv, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    name, rc, secs = parts[:3]
                    modules_order.append(name)
                    mod_status[name] = {"exit": int(rc), "seconds": float(secs)}

    tests = collections.OrderedDict()
    modules = collections.OrderedDict()
    for mod in modules_order:
        counts = collections.OrderedDict((o, 0) for o in OUTCOMES)
        info = {"collected": 0, "complete": False,
                "exit": mod_status[mod]["exit"],
                "seconds": mod_status[mod]["seconds"],
                "teardown_errors": [], "collect_errors": []}
        if mod == "e2e":
            recs = _read_jsonl(os.path.join(run_dir, "e2e.jsonl"))
            info["complete"] = any(r.get("kind") == "finished" for r in recs)
            for r in recs:
                if r.get("kind") != "step":
                    continue
                tid = "e2e:" + r["step"]
                tests[tid] = {"module": "e2e", "outcome": r["outcome"],
                              "message": r.get("message", ""),
                              "duration": r.get("duration", 0.0)}
                counts[r["outcome"]] += 1
                info["collected"] += 1
        else:
            recs = _read_jsonl(os.path.join(run_dir, mod + ".jsonl"))
            collected = []
            by_id = collections.OrderedDict()
            for r in recs:
                kind = r.get("kind")
                if kind == "collected":
                    collected = r["ids"]
                elif kind == "report":
                    by_id.setdefault(r["id"], []).append(r)
                elif kind == "collect_error":
                    info["collect_errors"].append(r)
                elif kind == "finished":
                    info["complete"] = True
            ids = list(collected) + [i for i in by_id if i not in collected]
            for tid in ids:
                outcome, msg, dur, td_err = _outcome_from_reports(by_id.get(tid, []))
                tests[tid] = {"module": mod, "outcome": outcome,
                              "message": msg, "duration": dur}
                if td_err:
                    info["teardown_errors"].append({"after": tid, "message": td_err})
                counts[outcome] += 1
            info["collected"] = len(ids)
        info.update(counts)
        modules[mod] = info

    info_path = os.path.join(run_dir, "info.json")
    node_info = None
    if os.path.exists(info_path):
        try:
            with open(info_path, encoding="utf-8") as f:
                node_info = json.load(f)
        except ValueError:
            node_info = None

    results = {
        "schema": 1,
        "run": meta,
        "info": node_info,
        "modules": modules,
        "tests": tests,
        "reference": {"passes": REFERENCE_PASSES, "total": REFERENCE_TOTAL,
                      "swift": "2.38.3"},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, args.out)
    return 0


# -------------------------------------------------------------- expectations

class Expectations:
    def __init__(self, path):
        self.path = path
        self.entries = collections.OrderedDict()  # id -> (status, reason, lineno)
        self.problems = []  # (lineno, text)
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                m = LINE_RE.match(line)
                if not m:
                    self.problems.append((n, "cannot parse line: %r" % line))
                    continue
                tid, status, reason = m.group("id"), m.group("status"), m.group("reason")
                reason = (reason or "").strip()
                if tid in self.entries:
                    self.problems.append((n, "duplicate entry for %s" % tid))
                if status == "pass" and reason:
                    self.problems.append((n, "`pass` takes no reason: %s" % tid))
                if status in ("xfail", "skip"):
                    why = _reason_problem(status, reason)
                    if why:
                        self.problems.append((n, "%s: %s" % (tid, why)))
                self.entries[tid] = (status, reason, n)


def _reason_problem(status, reason):
    if not reason:
        return "%s needs a reason" % status
    if BAD_REASON_RE.search(reason):
        return ("reason %r is not allowed (TODO/flaky): name the missing feature "
                "and its issue" % reason)
    if status == "xfail" and not ISSUE_RE.search(reason):
        return "xfail reason %r names no issue; write it as '<missing feature> (issue N)'" % reason
    return None


def _load_results(path):
    if not os.path.exists(path):
        sys.exit("no results at %s: run scripts/conformance.sh first" % path)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _short(msg, n=300):
    msg = " ".join((msg or "").split())
    return msg if len(msg) <= n else msg[:n] + " ..."


def print_table(results, out=sys.stdout):
    ref = results.get("reference", {}).get("passes", REFERENCE_PASSES)
    hdr = "%-28s %9s %7s %7s %6s %8s %8s %7s   %s" % (
        "module", "collected", "passed", "failed", "error", "skipped",
        "no-result", "secs", "Swift 2.38.3 passes")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    tot = collections.Counter()
    for mod, m in results["modules"].items():
        r = ref.get(mod)
        print("%-28s %9d %7d %7d %6d %8d %8d %7.1f   %s%s" % (
            mod, m["collected"], m["passed"], m["failed"], m["error"],
            m["skipped"], m["missing"], m["seconds"],
            r if r is not None else "-",
            "" if m["complete"] else "   (module did not finish)"), file=out)
        for k in ("collected",) + OUTCOMES:
            tot[k] += m[k]
        tot["seconds"] += m["seconds"]
    print("-" * len(hdr), file=out)
    print("%-28s %9d %7d %7d %6d %8d %8d %7.1f" % (
        "total", tot["collected"], tot["passed"], tot["failed"], tot["error"],
        tot["skipped"], tot["missing"], tot["seconds"]), file=out)
    return tot


def check(args):
    results = _load_results(args.results)
    exp = Expectations(args.expected)
    tests = results["tests"]
    ran_modules = set(results["modules"])
    complete = {m for m, i in results["modules"].items() if i["complete"]}

    print()
    print_table(results)
    for mod, m in results["modules"].items():
        for te in m.get("teardown_errors", []):
            print("note: %s: class/module teardown error after %s: %s" % (
                mod, te["after"], _short(te["message"], 200)))
        for ce in m.get("collect_errors", []):
            print("FAILURE: %s: collection error in %s: %s" % (
                mod, ce["id"], _short(ce["message"], 400)))

    failures = []      # (id, text)
    promote = []
    not_listed = []
    xfail_count = 0
    skip_count = 0
    passed_count = 0
    for tid, t in tests.items():
        o = t["outcome"]
        if o == "passed":
            passed_count += 1
        e = exp.entries.get(tid)
        if e is None:
            not_listed.append((tid, o, t["message"]))
            continue
        status = e[0]
        if status == "pass":
            if o != "passed":
                failures.append((tid, "expected pass, got %s: %s" % (
                    "SKIPPED (a skip is not a pass)" if o == "skipped" else o.upper(),
                    _short(t["message"]))))
        elif status == "xfail":
            if o == "passed":
                promote.append((tid, e[1]))
            else:
                xfail_count += 1
        elif status == "skip":
            if o == "passed":
                promote.append((tid, e[1]))
            elif o in ("failed", "error"):
                failures.append((tid, "expected to be skipped here (%s), but it ran and %s: %s"
                                 % (e[1], o, _short(t["message"]))))
            else:
                skip_count += 1
    stale = []
    for tid, (status, reason, n) in exp.entries.items():
        mod = module_of(tid)
        if tid in tests or status != "pass" or mod not in ran_modules:
            continue
        if mod in complete:
            stale.append((tid, n))
        else:
            # the module was meant to run but did not finish (or never
            # started: node gone, time budget used up)
            failures.append((tid, "expected pass, got NO RESULT: module %s did not "
                             "finish (exit %s)" % (mod, results["modules"][mod]["exit"])))

    print()
    if promote:
        print("NOW PASSES, promote it to `pass` (scripts/conformance.sh --update-expected):")
        for tid, reason in promote:
            print("  %s   (was: %s)" % (tid, reason))
        print()
    bad = 0
    if exp.problems:
        print("FAILURE: %s has invalid lines:" % os.path.relpath(args.expected))
        for n, text in exp.problems:
            print("  line %d: %s" % (n, text))
            bad += 1
        print()
    if not_listed:
        print("FAILURE: %d test(s) are not in %s (add them: run "
              "scripts/conformance.sh --update-expected, then replace each "
              "`xfail: TODO` with the missing feature and its issue):"
              % (len(not_listed), os.path.relpath(args.expected)))
        for tid, o, msg in not_listed:
            print("  %s   [%s] %s" % (tid, o, _short(msg, 160)))
        print()
    if stale:
        print("FAILURE: `pass` entries for tests that were not collected (renamed "
              "or removed? run --update-expected):")
        for tid, n in stale:
            print("  line %d: %s" % (n, tid))
        print()
    if failures:
        print("FAILURE: %d test(s) expected to pass did not:" % len(failures))
        for tid, text in failures:
            print("  %s: %s" % (tid, text))
        print()
    incomplete = [m for m in ran_modules if m not in complete]
    if incomplete:
        print("note: these modules did not finish (time limit or crash): %s"
              % ", ".join(sorted(incomplete)))

    unexpected = len(failures) + len(not_listed) + len(stale) + bad
    skipped = sum(1 for t in tests.values() if t["outcome"] == "skipped")
    verdict = "OK" if unexpected == 0 else "FAILED"
    print("conformance verdict: %s -- %d passed (%d of them xfail/skip to promote), "
          "%d expected failures (xfail), %d skipped, %d unexpected "
          "(expected passes that failed: %d, not listed: %d, stale: %d, bad lines: %d)"
          % (verdict, passed_count, len(promote), xfail_count, skipped,
             unexpected, len(failures), len(not_listed), len(stale), bad))
    # Closing line in the plain 'N passed, N failed, N skipped' form. Each test
    # counts once: failed = its outcome contradicts the expectation file (or
    # it is not listed); passed = it passed; skipped = the rest (expected
    # failures and skips: never counted as passes). Invalid or stale lines of
    # the expectation file add to failed.
    bad_ids = {tid for tid, _ in failures} | {tid for tid, _, _ in not_listed}
    n_failed = len(bad_ids) + len(stale) + bad
    n_passed = sum(1 for tid, t in tests.items()
                   if t["outcome"] == "passed" and tid not in bad_ids)
    n_skipped = len(tests) - len(bad_ids & set(tests)) - n_passed
    print("conformance: %d passed, %d failed, %d skipped" % (n_passed, n_failed, n_skipped))
    return 0 if unexpected == 0 else 1


# ---------------------------------------------------------------- updating

def update(args):
    results = _load_results(args.results)
    exp = Expectations(args.expected)
    tests = results["tests"]
    modules = list(results["modules"])
    complete = {m for m, i in results["modules"].items() if i["complete"]}

    new = collections.OrderedDict()
    changes = collections.Counter()
    for tid, t in tests.items():
        o = t["outcome"]
        old = exp.entries.get(tid)
        if o == "passed":
            new[tid] = ("pass", "")
            if old is None or old[0] != "pass":
                changes["now pass"] += 1
            continue
        if old is not None and old[0] in ("xfail", "skip") and not _reason_problem(old[0], old[1]):
            new[tid] = (old[0], old[1])
            continue
        if o == "missing" and old is not None:
            new[tid] = (old[0], old[1])
            continue
        hint = {"skipped": "skipped", "missing": "no result"}.get(o, o)
        new[tid] = ("xfail", "TODO (%s: %s)" % (hint, _short(t["message"], 120)))
        changes["new TODO"] += 1

    # keep entries of modules that did not run; drop entries of modules that
    # ran to completion but no longer collect them
    for tid, (status, reason, n) in exp.entries.items():
        if tid in new:
            continue
        mod = module_of(tid)
        if mod in complete:
            changes["dropped (not collected)"] += 1
            continue
        new[tid] = (status, reason)

    # order: module order of this run, then other modules, collection order
    order = []
    for mod in modules:
        order.extend(t for t in new if module_of(t) == mod)
    order.extend(t for t in new if module_of(t) not in modules)

    reasons = collections.Counter(
        "%s: %s" % (s, r) for s, r in new.values() if s != "pass")
    lines = [
        "# Conformance expectations: Swift 2.38.3 functional tests and the",
        "# python-swiftclient end-to-end steps, as judged by scripts/conformance.sh.",
        "# One line per test:  <id> pass | <id> xfail: <missing feature> (issue N)",
        "#                     | <id> skip: <why this setup never runs it>",
        "# A reason never says 'flaky'; `xfail: TODO` lines must be given a real",
        "# reason before the run accepts them. Regenerate the pass/TODO marks with",
        "# scripts/conformance.sh --update-expected (existing reasons are kept).",
        "#",
        "# Summary (tests per reason):",
    ]
    for r, c in sorted(reasons.items(), key=lambda x: (-x[1], x[0])):
        lines.append("#   %4d  %s" % (c, r))
    npass = sum(1 for s, _ in new.values() if s == "pass")
    lines.append("#   %4d  pass" % npass)
    cur = None
    for tid in order:
        mod = module_of(tid)
        if mod != cur:
            lines.append("")
            lines.append("# ---- %s" % mod)
            cur = mod
        s, r = new[tid]
        lines.append("%s %s" % (tid, s) if s == "pass" else "%s %s: %s" % (tid, s, r))
    tmp = args.expected + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.expected)), exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.expected)
    print("wrote %s: %d entries (%s)" % (
        args.expected, len(new),
        ", ".join("%s %d" % kv for kv in changes.items()) or "no changes"))
    todo = sum(1 for s, r in new.values() if r.startswith("TODO"))
    if todo:
        print("%d line(s) say `xfail: TODO`: replace each with the missing feature "
              "and its issue, e.g. `xfail: container listings (issue 4)`" % todo)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--run-dir", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--meta", action="append")
    k = sub.add_parser("check")
    k.add_argument("--results", required=True)
    k.add_argument("--expected", required=True)
    u = sub.add_parser("update")
    u.add_argument("--results", required=True)
    u.add_argument("--expected", required=True)
    args = p.parse_args()
    return {"collect": collect, "check": check, "update": update}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

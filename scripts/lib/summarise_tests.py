#!/usr/bin/env python3
"""Counts individual test cases for scripts/test.sh and prints the summary table.

meson 1.0's testlog.json has one record per test program, with no gtest cases in it.
The cases are in testlog.junit.xml instead: meson reads each gtest program's XML
report and files its suites there as "<project>.<test>.<gtest suite>" (a TAP test's
results become one suite "<project>.<test>"). So a gtest or TAP program counts once
per case, any other program once (exit 77 = skipped), and the records that
scripts/test.sh writes itself (build steps, fuzz runs) once each.

  summarise_tests.py clean BUILD_DIR
      Remove the logs and gtest reports a previous `meson test` left, so a program
      that dies before writing its report cannot be counted from an old one.
  summarise_tests.py report [--meson BUILD_DIR] [--records FILE]
      Print the per-suite table, the failures, and the last line
      "tests: N passed, N failed[, N skipped]". Exit 1 if anything failed or no test
      ran, else 0.
  summarise_tests.py fuzz-targets BUILD_DIR
      Print "name<TAB>path" of each executable defined in tests/fuzz/meson.build.

The records file has one line per result: suite<TAB>name<TAB>PASS|FAIL|SKIP<TAB>detail.
Only the Python standard library is used.
"""

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
EMPTY = "EMPTY"  # a gtest program that ran no case: listed, never counted

# meson's TestResult values, mapped to what a reader of the summary cares about.
MESON_RESULT = {
    "OK": PASS,
    "EXPECTEDFAIL": PASS,
    "SKIP": SKIP,
    "FAIL": FAIL,
    "TIMEOUT": FAIL,
    "ERROR": FAIL,
    "INTERRUPT": FAIL,
    "UNEXPECTEDPASS": FAIL,
}


class Outcome:
    __slots__ = ("suite", "name", "result", "detail")

    def __init__(self, suite, name, result, detail=""):
        self.suite, self.name, self.result, self.detail = suite, name, result, detail


def read_json(path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def intro_tests(build_dir):
    """Test name -> (display suite, protocol), from meson's introspection data."""
    tests = {}
    for t in read_json(os.path.join(build_dir, "meson-info", "intro-tests.json"), []):
        suites = t.get("suite") or []
        # A suite is "project:suite"; a test given no suite is in "project" alone.
        first = suites[0] if suites else ""
        project, _, suite = first.partition(":")
        tests[t["name"]] = (suite or project or "default", t.get("protocol", "exitcode"))
    return tests


def project_name(build_dir):
    info = read_json(os.path.join(build_dir, "meson-info", "intro-projectinfo.json"), {})
    return info.get("descriptive_name", "")


def cmd_clean(args):
    build_dir = args.build_dir
    for name in ("testlog.json", "testlog.junit.xml", "testlog.txt"):
        path = os.path.join(build_dir, "meson-logs", name)
        if os.path.exists(path):
            os.remove(path)
    # meson asks each gtest program for "<build dir>/<test name>.xml" and parses
    # whatever file is there afterwards, stale or not.
    for name, (_, protocol) in intro_tests(build_dir).items():
        if protocol == "gtest":
            path = os.path.join(build_dir, name + ".xml")
            if os.path.exists(path):
                os.remove(path)
    return 0


def junit_cases(build_dir, project, test_names):
    """Test name as meson printed it -> list of (case name, PASS|FAIL|SKIP, detail),
    from testlog.junit.xml."""
    cases = {}
    path = os.path.join(build_dir, "meson-logs", "testlog.junit.xml")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return cases
    # Longest names first so "a_b" is not taken for "a" when both exist.
    names = sorted(test_names, key=len, reverse=True)
    for suite in root.iter("testsuite"):
        sname = suite.get("name", "")
        owner, group = None, ""
        for n in names:
            prefix = f"{project}.{n}"
            if sname == prefix:
                owner = n
                break
            if sname.startswith(prefix + "."):
                owner, group = n, sname[len(prefix) + 1:]
                break
        if owner is None:
            continue
        for case in suite.findall("testcase"):
            label = case.get("name", "?")
            if group:
                label = f"{group}.{label}"
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            detail = ""
            if bad is not None:
                result = FAIL
                # gtest puts "file:line" first in the message: enough to find it.
                detail = (bad.get("message") or bad.text or "").strip().split("\n")[0][:120]
            elif case.find("skipped") is not None or case.get("status") == "notrun":
                result = SKIP
            else:
                result = PASS
            cases.setdefault(owner, []).append((label, result, detail))
    return cases


def meson_outcomes(build_dir):
    out = []
    log_path = os.path.join(build_dir, "meson-logs", "testlog.json")
    if not os.path.exists(log_path):
        out.append(Outcome("meson", "meson test", FAIL,
                           f"no {log_path}: meson test did not run to the end"))
        return out
    tests = intro_tests(build_dir)
    records = []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    cases = junit_cases(build_dir, project_name(build_dir),
                        {rec.get("name", "?") for rec in records})
    for rec in records:
        pretty = rec.get("name", "?")
        # With several suites meson names a test "project:suite / name".
        name = pretty
        if name not in tests and " / " in name:
            name = name.rsplit(" / ", 1)[1]
        suite, protocol = tests.get(name, ("default", "exitcode"))
        result = MESON_RESULT.get(rec.get("result", ""), FAIL)
        rc = rec.get("returncode")
        own = cases.get(pretty)
        if own:
            for label, case_result, detail in own:
                out.append(Outcome(suite, f"{name}: {label}", case_result, detail))
            # A program can fail with every case passed: a crash after the
            # report, a sanitizer at exit, a timeout. That is a failure too.
            if result == FAIL and not any(c[1] == FAIL for c in own):
                out.append(Outcome(suite, name, FAIL,
                                   f"{rec.get('result')} (exit {rc}) after its cases passed"))
        elif protocol == "gtest" and result == PASS:
            # It passed and reported no case: nothing ran, so nothing is counted.
            out.append(Outcome(suite, name, EMPTY, "a gtest program with no test cases"))
        else:
            detail = ""
            if result == FAIL:
                detail = f"{rec.get('result')} (exit {rc})"
            elif result == SKIP:
                # A skipping script says why on its last line of output.
                lines = [l.strip() for l in (rec.get("stdout") or "").splitlines() if l.strip()]
                detail = lines[-1][:120] if lines else ""
            out.append(Outcome(suite, name, result, detail))
    return out


def record_outcomes(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", 3) + ["", "", "", ""]
            suite, name, result, detail = parts[:4]
            if result not in (PASS, FAIL, SKIP):
                detail = f"unknown result {result!r}: {detail}"
                result = FAIL
            out.append(Outcome(suite or "default", name, result, detail))
    return out


def cmd_report(args):
    outcomes = []
    if args.meson:
        outcomes += meson_outcomes(args.meson)
    if args.records and os.path.exists(args.records):
        outcomes += record_outcomes(args.records)

    order, table = [], {}
    for o in outcomes:
        if o.suite not in table:
            order.append(o.suite)
            table[o.suite] = {PASS: 0, FAIL: 0, SKIP: 0, EMPTY: 0}
        table[o.suite][o.result] += 1
    totals = {r: sum(t[r] for t in table.values()) for r in (PASS, FAIL, SKIP)}

    width = max([len("suite"), len("total")] + [len(s) for s in order])
    header = f"{'suite':<{width}}  {'passed':>7}  {'failed':>7}  {'skipped':>7}"
    print()
    print(header)
    print("-" * len(header))
    for s in order:
        t = table[s]
        print(f"{s:<{width}}  {t[PASS]:>7}  {t[FAIL]:>7}  {t[SKIP]:>7}")
    print("-" * len(header))
    print(f"{'total':<{width}}  {totals[PASS]:>7}  {totals[FAIL]:>7}  {totals[SKIP]:>7}")

    failed = [o for o in outcomes if o.result == FAIL]
    if failed:
        print()
        print("failed:")
        for o in failed:
            print(f"  [{o.suite}] {o.name}" + (f": {o.detail}" if o.detail else ""))
    skipped = [o for o in outcomes if o.result == SKIP]
    if skipped:
        print()
        print("skipped:")
        for o in skipped:
            print(f"  [{o.suite}] {o.name}" + (f": {o.detail}" if o.detail else ""))

    empty = [o for o in outcomes if o.result == EMPTY]
    if empty:
        print()
        print("ran no test case (not counted):")
        for o in empty:
            print(f"  [{o.suite}] {o.name}")

    ran = totals[PASS] + totals[FAIL]
    if ran == 0:
        print()
        print("no test ran")
    final = f"tests: {totals[PASS]} passed, {totals[FAIL]} failed"
    if totals[SKIP]:
        final += f", {totals[SKIP]} skipped"
    print()
    print(final)
    return 1 if totals[FAIL] or ran == 0 else 0


def cmd_fuzz_targets(args):
    targets = read_json(os.path.join(args.build_dir, "meson-info", "intro-targets.json"), [])
    for t in targets:
        defined = t.get("defined_in", "").replace(os.sep, "/")
        if t.get("type") == "executable" and defined.endswith("tests/fuzz/meson.build"):
            print(f"{t['name']}\t{t['filename'][0]}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("clean")
    p.add_argument("build_dir")
    p.set_defaults(func=cmd_clean)
    p = sub.add_parser("report")
    p.add_argument("--meson", metavar="BUILD_DIR")
    p.add_argument("--records", metavar="FILE")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("fuzz-targets")
    p.add_argument("build_dir")
    p.set_defaults(func=cmd_fuzz_targets)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

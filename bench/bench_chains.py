#!/usr/bin/env python3
"""Chain correctness against the test guest's truth, per sampling mode.

For each mode (qtop-prof --stop, --no-stop by default) and each vCPU count,
boots the test guest once, takes --samples samples at the maximum rate and
classifies every sample whose leaf is a documented leaf of truth.json:
  exact  its whole chain root->leaf is a truth.json chain;
  cut    marked as cut ([unstable]/[truncated]) and what is shown is the
         leaf end of a truth.json chain (right, but incomplete);
  wrong  anything else (a chain that would mislead).
Also the samples/s of the run.  Prints a markdown table; asserts nothing.

Usage: bench_chains.py [--build DIR] [--arch x86_64] [--smp 1,2]
                       [--samples 3000] [--modes stop,no-stop] [--reps 1]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest import Guest  # noqa: E402
from profile_guest import parse_folded, strip  # noqa: E402


def classify(stacks, truth, smp):
    by_leaf = {}
    for ch in truth["chains"]:
        if ch["cpu"] < smp:
            by_leaf.setdefault(ch["frames"][-1]["fn"], []).append(
                [f["fn"] for f in ch["frames"]])
    n = {"exact": 0, "cut": 0, "wrong": 0, "other": 0}
    for frames, c in stacks:
        body = [strip(x) for x in frames[1:]]          # frames[0]: the task
        leaf = body[-1] if body else ""
        if leaf not in by_leaf:
            n["other"] += c
            continue
        shown = [x for x in body if not x.startswith("[")]
        if len(shown) == len(body) and shown in by_leaf[leaf]:
            n["exact"] += c
        elif len(shown) < len(body) and any(ch[-len(shown):] == shown
                                            for ch in by_leaf[leaf]):
            n["cut"] += c
        else:
            n["wrong"] += c
    return n


def run(build, prof, g, mode, samples, tmp, rep):
    t = g.truth
    folded = os.path.join(tmp, "out-%s-%d-%d.folded" % (mode, rep, len(os.listdir(tmp))))
    cmd = [prof, "--qmp", g.qmp_path,
           "--batch", "--hz", "0", "--samples", str(samples),
           "--kernel", os.path.join(build, t["kernel"]),
           "--sysroot", os.path.join(build, t["sysroot"]),
           "-o", folded, "--" + mode]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("qtop-prof failed: %s\n%s" % (" ".join(cmd), p.stderr))
    stacks = parse_folded(folded)
    return classify(stacks, t, g.smp), sum(c for _, c in stacks) / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("QTOP_BUILD",
                                                      os.path.join(ROOT, "build-bench")))
    ap.add_argument("--arch", default="x86_64")
    ap.add_argument("--smp", default="1,2")
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--modes", default="stop,no-stop")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--prof", action="append", default=[], metavar="LABEL=PATH",
                    help="qtop-prof binaries to compare in the same run "
                         "(default: BUILD/src/qtop-prof)")
    a = ap.parse_args()
    profs = [p.split("=", 1) for p in a.prof] or \
        [("qtop-prof", os.path.join(a.build, "src", "qtop-prof"))]
    os.environ.pop("DEBUGINFOD_URLS", None)
    print("| guest | binary | mode | samples/s (incl. start-up) | exact % | cut % | wrong % | samples |")
    print("|---|---|---|---|---|---|---|---|")
    for smp in [int(x) for x in a.smp.split(",")]:
        with Guest(a.build, arch=a.arch, smp=smp) as g, \
                tempfile.TemporaryDirectory() as tmp:
            for rep in range(a.reps):
                for mode in a.modes.split(","):
                    for label, prof in profs:
                        n, rate = run(a.build, prof, g, mode, a.samples, tmp, rep)
                        tot = n["exact"] + n["cut"] + n["wrong"]
                        pct = {k: 100.0 * n[k] / tot if tot else 0 for k in n}
                        print("| %s %d vCPU | %s | --%s | %.0f | %.1f | %.1f | %.1f | %d |" % (
                            a.arch, smp, label, mode, rate, pct["exact"], pct["cut"],
                            pct["wrong"], tot), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Exact mode: rate qtop-plugin.so holds inside QEMU 10.0 and what it loses.

    python3 bench/bench_plugin.py BUILD_DIR [SECONDS] [SMP]

Boots the test guest (x86_64, TCG) under QEMU 10.0 with the plugin, runs
qtop-prof --batch --engine plugin for SECONDS (default 8) at 1 kHz and at
10 kHz per vCPU, and prints one line per rate: achieved samples/s per vCPU,
arms, records, arms served late or merged (vCPU thread not running, not
sampled), lost in QEMU's rings (qtop-prof behind), ring drops here, and the
CPU QEMU's process used (cores) during the run.
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from guest import Guest  # noqa: E402

Q10 = os.environ.get("QTOP_QEMU10_DIR", os.path.expanduser("~/.cache/qtop-prof/qemu-10.0"))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])


def main():
    build = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    smp = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    b = os.path.join(Q10, "usr", "bin", "qemu-system-x86_64")
    if not os.access(b, os.X_OK):
        print("SKIP: no QEMU 10.0 at %s" % b)
        return 77
    argv = [b, "-L", os.path.join(Q10, "usr", "share", "qemu"), "-L", os.path.join(Q10, "usr", "share", "seabios")]
    env = dict(os.environ, QEMU_MODULE_DIR=os.path.join(Q10, "usr", "lib", "x86_64-linux-gnu", "qemu"))
    qtop = os.path.join(build, "src", "qtop-prof")
    with Guest(build, arch="x86_64", smp=smp, qemu_argv=argv, env=env,
               extra_args=["-plugin", os.path.join(build, "plugin", "qtop-plugin.so")]) as g:
        hz_ = os.sysconf("SC_CLK_TCK")
        prev = [0] * 6     # the plugin's counters run from QEMU's start
        for hz in (1000, 10000):
            c0, t0 = cpu_ticks(g.pid), time.time()
            p = subprocess.run([qtop, "--qmp", g.qmp_path, "--batch", "--engine", "plugin",
                                "--hz", str(hz), "--duration", str(secs),
                                "--kernel", g.path(g.truth["kernel"]), "--top", "0"],
                               capture_output=True, text=True, timeout=secs + 120)
            cores = (cpu_ticks(g.pid) - c0) / hz_ / (time.time() - t0)
            err = p.stderr
            m = re.search(r"(\d+) samples in ([\d.]+) s \(([\d.]+)/s\), (\d+) dropped", err)
            s = re.search(r"(\d+) arms, (\d+) records, (\d+) served late \+ (\d+) merged.*?(\d+) while halted, (\d+) lost", err)
            if p.returncode != 0 or not m or not s:
                print("bench_plugin: run at %d Hz failed:\n%s" % (hz, err))
                return 1
            cur = [int(s.group(i)) for i in range(1, 7)]
            d = [a - b for a, b in zip(cur, prev)]
            prev = cur
            print("bench_plugin: QEMU 10.0 TCG, test guest x86_64 smp%d, asked %5d Hz/vCPU: "
                  "achieved %7.1f /s per vCPU, %s samples in %s s; arms %s, records %s, "
                  "late %s + merged %s (vCPU thread not running), lost in QEMU's rings %s, "
                  "dropped here %s; QEMU used %.2f cores"
                  % (smp, hz, float(m.group(3)) / smp, m.group(1), m.group(2), d[0],
                     d[1], d[2], d[3], d[5], m.group(4), cores), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""qtop-prof with qtop-plugin.so inside QEMU 10.0 (TCG), on the test guest.

Usage: plugin_guest.py BUILD_DIR CASE
  profile    --engine plugin: leaf split per vCPU against the guest's own
             clock (its per-phase kilo-cycles over the profiler's window)
             and truth.json, chains complete; --engine auto picks the plugin
  reattach   qtop-prof SIGKILLed mid-run, a new one attaches at once; the
             guest runs on
  qemu_dies  QEMU SIGKILLed mid-run: qtop-prof ends and says why; the
             segment the killed QEMU left is then refused as stale
  noplugin   QEMU 7.2 (no usable plugin API): -plugin fails with a message;
             --engine plugin on a guest without the plugin says why,
             --engine auto falls back to QMP and says so
QEMU 10.0 comes from tests/lib/qemus.py ($QTOP_QEMU10_DIR, default
~/.cache/qtop-prof/qemu-10.0): a missing one fails the test, unless
QTOP_NO_QEMU10=1 (then exit 77, skip).
"""
import glob
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from guest import Guest, qemu_or_exit  # noqa: E402
from qmp import QMP  # noqa: E402

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def qemu10():
    """QEMU 10.0's argv and env (tests/lib/qemus.py): missing, the test
    fails, or skips (77) with QTOP_NO_QEMU10=1."""
    q = qemu_or_exit("qemu-system-x86_64", "10.0")
    if not q:
        sys.exit(77)
    return q.argv, q.env


def parse_folded(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                fr, _, n = line.rpartition(" ")
                out.append((fr.split(";"), int(n)))
    return out


def strip(fr):
    return fr[:-4] if fr.endswith("_[k]") else fr


class Env:
    def __init__(self, build):
        self.build = build
        self.qtop = os.path.join(build, "src", "qtop-prof")
        self.plugin = os.path.join(build, "plugin", "qtop-plugin.so")

    def guest(self, smp=2, plugin_args=""):
        argv, env = qemu10()
        return Guest(self.build, arch="x86_64", smp=smp, qemu_argv=argv, env=env,
                     extra_args=["-plugin", self.plugin + plugin_args])

    def cmd(self, g, *extra):
        t = g.truth
        return [self.qtop, "--qmp", g.qmp_path, "--batch",
                "--kernel", os.path.join(self.build, t["kernel"]),
                "--sysroot", os.path.join(self.build, t["sysroot"]),
                "--comm", "current_task->name", "--comm", "1:current_task_ap->name"] + list(extra)


def case_profile(e):
    with e.guest(smp=2) as g:
        t = g.truth
        out = os.path.join(g.dir, "plugin.folded")
        k0 = g.phase_kcycles()
        c = e.cmd(g, "--engine", "plugin", "--hz", "1000", "--samples", "8000", "-o", out, "--top", "12")
        print("+", " ".join(c), flush=True)
        p = subprocess.run(c, capture_output=True, text=True, timeout=300)
        k1 = g.phase_kcycles(newer_than=k0)
        print(p.stdout + p.stderr, flush=True)
        check(p.returncode == 0, "qtop-prof --engine plugin exits 0")
        check("engine plugin" in p.stderr, "stderr names the plugin engine")
        if p.returncode != 0:
            return
        stacks = parse_folded(out)
        total = sum(n for _, n in stacks)
        check(total >= 7000, "at least 7000 samples (%d)" % total)
        clock = g.window_split(k0, k1) if k0 and k1 else {}
        # Per vCPU: the plugin samples each vCPU while its thread runs, so
        # vCPUs get different counts on a loaded host; the split inside a
        # vCPU is what must hold.  Interrupt entries etc. are "other".
        for cpu in t["cpus"]:
            if cpu["smp_min"] > 2:
                continue
            leaves = {lf["leaf"]: lf["share"] for lf in cpu["leaves"]}
            got = {}
            for fr, n in stacks:
                lf = strip(fr[-1])
                if lf in leaves:
                    got[lf] = got.get(lf, 0) + n
            tot = sum(got.values())
            for lf, share in sorted(leaves.items()):
                meas = 100.0 * got.get(lf, 0) / tot if tot else 0
                if cpu["cpu"] == 0 and lf in clock:
                    ref = clock[lf]
                    check(abs(meas - ref) <= 2.5, "vCPU 0 leaf %s: %.1f%% vs %.1f%% by the "
                          "guest's clock (+-2.5 pp; nominal %d%%)" % (lf, meas, ref, share))
                else:
                    check(abs(meas - share) <= 3, "vCPU %d leaf %s: %.1f%% vs %d%% (+-3 pp)"
                          % (cpu["cpu"], lf, meas, share))
        # Chains root -> leaf, complete.
        for ch in t["chains"]:
            if ch["cpu"] >= 2:
                continue
            names = [f["fn"] for f in ch["frames"]]
            n_leaf = n_full = 0
            for fr, n in stacks:
                if strip(fr[-1]) != names[-1]:
                    continue
                n_leaf += n
                if [strip(x) for x in fr[1:]] == names and fr[0] == ch["task"]:
                    n_full += n
            check(n_leaf and n_full >= 0.98 * n_leaf, "chain %s (task %s): complete in %d of %d"
                  % (";".join(names), ch["task"], n_full, n_leaf))
        with QMP(g.qmp_path) as q:
            check(q.execute("query-status").get("running") is True, "guest still running")
        p = subprocess.run(e.cmd(g, "--engine", "auto", "--hz", "200", "--samples", "200"),
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0 and "engine plugin (auto" in p.stderr,
              "--engine auto picks the plugin: " + (p.stderr.splitlines() or [""])[0])


def case_reattach(e):
    with e.guest(smp=1) as g:
        c = e.cmd(g, "--engine", "plugin", "--hz", "1000", "--duration", "60")
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        t0 = time.time()
        q = subprocess.run(e.cmd(g, "--engine", "plugin", "--hz", "1000", "--samples", "1000"),
                           capture_output=True, text=True, timeout=120)
        print(q.stderr, flush=True)
        check(q.returncode == 0, "a new qtop-prof attaches after one was SIGKILLed (%.1f s)"
              % (time.time() - t0))
        check("1000 samples" in q.stderr, "and gets its samples")
        with QMP(g.qmp_path) as m:
            check(m.execute("query-status").get("running") is True, "guest still running")
        # Two at once: the second is refused while the first is live.
        a = subprocess.Popen(e.cmd(g, "--engine", "plugin", "--hz", "100", "--duration", "8"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        b = subprocess.run(e.cmd(g, "--engine", "plugin", "--samples", "10"),
                           capture_output=True, text=True, timeout=60)
        check(b.returncode != 0 and "another qtop-prof" in b.stderr,
              "a second qtop-prof is refused: " + b.stderr.strip()[-120:])
        a.wait(timeout=60)
        check(a.returncode == 0, "the first one finished normally")


def case_qemu_dies(e):
    g = e.guest(smp=1)
    g.start()
    try:
        pid = g.pid
        c = e.cmd(g, "--engine", "plugin", "--hz", "1000", "--duration", "60")
        p = subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        os.kill(pid, signal.SIGKILL)
        t0 = time.time()
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        print(err, flush=True)
        check(time.time() - t0 < 10, "qtop-prof ended %.1f s after QEMU died" % (time.time() - t0))
        check("gone" in err or "exited" in err or "beating" in err, "and said why")
        seg = "/dev/shm/qtop-plugin-%d" % pid
        check(os.path.exists(seg), "the killed QEMU left its segment (%s)" % seg)
        s = subprocess.run([e.qtop, "--qmp", "/nonexistent", "--batch", "--engine", "plugin",
                            "--plugin-shm", os.path.basename(seg), "--samples", "10"],
                           capture_output=True, text=True, timeout=60)
        check(s.returncode != 0 and "stale" in s.stderr, "stale segment refused: " + s.stderr.strip())
    finally:
        g.stop()
        for f in glob.glob("/dev/shm/qtop-plugin-%d" % g.pid if g.pid else ""):
            os.unlink(f)


def case_noplugin(e):
    r = subprocess.run(["qemu-system-x86_64", "-plugin", e.plugin, "-accel", "tcg", "-display", "none",
                        "-nodefaults", "-no-reboot", "-kernel", "/nonexistent"],
                       capture_output=True, text=True, timeout=60)
    print("QEMU 7.2 with -plugin:", r.returncode, r.stderr.strip()[:300], flush=True)
    check(r.returncode != 0 and r.stderr.strip() != "",
          "QEMU 7.2 refuses -plugin qtop-plugin.so with a message")
    with Guest(e.build, arch="x86_64", smp=1) as g:
        p = subprocess.run(e.cmd(g, "--engine", "plugin", "--samples", "10"),
                           capture_output=True, text=True, timeout=60)
        print(p.stderr, flush=True)
        check(p.returncode != 0 and "not started with" in p.stderr,
              "--engine plugin without the plugin: says QEMU has no plugin loaded")
        p = subprocess.run(e.cmd(g, "--engine", "auto", "--hz", "100", "--samples", "100"),
                           capture_output=True, text=True, timeout=120)
        print(p.stderr, flush=True)
        check(p.returncode == 0 and "engine qmp (auto: no plugin" in p.stderr,
              "--engine auto falls back to QMP and says why")


def main():
    e = Env(sys.argv[1])
    {"profile": case_profile, "reattach": case_reattach, "qemu_dies": case_qemu_dies,
     "noplugin": case_noplugin}[sys.argv[2]](e)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] != "noplugin":
        qemu10()
    main()
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)

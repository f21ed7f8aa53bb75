#!/usr/bin/env python3
"""qtop-prof with qtop-plugin.so inside QEMU 10.0 (TCG), on the test guest.

Usage: plugin_guest.py BUILD_DIR CASE
  profile    --engine plugin: leaf split per vCPU against the guest's own
             clock (its per-phase kilo-cycles over the profiler's window)
             and truth.json, chains complete; --engine auto picks the plugin
  reattach   qtop-prof SIGKILLed mid-run: QEMU runs on and the guest keeps
             making progress (its own clock), a new one attaches at once
             and profiles; a second one at once is refused
  otherbuild the segment says it was made by another build (version or
             build id patched in the live segment): --engine plugin refuses
             naming both builds, --engine auto falls back to QMP saying why;
             the bytes put back, the plugin is used again
  stale      leftover segments whose QEMU is gone: --engine auto on a QEMU
             without the plugin falls back to QMP (leftovers ignored, not
             removed); named (--plugin-shm) it says stale and removes it
             (provably stale: its QEMU's pid is gone); a file that is not a
             plugin segment and the segment of a live QEMU are left alone;
             a QEMU started with name= of a stale segment replaces it
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
import re
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


def qemu10(binary="qemu-system-x86_64"):
    """QEMU 10.0's argv and env (tests/lib/qemus.py): missing, the test
    fails, or skips (77) with QTOP_NO_QEMU10=1."""
    q = qemu_or_exit(binary, "10.0")
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

    def guest(self, smp=2, plugin_args="", arch="x86_64"):
        # the i386 guest on qemu-system-i386 (the plugin reads e*
        # registers there), x86_64 on qemu-system-x86_64
        argv, env = qemu10("qemu-system-i386" if arch == "i386" else "qemu-system-x86_64")
        return Guest(self.build, arch=arch, smp=smp, qemu_argv=argv, env=env,
                     extra_args=["-plugin", self.plugin + plugin_args])

    def cmd(self, g, *extra):
        t = g.truth
        return [self.qtop, "--qmp", g.qmp_path, "--batch",
                "--kernel", os.path.join(self.build, t["kernel"]),
                "--sysroot", os.path.join(self.build, t["sysroot"]),
                "--comm", "current_task->name", "--comm", "1:current_task_ap->name"] + list(extra)


def case_profile(e, arch="x86_64", clock="count"):
    # Both clocks against the same truth: x86_64 with clock=count (the
    # vCPUs count blocks), i386 with the default at 1 kHz (timer signals).
    args = ",clock=count" if clock == "count" else ""
    with e.guest(smp=2, arch=arch, plugin_args=args) as g:
        t = g.truth
        out = os.path.join(g.dir, "plugin.folded")
        k0 = g.phase_kcycles()
        c = e.cmd(g, "--engine", "plugin", "--hz", "1000", "--samples", "16000", "-o", out, "--top", "12")
        print("+", " ".join(c), flush=True)
        p = subprocess.run(c, capture_output=True, text=True, timeout=300)
        k1 = g.phase_kcycles(newer_than=k0)
        print(p.stdout + p.stderr, flush=True)
        check(p.returncode == 0, "qtop-prof --engine plugin exits 0")
        check("engine plugin" in p.stderr, "stderr names the plugin engine")
        want = "block counting" if clock == "count" else "timer signals"
        check("clock: " + want in p.stderr, "samples clocked by " + want)
        if p.returncode != 0:
            return
        stacks = parse_folded(out)
        total = sum(n for _, n in stacks)
        check(total >= 14000, "at least 14000 samples (%d)" % total)
        clock = g.window_split(k0, k1) if k0 and k1 else {}
        if k0 and k1:       # vCPU 1's own clock, on its own
            clock.update(g.window_split(k0, k1, keys=("ap_x", "ap_y")))
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
                # Two references.  The nominal split (the instruction
                # split) holds over whole rounds only: a window that cuts
                # a round shifts it.  Each vCPU's own clock (TSC over the
                # window) has no edge effect, but also counts time a loaded
                # host kept the vCPU thread off a core, which the plugin
                # rightly does not sample.  Quiet host: the clock; loaded:
                # the nominal.  Within +-2.5 pp of either.
                ref = clock.get(lf)
                ok = abs(meas - share) <= 2.5 or (ref is not None and abs(meas - ref) <= 2.5)
                check(ok, "vCPU %d leaf %s: %.1f%% vs %d%% nominal%s (+-2.5 pp of either)"
                      % (cpu["cpu"], lf, meas, share,
                         ", %.1f%% by its own clock" % ref if ref is not None else ""))
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
        k0 = g.phase_kcycles()
        k1 = g.phase_kcycles(newer_than=k0, timeout=15)
        check(k0 and k1 and k1[0] > k0[0] and sum(k1[1].values()) > sum(k0[1].values()),
              "the guest keeps making progress after qtop-prof was SIGKILLed "
              "(progress lines %s -> %s)" % (k0 and k0[0], k1 and k1[0]))
        t0 = time.time()
        q = subprocess.run(e.cmd(g, "--engine", "plugin", "--hz", "1000", "--samples", "1000"),
                           capture_output=True, text=True, timeout=120)
        print(q.stderr, flush=True)
        check(q.returncode == 0, "a new qtop-prof attaches after one was SIGKILLed (%.1f s)"
              % (time.time() - t0))
        check("1000 samples" in q.stderr, "and gets its samples")
        # Nothing is sampled while no qtop-prof is attached: q ran on
        # timer signals (1 kHz), and they stop when it leaves (3 s
        # detached would add 3,000 arms).  q2 at 5 kHz counts blocks: the
        # counting instrumentation goes in on attach (one switch) and out
        # again when it leaves (one more, seen by q3 on signals).
        time.sleep(3)
        q2 = subprocess.run(e.cmd(g, "--engine", "plugin", "--hz", "5000", "--samples", "1000"),
                            capture_output=True, text=True, timeout=120)
        time.sleep(3)
        q3 = subprocess.run(e.cmd(g, "--engine", "plugin", "--hz", "1000", "--samples", "500"),
                            capture_output=True, text=True, timeout=120)
        print(q2.stderr + q3.stderr, flush=True)
        a1, a2 = (re.search(r"since QEMU started\): (\d+) arms", x.stderr) for x in (q, q2))
        check(a1 and a2 and 1000 <= int(a2.group(1)) - int(a1.group(1)) < 2000,
              "no arms while detached: %s -> %s arms over 3 s detached and 1000 samples"
              % (a1 and a1.group(1), a2 and a2.group(1)))
        check("clock: timer signals" in q.stderr and "clock: block counting" in q2.stderr and
              "clock: timer signals" in q3.stderr,
              "auto clock: timer signals at 1 kHz, block counting at 5 kHz")
        r1, r2, r3 = (re.search(r"instrumentation switched (\d+) times", x.stderr)
                      for x in (q, q2, q3))
        # (q2's own summary may come before or after its detach switch:
        # it stops sampling at its 1000th sample, then prints)
        check(r1 and r2 and r3 and int(r2.group(1)) - int(r1.group(1)) in (1, 2) and
              int(r3.group(1)) - int(r1.group(1)) == 2,
              "the counter add goes in for counting and out when that qtop-prof leaves "
              "(instrumentation switches: %s -> %s -> %s)"
              % (r1 and r1.group(1), r2 and r2.group(1), r3 and r3.group(1)))
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


def seg_of(g):
    return "/dev/shm/qtop-plugin-%d" % g.pid


BUILD_OFF = 16      # plugin_shm.h: magic[8], version, ctl_bytes, build[64]


def case_otherbuild(e):
    with e.guest(smp=1) as g:
        seg = seg_of(g)
        with open(seg, "rb") as f:
            head = f.read(BUILD_OFF + 64)
        ours = head[BUILD_OFF:].split(b"\0")[0].decode()
        print("segment build id:", ours, flush=True)
        check(ours.startswith("v"), "the segment carries a build id (%s)" % ours)
        for label, patch in (("build id", (BUILD_OFF, b"v2/another-build-test\0")),
                             ("version", (8, (1).to_bytes(4, "little")))):
            with open(seg, "r+b") as f:
                f.seek(patch[0])
                f.write(patch[1])
            p = subprocess.run(e.cmd(g, "--engine", "plugin", "--samples", "10"),
                               capture_output=True, text=True, timeout=60)
            print(p.stderr, flush=True)
            theirs = "another-build-test" if label == "build id" else "version 1"
            check(p.returncode != 0 and "another build" in p.stderr and theirs in p.stderr
                  and ours in p.stderr,
                  "other %s: --engine plugin refuses, naming both builds" % label)
            p = subprocess.run(e.cmd(g, "--engine", "auto", "--hz", "100", "--samples", "50"),
                               capture_output=True, text=True, timeout=120)
            print(p.stderr, flush=True)
            check(p.returncode == 0 and "engine qmp (auto: no plugin" in p.stderr
                  and "another build" in p.stderr,
                  "other %s: --engine auto falls back to QMP and says why" % label)
            with open(seg, "r+b") as f:
                f.write(head)
        check(os.path.exists(seg), "the segment was not removed")
        p = subprocess.run(e.cmd(g, "--engine", "plugin", "--hz", "500", "--samples", "200"),
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0 and "200 samples" in p.stderr,
              "header put back: the plugin is used again")


def case_stale(e):
    made = []
    try:
        # A QEMU with the plugin, SIGKILLed: its segment is left behind.
        g0 = e.guest(smp=1)
        g0.start()
        dead = seg_of(g0)
        os.kill(g0.pid, signal.SIGKILL)
        g0.proc.wait()
        g0.stop()
        check(os.path.exists(dead), "a SIGKILLed QEMU leaves %s" % dead)
        made.append(dead)
        with open(dead, "rb") as f:
            stale_bytes = f.read()
        # the same stale bytes under a name= a new QEMU will ask for, and a
        # file in the plugin's name space that is no plugin segment
        named = "/dev/shm/qtop-plugin-test-stale-%d" % os.getpid()
        foreign = "/dev/shm/qtop-plugin-test-foreign-%d" % os.getpid()
        for path, data in ((named, stale_bytes), (foreign, b"not a segment\n" * 512)):
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o600)
            made.append(path)
        argv, env = qemu10()
        with Guest(e.build, arch="x86_64", smp=1, qemu_argv=argv, env=env) as g, \
                e.guest(smp=1, plugin_args=",name=" + os.path.basename(named)) as live:
            # the live QEMU's plugin replaced the stale segment of its name
            with open(named, "rb") as f:
                f.seek(BUILD_OFF + 64 + 8)     # version 2: total_bytes, then qemu_pid
                pid = int.from_bytes(f.read(4), "little", signed=True)
            check(pid == live.pid, "a QEMU started with name= of a stale segment "
                  "replaced it (segment names pid %d, QEMU is %d)" % (pid, live.pid))
            p = subprocess.run(e.cmd(g, "--engine", "auto", "--hz", "100", "--samples", "50"),
                               capture_output=True, text=True, timeout=120)
            print(p.stderr, flush=True)
            check(p.returncode == 0 and "engine qmp (auto: no plugin" in p.stderr,
                  "leftover segments, QEMU without the plugin: --engine auto falls back "
                  "to QMP and says why")
            check(os.path.exists(dead) and os.path.exists(foreign) and os.path.exists(named),
                  "segments it was not asked about are left alone")
            p = subprocess.run(e.cmd(g, "--engine", "auto", "--hz", "100", "--samples", "50",
                                     "--plugin-shm", os.path.basename(dead)),
                               capture_output=True, text=True, timeout=120)
            print(p.stderr, flush=True)
            check(p.returncode == 0 and "engine qmp (auto: no plugin" in p.stderr and
                  "stale" in p.stderr and "removed" in p.stderr,
                  "named stale segment: auto falls back to QMP, says stale and removed")
            check(not os.path.exists(dead), "the provably stale segment is gone")
            p = subprocess.run(e.cmd(g, "--engine", "plugin", "--samples", "10",
                                     "--plugin-shm", os.path.basename(foreign)),
                               capture_output=True, text=True, timeout=60)
            print(p.stderr, flush=True)
            check(p.returncode != 0 and "not a qtop-plugin segment" in p.stderr and
                  os.path.exists(foreign), "a file that is not a segment: refused, kept")
            p = subprocess.run(e.cmd(g, "--engine", "plugin", "--samples", "10",
                                     "--plugin-shm", os.path.basename(named)),
                               capture_output=True, text=True, timeout=60)
            print(p.stderr, flush=True)
            check(p.returncode != 0 and os.path.exists(named),
                  "another live QEMU's segment: not used through this QMP, kept")
            p = subprocess.run(e.cmd(live, "--engine", "plugin", "--hz", "500", "--samples", "200",
                                     "--plugin-shm", os.path.basename(named)),
                               capture_output=True, text=True, timeout=120)
            check(p.returncode == 0 and "200 samples" in p.stderr,
                  "the live QEMU's plugin still profiles: " + p.stderr.strip()[-150:])
    finally:
        for f in made:
            if os.path.exists(f):
                os.unlink(f)


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
    {"profile": case_profile, "profile_i386": lambda env: case_profile(env, "i386", "auto"),
     "reattach": case_reattach, "qemu_dies": case_qemu_dies,
     "noplugin": case_noplugin, "otherbuild": case_otherbuild, "stale": case_stale}[sys.argv[2]](e)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] != "noplugin":
        qemu10()
    main()
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)

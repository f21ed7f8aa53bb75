#!/usr/bin/env python3
"""Exact mode (issue #20): every target of qtop-plugin.so in ONE run, QEMU 10.0.

    python3 bench/bench_plugin.py BUILD_DIR [--window S] [--reads N] [--no-linux]

One run, ~4-6 minutes; every comparison is made inside this run (ratios
of adjacent windows), never against numbers from another run.

Test guest (x86_64, TCG, 2 vCPUs; three QEMUs booted side by side: with
qtop-plugin.so, without any plugin, with bench/callret-plugin.so; only
the one measured runs, the others are paused with QMP stop):
  (a) leaf shares of vCPU 0 from the plugin at 1 kHz, against N (default
      10,000) paused reads (stop, info registers, cont) of the same QEMU
      and guest (target +-1.5 pp), and against the guest's instruction-
      count split in truth.json (target +-2.5 pp);
  (b) whole chains: the truth chains complete root to leaf;
  (c) guest slowdown: work rate (the guest's rounds per host second, from
      its serial progress lines) and vCPU alive share ((run + run-queue
      wait) / wall of the vCPU threads, /proc/PID/task/TID/schedstat),
      with the profiler against the mean of the windows just before and
      after without it, at 1 kHz and 10 kHz per vCPU; the plugin loaded
      but idle (no qtop-prof) against no plugin (the paused-sibling
      QEMUs, alternating windows);
  (d) achieved rate against asked at 1 kHz and 10 kHz, samples lost
      (QEMU's rings, qtop-prof's ring), arms not served;
  (e) the QMP engine (qtop-prof's default mode) at 1 kHz beside it: the
      same leaf, chain, slowdown and rate figures;
  (f) the instrumenting approach of other TCG-plugin profilers (a callback
      on every call and ret, bench/callret_plugin.c) against no plugin.
Linux guest (Debian 6.1, 2 vCPUs, busybox dd|sha256sum workload):
  (b) whole kernel chains (outermost kernel frame an entry point, as
      bench/bench_linux.py) with the plugin and with the QMP engine.
"""
import argparse
import atexit
import bisect
import collections
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import qemus  # noqa: E402
from guest import Guest  # noqa: E402
from qmp import QMP, parse_registers  # noqa: E402
from bench_sampling import CpuSnap, Progress  # noqa: E402


def log(*a):
    print(*a, flush=True)


def strip(fr):
    return fr[:-4] if fr.endswith("_[k]") else fr


class Symbols:
    def __init__(self, path):
        out = subprocess.run(["nm", "-S", "-n", "--defined-only", path], check=True,
                             capture_output=True, text=True).stdout
        fs = []
        for line in out.splitlines():
            f = line.split()
            if len(f) == 4 and f[2] in "TtWw":
                fs.append((int(f[0], 16), int(f[1], 16), f[3]))
        fs.sort()
        self.starts = [x[0] for x in fs]
        self.fs = fs

    def lookup(self, pc):
        i = bisect.bisect_right(self.starts, pc) - 1
        if i < 0:
            return None
        a, size, name = self.fs[i]
        return name if not size or pc < a + size else None


def qmp_do(g, fn):
    with QMP(g.qmp_path) as q:
        return fn(q)


def pause(g):
    qmp_do(g, lambda q: q.execute("stop"))


def resume(g):
    qmp_do(g, lambda q: q.execute("cont"))


def work_at(lines, t):
    """The guest's rounds (both vCPUs) at host time t, interpolated between
    the progress lines around it; None without a line on each side."""
    ts = [x[0] for x in lines]
    i = bisect.bisect_right(ts, t)
    if i == 0 or i >= len(lines):
        return None
    (ta, ra, aa), (tb, rb, ab) = lines[i - 1], lines[i]
    f = (t - ta) / (tb - ta) if tb > ta else 0.0
    return (ra + aa) + f * ((rb + ab) - (ra + aa))


class Win:
    """One measured window of a test guest: work rate and alive share
    (work is filled in by finish(), once the line after the window came)."""

    def __init__(self, g, prog):
        self.g, self.prog = g, prog

    def begin(self):
        self.s0 = CpuSnap(self.g.pid)
        self.t0 = time.monotonic()

    def end(self):
        s1 = CpuSnap(self.g.pid)
        self.t1 = time.monotonic()
        wall, vcpu, other = self.s0.delta(s1)
        self.alive = self.s0.runnable_share(wall)
        self.vcpu_cores = sum(vcpu.values()) / wall
        self.other_cpu = other / wall
        return self

    def finish(self):
        a = work_at(self.prog.lines, self.t0)
        b = work_at(self.prog.lines, self.t1)
        dt = self.t1 - self.t0
        self.work = (b - a) / dt if a is not None and b is not None else float("nan")
        # per CPU-second of the vCPU threads: what instrumentation costs
        # per guest instruction, whatever share of the host they got
        self.work_cpu = self.work / self.vcpu_cores if self.vcpu_cores else float("nan")
        return self


def idle_window(g, prog, secs):
    w = Win(g, prog)
    w.begin()
    time.sleep(secs)
    return w.end()


def profiled_window(g, prog, cmd, secs, settle=1.5):
    """qtop-prof runs for settle + secs + 0.5; the window is the middle."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(settle)
    w = Win(g, prog)
    w.begin()
    time.sleep(secs)
    w.end()
    out, err = p.communicate(timeout=secs + 120)
    w.rc, w.out, w.err = p.returncode, out, err
    return w


def sample_cost(r, signal_us):
    """What one sample cost the vCPU thread (us) and how it adds up, for the
    clock the run used (parse_run's figures; signal_us: bench/sigcost)."""
    if r["clock"] == "block counting":
        return (r["cb_us"] + r["checks"] * r["check_us"],
                "record %.2f us + %.1f checks x %.3f us" % (r["cb_us"], r["checks"], r["check_us"]))
    return (r["cb_us"] + r["tick_us"] + signal_us,
            "record %.2f us + handler %.2f us + signal %.2f us" % (r["cb_us"], r["tick_us"],
                                                                   signal_us))


def parse_run(err):
    r = {}
    m = re.search(r"(\d+) samples in ([\d.]+) s \(([\d.]+)/s\), (\d+) dropped", err)
    if m:
        r.update(samples=int(m.group(1)), secs=float(m.group(2)), dropped=int(m.group(4)))
    m = re.search(r"([\d.]+) Hz asked, ([\d.]+)/s per vCPU", err)
    if m:
        r["per_vcpu"] = float(m.group(2))
    m = re.search(r"(\d+) arms, (\d+) records, (\d+) served late \+ (\d+) merged.*?"
                  r"(\d+) while halted, (\d+) lost", err)
    if m:
        r.update(arms=int(m.group(1)), records=int(m.group(2)), late=int(m.group(3)),
                 merged=int(m.group(4)), lost=int(m.group(6)))
    m = re.search(r"([\d.]+) us per record in callbacks, ([\d.]+) checks of the clock per "
                  r"record at ([\d.]+) us each, ([\d.]+) us per arm in timer handlers.*?; "
                  r"clock: ([a-z ]+);", err)
    if m:
        r.update(cb_us=float(m.group(1)), checks=float(m.group(2)), check_us=float(m.group(3)),
                 tick_us=float(m.group(4)), clock=m.group(5))
    return r


def folded(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            line = line.rstrip("\n")
            if line:
                fr, _, n = line.rpartition(" ")
                out.append((fr.split(";"), int(n)))
    return out


def leaf_shares(stacks, leaves):
    got = collections.Counter()
    for fr, n in stacks:
        lf = strip(fr[-1])
        if lf in leaves:
            got[lf] += n
    tot = sum(got.values())
    return {lf: 100.0 * got[lf] / tot if tot else 0.0 for lf in leaves}, tot


def chains_whole(stacks, truth):
    n_leaf = n_full = 0
    for ch in truth["chains"]:
        if ch["cpu"] >= 2:
            continue
        names = [f["fn"] for f in ch["frames"]]
        for fr, n in stacks:
            if strip(fr[-1]) != names[-1]:
                continue
            n_leaf += n
            if [strip(x) for x in fr[1:]] == names and fr[0] == ch["task"]:
                n_full += n
    return 100.0 * n_full / n_leaf if n_leaf else 0.0, n_leaf


def paused_reads(g, n, ksyms, usyms):
    """n x (stop, info registers of vCPU 0, cont) on g: leaf names.  User
    pcs are told apart by CR3 (alpha and beta share 0x400000): beta's CR3
    is the one its kernel leaf k_spin_inner runs in."""
    raw = []
    prev = None
    dup = 0
    rng = random.Random(1)
    t0 = time.monotonic()
    with QMP(g.qmp_path) as q:
        while len(raw) < n:
            q.execute("stop")
            try:
                text = q.hmp("info registers", cpu=0)
            finally:
                q.execute("cont")
            # the vCPU thread may not have run since the last read (the
            # host is loaded): the same registers again measure the host,
            # not the guest (tests/guest/check_split.py does the same)
            if text == prev:
                dup += 1
            else:
                r = parse_registers(text)
                raw.append((r.get("PC", 0), r.get("CR3", 0), r.get("CPL", 0)))
            prev = text
            time.sleep(rng.uniform(0, 0.002))
    dt = time.monotonic() - t0
    kname = [(ksyms.lookup(pc) if cpl == 0 else None) for pc, _, cpl in raw]
    beta_cr3 = collections.Counter(cr3 for (pc, cr3, cpl), k in zip(raw, kname)
                                   if k == "k_spin_inner").most_common(1)
    beta_cr3 = beta_cr3[0][0] if beta_cr3 else None
    names = []
    for (pc, cr3, cpl), k in zip(raw, kname):
        if cpl == 0:
            names.append(k)
        else:
            names.append(usyms["beta" if cr3 == beta_cr3 else "alpha"].lookup(pc))
    return names, dt, dup


def pm(x):
    return "%+.1f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--window", type=float, default=6.0)
    ap.add_argument("--pairs", type=int, default=6,
                    help="(c2) on/off window pairs per rate")
    ap.add_argument("--toggle-window", type=float, default=3.0)
    ap.add_argument("--reads", type=int, default=10000)
    ap.add_argument("--no-linux", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    W = a.window
    try:
        Q = qemus.resolve("10.0", "qemu-system-x86_64")
    except qemus.Unavailable as ex:
        log("SKIP: %s" % ex)
        return 77
    qtop = os.path.join(build, "src", "qtop-prof")
    so = os.path.join(build, "plugin", "qtop-plugin.so")
    cr = os.path.join(build, "bench", "callret-plugin.so")
    t_start = time.monotonic()
    log("bench_plugin: %s; host load %s (1/5/15 min), %d cores; %s" % (
        time.strftime("%Y-%m-%d %H:%M"), " ".join("%.1f" % x for x in os.getloadavg()),
        os.cpu_count(), subprocess.run(Q.argv + ["--version"], capture_output=True, text=True,
                                        env=Q.env).stdout.splitlines()[0]))
    # what a timer signal costs the thread it interrupts, on this host, with
    # no guest running (what the plugin's self-clocked checks avoid;
    # bench/sigcost.c)
    sigcost = {}
    for hz in (1000, 10000):
        r = subprocess.run([os.path.join(build, "bench", "sigcost"), str(hz), "4"],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"sigcost: ([\d.-]+) us per signal per CPU-second", r.stdout)
        sigcost[hz] = float(m.group(1)) if m else float("nan")
    dbg = ["-name", "qtop-bench,debug-threads=on"]
    gP = Guest(build, arch="x86_64", smp=2, qemu_argv=Q.argv, env=Q.env,
               extra_args=dbg + ["-plugin", so])
    gN = Guest(build, arch="x86_64", smp=2, qemu_argv=Q.argv, env=Q.env, extra_args=dbg)
    gI = Guest(build, arch="x86_64", smp=2, qemu_argv=Q.argv, env=Q.env,
               extra_args=dbg + ["-plugin", cr])
    guests = [gP, gN, gI]
    res = {}
    try:
        for g in guests:
            g.start()
            pause(g)
        progs = {}
        for g in guests:
            progs[id(g)] = Progress(g.serial_log)
            progs[id(g)].start()
        truth = gP.truth
        leaves0 = {lf["leaf"]: lf["share"] for c in truth["cpus"] if c["cpu"] == 0
                   for lf in c["leaves"]}

        # (c, f) loaded-idle plugin and call/ret instrumentation against no plugin
        xb = collections.defaultdict(list)
        for rep in range(2):
            for name, g in (("none", gN), ("plugin idle", gP), ("callret", gI)):
                n0 = len(progs[id(g)].lines)
                resume(g)
                t_end = time.monotonic() + 4.0
                while len(progs[id(g)].lines) == n0 and time.monotonic() < t_end:
                    time.sleep(0.02)     # a progress line after the pause
                time.sleep(0.2)
                xb[name].append(idle_window(g, progs[id(g)], W))
                time.sleep(1.3)      # a progress line after the window
                pause(g)
        resume(gP)
        time.sleep(1.0)

        def cmd(engine, hz, secs, out):
            return [qtop, "--qmp", gP.qmp_path, "--batch", "--engine", engine,
                    "--hz", str(hz), "--duration", str(secs),
                    "--kernel", gP.path(truth["kernel"]), "--sysroot", gP.path(truth["sysroot"]),
                    "--comm", "current_task->name", "--comm", "1:current_task_ap->name",
                    "-o", out, "--top", "0"]

        tmp = tempfile.mkdtemp(prefix="bench-plugin-")
        atexit.register(shutil.rmtree, tmp, True)   # leave nothing in /tmp
        P = progs[id(gP)]
        seq = []
        seq.append(("idle", idle_window(gP, P, W)))
        for label, eng, hz, secs in (("plugin 1kHz", "plugin", 1000, 2 * W),
                                     ("plugin 10kHz", "plugin", 10000, W),
                                     ("qmp 1kHz", "qmp", 1000, 2 * W)):
            out = os.path.join(tmp, label.replace(" ", "_") + ".folded")
            w = profiled_window(gP, P, cmd(eng, hz, secs + 2.0, out), secs)
            w.run = parse_run(w.err)
            w.stacks = folded(out)
            w.hz = hz
            if w.rc:
                log("  %s: rc=%d %s" % (label, w.rc, w.err.strip()[-400:]))
            seq.append((label, w))
            seq.append(("idle", idle_window(gP, P, W)))

        # (c2) sampling switched on and off under one attached qtop-prof
        # (bench/qps_toggle): adjacent windows of one QEMU and one run,
        # in alternating order, so drift and qtop-prof's start cancel out
        toggle = os.path.join(build, "bench", "qps_toggle")
        shm = "qtop-plugin-%d" % gP.pid
        tog = {}
        for label, hz in (("1kHz", 1000), ("10kHz", 10000)):
            out = os.path.join(tmp, "toggle.folded")
            p = subprocess.Popen(cmd("plugin", hz, a.pairs * 2 * (a.toggle_window + 1.0) + 30, out),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            pairs = []
            for i in range(a.pairs):
                pair = {}
                for state in (("on", "off") if i % 2 == 0 else ("off", "on")):
                    subprocess.run([toggle, shm, state], check=True)
                    time.sleep(0.5)
                    w = Win(gP, P)
                    w.begin()
                    time.sleep(a.toggle_window)
                    pair[state] = w.end()
                pairs.append(pair)
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=120)
            tog[label] = pairs

        # (a) the paused reference on the same QEMU and guest (plugin idle)
        ksyms = Symbols(gP.path(truth["kernel"]))
        usyms = {p: Symbols(os.path.join(gP.path(truth["sysroot"]), p)) for p in ("alpha", "beta")}
        names, pdt, pdup = paused_reads(gP, a.reads, ksyms, usyms)
        pshare, pn = leaf_shares([([x], 1) for x in names if x], leaves0)
        time.sleep(1.3)
        for g in guests:
            progs[id(g)].stop_ev.set()
        for _, w in seq:
            w.finish()
        for pairs in tog.values():
            for pair in pairs:
                for w in pair.values():
                    w.finish()
        for lst in xb.values():
            for w in lst:
                w.finish()
    finally:
        for g in guests:
            g.stop()

    # ---- report: test guest ----
    log("")
    log("== test guest (x86_64, 2 vCPUs, TCG), windows of %.0f s ==" % W)
    log("(a) vCPU 0 leaf shares, %% of the truth leaves (paused: %d reads of stop + info "
        "registers + cont in %.0f s, %d more dropped as no progress since the previous one, "
        "%d on truth leaves)" % (a.reads, pdt, pdup, pn))
    ws = dict((lbl, w) for lbl, w in seq if lbl != "idle")
    shares = {}
    for lbl in ("plugin 1kHz", "qmp 1kHz"):
        shares[lbl], shares[lbl + " n"] = leaf_shares(ws[lbl].stacks, leaves0)
    log("   %-14s %6s %8s %8s %8s   %s" % ("leaf", "truth", "paused", "plugin", "qmp",
                                         "plugin-paused  plugin-truth  qmp-paused  qmp-truth"))
    dmax = collections.defaultdict(float)
    for lf, tr in sorted(leaves0.items()):
        pl, qm, pa = shares["plugin 1kHz"][lf], shares["qmp 1kHz"][lf], pshare[lf]
        d = {"pp": pl - pa, "pt": pl - tr, "qp": qm - pa, "qt": qm - tr}
        for k, v in d.items():
            dmax[k] = max(dmax[k], abs(v))
        log("   %-14s %6d %8.1f %8.1f %8.1f   %13s %13s %11s %10s" % (
            lf, tr, pa, pl, qm, pm(d["pp"]), pm(d["pt"]), pm(d["qp"]), pm(d["qt"])))
    log("   samples on truth leaves: plugin %d, qmp %d, paused %d" % (
        shares["plugin 1kHz n"], shares["qmp 1kHz n"], pn))
    log("   max |plugin - paused| %.2f pp (target <= 1.5: %s); max |plugin - truth| %.2f pp "
        "(target <= 2.5: %s)" % (dmax["pp"], "met" if dmax["pp"] <= 1.5 else "NOT met",
                                  dmax["pt"], "met" if dmax["pt"] <= 2.5 else "NOT met"))
    log("   QMP engine: max |qmp - paused| %.2f pp, max |qmp - truth| %.2f pp"
        % (dmax["qp"], dmax["qt"]))
    log("(b) truth chains complete root to leaf: plugin 1 kHz %.2f %% of %d, plugin 10 kHz "
        "%.2f %% of %d, qmp 1 kHz %.2f %% of %d" % (
            chains_whole(ws["plugin 1kHz"].stacks, truth) +
            chains_whole(ws["plugin 10kHz"].stacks, truth) +
            chains_whole(ws["qmp 1kHz"].stacks, truth)))
    log("(c) slowdown, with / without: work = guest rounds per host s; work/cpu = rounds "
        "per CPU-second of the vCPU threads; alive = vCPU threads' (run + wait) / wall")
    idles = [w for lbl, w in seq if lbl == "idle"]
    log("   windows without a profiler, work: %s rounds/s (spread %.0f %% of their mean): "
        "the noise floor" % (" ".join("%.2f" % w.work for w in idles),
                             100 * (max(w.work for w in idles) - min(w.work for w in idles)) /
                             (sum(w.work for w in idles) / len(idles))))
    for i, (lbl, w) in enumerate(seq):
        if lbl == "idle":
            continue
        b, f = seq[i - 1][1], seq[i + 1][1]
        wk, al = (b.work + f.work) / 2, (b.alive + f.alive) / 2
        wc = (b.work_cpu + f.work_cpu) / 2
        log("   %-13s work %6.1f %%  work/cpu %6.1f %%  alive %6.1f %% (%.3f vs %.3f)  "
            "QEMU non-vCPU threads %.2f cores" % (
                lbl, 100 * w.work / wk, 100 * w.work_cpu / wc, 100 * w.alive / al,
                w.alive, al, w.other_cpu))
        res[lbl] = (w.work / wk, w.alive / al)

    def mean(xs):
        return sum(xs) / len(xs)
    bw, bc, ba = (mean([getattr(x, k) for x in xb["none"]]) for k in ("work", "work_cpu", "alive"))
    log("   QEMUs side by side (alternating %.0f s windows, the others paused), against no "
        "plugin: work %s rounds/s, work/cpu %s" % (
            W, " ".join("%.2f" % x.work for x in xb["none"]),
            " ".join("%.2f" % x.work_cpu for x in xb["none"])))
    for name in ("plugin idle", "callret"):
        wk, wc, al = (mean([getattr(x, k) for x in xb[name]]) for k in ("work", "work_cpu", "alive"))
        log("   %-13s work %6.1f %%  work/cpu %6.1f %%  alive %6.1f %%   (work %s, work/cpu %s)%s" % (
            name, 100 * wk / bw, 100 * wc / bc, 100 * al / ba,
            " ".join("%.2f" % x.work for x in xb[name]),
            " ".join("%.2f" % x.work_cpu for x in xb[name]),
            "\n                 (f) a callback on every call and ret; the test guest's hot "
            "loops make no calls: a lower bound" if name == "callret" else ""))
    log("(c2) slowdown, sampling on / off in adjacent %.0f s windows of one QEMU under one "
        "attached qtop-prof (%d pairs per rate, alternating order; ratio of the sums, and "
        "the pairs' own ratios)" % (a.toggle_window, a.pairs))
    for label, pairs in tog.items():
        def ratio(key):
            on = [getattr(p["on"], key) for p in pairs]
            off = [getattr(p["off"], key) for p in pairs]
            each = sorted(x / y for x, y in zip(on, off) if y)
            return 100 * sum(on) / sum(off), each
        for key, name in (("work", "work"), ("work_cpu", "work/cpu"), ("alive", "alive")):
            r, each = ratio(key)
            mean = sum(each) / len(each)
            sd = (sum((x - mean) ** 2 for x in each) / max(1, len(each) - 1)) ** 0.5
            log("   plugin %-6s %-9s %6.1f %%  (pairs: %s; standard error %.1f pp)" % (
                label, name, r, " ".join("%.0f" % (100 * x) for x in each),
                100 * sd / len(each) ** 0.5))
    log("(d) rate and losses")
    for lbl in ("plugin 1kHz", "plugin 10kHz", "qmp 1kHz"):
        r = ws[lbl].run
        pv = r.get("per_vcpu", 0)
        extra = ""
        if "arms" in r:
            extra = ("; plugin since QEMU start: %d arms, %d records, %d late + %d merged "
                     "(vCPU thread not running), %d lost in QEMU's rings" % (
                         r["arms"], r["records"], r["late"], r["merged"], r["lost"]))
        # the vCPU threads ran (on a CPU) this share of the window's wall
        # time: what there was to sample
        on = ws[lbl].vcpu_cores / 2
        log("   %-13s asked %5d/s per vCPU, achieved %7.1f (%5.1f %%; %5.1f %% of the time the "
            "vCPU threads were on a CPU, %.1f %% of wall), %d samples, %d dropped in "
            "qtop-prof's ring%s" % (lbl, ws[lbl].hz, pv, 100 * pv / ws[lbl].hz,
                                    100 * pv / ws[lbl].hz / on if on else float("nan"), 100 * on,
                                    r.get("samples", 0), r.get("dropped", 0), extra))
    log("(c') cost accounting on the vCPU threads, per sample, from the plugin's counters "
        "(this run): the record's callback, plus with block counting the checks of the clock "
        "that led to it (not counted: the counter add on every block, see (c2)), or with "
        "timer signals the handler and the signal itself (bench/sigcost on this host, no "
        "guest running: %.1f us at 1 kHz, %.1f us at 10 kHz)" % (sigcost[1000], sigcost[10000]))
    for lbl, hz in (("plugin 1kHz", 1000), ("plugin 10kHz", 10000)):
        r = ws[lbl].run
        if "cb_us" not in r:
            continue
        per, how = sample_cost(r, sigcost[hz])
        log("   %-13s %s: %s = %.2f us: %.2f %% of a vCPU at %.0f samples/s" % (
            lbl, r["clock"], how, per, per * r.get("per_vcpu", 0) / 1e4, r.get("per_vcpu", 0)))

    if a.no_linux:
        log("total %.0f s" % (time.monotonic() - t_start))
        return 0
    # ---- Linux guest: whole kernel chains, plugin and QMP engine ----
    from linux_boot import LinuxGuest
    from plugin_linux import analyse
    log("")
    log("== Linux guest (Debian 6.1, 2 vCPUs, TCG, busybox dd|sha256sum), %.0f s each ==" % (2 * W))
    with LinuxGuest(smp=2, kaslr=True, qemu=Q, extra_args=["-plugin", so]) as g, \
            tempfile.TemporaryDirectory() as d:
        sysroot = os.path.join(d, "sysroot")
        os.mkdir(sysroot)
        os.symlink(g.paths["busybox"], os.path.join(sysroot, "busybox"))
        for eng, hz in (("plugin", 1000), ("plugin", 10000), ("qmp", 1000)):
            out = os.path.join(d, "%s-%d.folded" % (eng, hz))
            p = subprocess.run([qtop, "--qmp", g.qmp_path, "--kernel", g.paths["vmlinux"],
                                "--symbols", g.paths["sysmap"], "--kernel-offset", "auto",
                                "--comm", "linux", "--sysroot", sysroot, "--batch",
                                "--engine", eng, "--hz", str(hz), "--duration", str(2 * W),
                                "-o", out, "--top", "0"], capture_output=True, text=True,
                               timeout=2 * W + 240)
            r = parse_run(p.stderr)
            if p.returncode or not os.path.exists(out):
                log("   %s: rc=%d %s" % (eng, p.returncode, p.stderr.strip()[-400:]))
                continue
            kern, whole, user, roots, _, _ = analyse(out)
            log("(b) %-6s %2d kHz: whole kernel chains %.2f %% of %d kernel samples (target >= "
                "99 %%: %s); %.1f/s per vCPU; not whole, outermost: %s" % (
                    eng, hz // 1000, 100.0 * whole / kern if kern else 0, kern,
                    "met" if kern and whole >= 0.99 * kern else "NOT met", r.get("per_vcpu", 0),
                    ", ".join("%s %.2f %%" % (fn, 100.0 * n / kern) for fn, n in roots.most_common(4))))
            if "cb_us" in r:
                # what a sample costs this guest's vCPU threads (the counter
                # add per block aside), as (c') for the test guest
                per, how = sample_cost(r, sigcost[hz])
                log("    %s: %s = %.2f us per sample: %.2f %% of a vCPU" % (
                    r["clock"], how, per, per * r.get("per_vcpu", 0) / 1e4))
    log("host load at the end %s; total %.0f s" % (
        " ".join("%.1f" % x for x in os.getloadavg()), time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())

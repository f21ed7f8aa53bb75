#!/usr/bin/env python3
"""The live TUI on the real test guest (x86_64, 2 vCPUs, TCG), driven in
tmux: what a user sees.  One guest boot for all cases.
  - the hotspot table's top row is the guest's hottest leaf (ap_x, 30 %);
  - the process view lists the guest's tasks, ap on vCPU 1 only;
  - search + Enter zooms the flame into a kernel path (sched_round);
  - freeze: FROZEN badge, the shown counts hold still while the status
    line's sample count grows; 's' saves exactly the frozen picture;
  - the status line's rate at -F 20: 20 Hz asked, ~20/s per vCPU, 2 vCPUs;
  - help overlay; 'q' exits 0 with the terminal restored; the guest keeps
    running and no memsave directory is left behind.
Usage: tui_guest.py BUILD_DIR"""
import atexit
import os
import shutil
import re
import sys
import tempfile

from tui_common import QTOP, Tmux, run_cases

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from guest import Guest, qemu_or_exit  # noqa: E402
from qmp import QMP  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
G = None


# qtop-prof's memsave dirs go here; directly in /tmp: it takes a memsave
# path of at most 40 characters (see profile_guest.py)
MSDIR = tempfile.mkdtemp(prefix="qtop-tui-ms-", dir="/tmp")
atexit.register(shutil.rmtree, MSDIR, True)


def status_samples(screen):
    m = re.search(r"\| (\d+) samples \|", screen)
    assert m, screen
    return int(m.group(1))


def shown_total(screen):
    m = re.search(r"total \d+ of (\d+)", screen)
    assert m, screen
    return int(m.group(1))


def start(tm, *extra):
    tm.start([QTOP, "--qmp", G.qmp_path, "--kernel", G.kernel, "--sysroot", G.sysroot,
              "--comm", "current_task->name", "--comm", "1:current_task_ap->name",
              "--hz", "200", "--refresh", "8"] + list(extra),
             env=dict(UTF8, QTOP_MEMSAVE_DIR=MSDIR))
    tm.wait_for("Hotspots")


def test_hot_table_top_row():
    with Tmux(110, 30) as tm:
        start(tm)
        s = tm.wait_until(lambda s: status_samples(s) >= 600, "600 samples", timeout=120)
        rows = [l.split() for l in s.split("\n")[2:] if re.match(r"\s+\d+\.\d", l)]
        assert rows and rows[0][4] == "ap_x", s
        assert 22.0 <= float(rows[0][0]) <= 38.0, rows[0]     # truth: 30 % of all
        tm.send("q")
        rc, stty = tm.wait_exit()
        assert rc == 0 and " icanon" in stty, (rc, stty)


def test_process_view():
    with Tmux(110, 30) as tm:
        start(tm)
        # ~10 % of the samples are alpha's: enough of them that one or two
        # timer interrupts caught in alpha's address space do not decide
        tm.wait_until(lambda s: status_samples(s) >= 1200, "1200 samples", timeout=120)
        tm.send("2")
        s = tm.wait_for("cpu1")
        procs = {l.split()[-1]: l.split() for l in s.split("\n")[2:]
                 if re.match(r"\s+\d+\.\d", l)}
        for name in ("kernel", "alpha", "beta", "ap"):
            assert name in procs, (name, s)
        # SHARE% SAMPLES KERN% USER% cpu0 cpu1 PROCESS
        assert float(procs["ap"][5]) > 95.0 and float(procs["ap"][4]) < 1.0, procs["ap"]
        # alpha makes no system call: its kernel part is only timer interrupts
        assert float(procs["alpha"][3]) > 90.0, procs["alpha"]
        tm.send("q")
        tm.wait_exit()


def test_flame_zoom_freeze_save():
    out = os.path.join(tempfile.mkdtemp(prefix="qtop-tui-guest-"), "frozen.folded")
    with Tmux(120, 32) as tm:
        start(tm, "-o", out)
        tm.wait_until(lambda s: status_samples(s) >= 300, "300 samples", timeout=120)
        tm.send("3")
        tm.wait_for("icicle")
        tm.send("/")
        tm.send_literal("sched_round")
        tm.send("Enter")            # jump to the first match
        # sched_round is also under alpha and beta (arch_run_task: the
        # guest counts those switches as the task's time, and so does the
        # task word read with the registers); the kernel's own one has
        # work_a and recurse under it: zoom, look, out, next match
        for _ in range(4):
            tm.send("Enter")        # zoom into it
            s = tm.wait_until(lambda s: s.split("\n")[2].startswith("sched_round"),
                              "sched_round zoomed")
            if "work_a" in s and "recurse" in s:
                break
            tm.send("Escape")
            tm.wait_until(lambda s: not s.split("\n")[2].startswith("sched_round"),
                          "zoomed out")
            tm.send("n")            # the next match
        assert "work_a" in s and "recurse" in s, s
        tm.send("Escape")           # back out one level
        tm.wait_until(lambda s: not s.split("\n")[2].startswith("sched_round"), "zoomed out")
        tm.send("1")
        tm.send("z")
        s = tm.wait_for("FROZEN")
        frozen = shown_total(s)
        n0 = status_samples(s)
        s = tm.wait_until(lambda s: status_samples(s) >= n0 + 200, "sampling goes on", timeout=120)
        assert shown_total(s) == frozen, (shown_total(s), frozen)
        tm.send("s")
        tm.wait_for("saved ")
        with open(out) as f:
            lines = [l for l in f if l.strip()]
        assert sum(int(l.rsplit(" ", 1)[1]) for l in lines) == frozen
        assert any(l.startswith("beta;_start;main;beta_loop;sys_spin;syscall_entry_[k]") for l in lines)
        tm.send("?")
        tm.wait_for("freeze")
        tm.send("Escape")
        tm.send("q")
        rc, _ = tm.wait_exit()
        assert rc == 0


RATE = re.compile(r"\| (\d+) Hz asked \u00b7 ([\d.]+)/s per vCPU \u00b7 (\d+) vCPUs? "
                  r"\u00b7 ([\d.]+) % paused \|")


def test_status_rate_line():
    """-F 20 on the 2-vCPU guest: the status line says 20 Hz asked, 2 vCPUs,
    a paused share, and a per-vCPU rate that is what the sample count
    shows (its growth / time / 2, not the sum over vCPUs), at most what
    was asked (a loaded host may give less)."""
    import time
    with Tmux(140, 30) as tm:
        start(tm, "-F", "20")
        # the rate is measured over whole seconds: let a few pass
        s1 = tm.wait_until(lambda s: status_samples(s) >= 100 and RATE.search(s),
                           "100 samples", timeout=120)
        # the status line's rate is over the last ~5 s: compare it with the
        # sample count's growth over the same stretch
        hist = [(time.monotonic(), status_samples(s1))]
        while time.monotonic() - hist[0][0] < 7:
            time.sleep(0.25)
            hist.append((time.monotonic(), status_samples(tm.screen())))
        s2 = tm.screen()
        t2, n2 = time.monotonic(), status_samples(s2)
        t1, n1 = min(hist, key=lambda h: abs(h[0] - (t2 - 5.5)))
        m = RATE.search(s2)
        assert m, s2
        asked, per, nv, paused = int(m.group(1)), float(m.group(2)), int(m.group(3)), float(m.group(4))
        seen = (n2 - n1) / (t2 - t1) / 2
        print("   status: %s; sample count grew %.1f/s per vCPU" % (m.group(0), seen))
        assert asked == 20 and nv == 2, m.group(0)
        assert 3.0 <= per <= 22.0, m.group(0)
        assert abs(per - seen) <= 0.3 * seen + 1.5, (m.group(0), seen)
        assert 0.0 <= paused <= 100.0, m.group(0)
        tm.send("q")
        assert tm.wait_exit()[0] == 0


def main():
    global G
    if not qemu_or_exit():      # $QTOP_QEMU: 7.2 (the system's) or 10.0
        sys.exit(77)
    with Guest(BUILD, arch="x86_64", smp=2) as g:
        G = g
        try:
            run_cases([test_hot_table_top_row, test_process_view, test_flame_zoom_freeze_save,
                       test_status_rate_line])
        finally:
            with QMP(g.qmp_path) as q:
                st = q.execute("query-status")
            assert st.get("running") is True, st
            assert os.listdir(MSDIR) == [], "memsave directory left behind"


if __name__ == "__main__":
    main()

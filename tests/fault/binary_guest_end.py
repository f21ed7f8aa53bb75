#!/usr/bin/env python3
"""Fault matrix against the REAL test guest (QEMU TCG, x86_64, 1 vCPU), cases
where QEMU goes away: each case ends its guest, so each boots one (~0.5 s).

Expectations (what a user notices):
  * QEMU SIGKILLed during --batch -o: a clear 'sampling ended: ...' line, the
    samples collected so far are written to -o (a profile is never lost),
    qtop-prof exits by itself;
  * QEMU SIGKILLed while the TUI runs: the status line shows 'disconnected',
    's' still saves the profile, 'q' quits with the terminal restored;
  * guest shut down through the other monitor ('quit'): a clean end, the
    profile written; 'system_powerdown' (the test guest has no ACPI: it is
    ignored by the guest) must not disturb sampling;
  * every run: the private memsave directory of the run is removed and no
    new /dev/shm/qtop-prof.* or /tmp/qtop-prof.* is left.
Usage: binary_guest_end.py [BUILD_DIR]
"""
import glob
import os
import re
import shutil
import signal
import sys
import tempfile
import time

from binary_common import (BUILD, HMP, finish, QTOP, check, find_memsave_dir, folded_total,
                           leaked_dirs, memsave_dirs_global, private_tmp_namespace, no_crash, run_cases, spawn)
from guest import Guest
from tmux import Tmux

# before anything is created in /tmp: maybe re-exec in a private namespace
PRIVATE = private_tmp_namespace() if __name__ == "__main__" else False
TMP = tempfile.mkdtemp(prefix="qtop-fault-end-")


def boot(name):
    hmp = os.path.join(TMP, name + "-hmp.sock")
    g = Guest(BUILD, arch="x86_64", smp=1,
              extra_args=["-monitor", "unix:%s,server=on,wait=off" % hmp])
    g.start()
    return g, hmp


def batch(g, o, *extra):
    return spawn(["--qmp", g.qmp_path, "--batch", "--duration", "120", "-o", o,
                  "--kernel", g.kernel, "--sysroot", g.sysroot] + list(extra))


def test_qemu_sigkill_batch():
    g, _ = boot("kill")
    o = os.path.join(TMP, "kill.folded")
    try:
        p = batch(g, o)
        d = find_memsave_dir(p.pid)
        check(d is not None, "qtop-prof did not attach")
        time.sleep(1.5)
        os.kill(g.pid, signal.SIGKILL)      # our own QEMU, by pid
        r = finish(p, d)
    finally:
        g.stop()
    check("sampling ended" in r.stderr and re.search(r"closed|connection", r.stderr),
          "no clear line about QEMU going away")
    check(os.path.exists(o) and folded_total(o) > 0, "the samples so far were lost")
    print("  kept %d samples, rc=%d" % (folded_total(o), r.returncode))


def test_qemu_killed_tui():
    if not shutil.which("tmux"):
        print("  tmux missing: skipped")
        return
    g, _ = boot("tui")
    cwd = tempfile.mkdtemp(prefix="cwd-", dir=TMP)
    try:
        with Tmux(100, 30) as tm:
            tm.start([QTOP, "--qmp", g.qmp_path, "--kernel", g.kernel,
                      "--sysroot", g.sysroot], cwd=cwd)
            tm.wait_until(lambda s: re.search(r"running( \[\w+\])? \| [1-9]\d* samples", s),
                          "samples", timeout=30)
            pp = tm.pane_pid()
            pid = int(open("/proc/%d/task/%d/children" % (pp, pp)).read().split()[0])
            d = find_memsave_dir(pid)
            os.kill(g.pid, signal.SIGKILL)
            screen = tm.wait_for("disconnected", timeout=30)
            print("  status: " + [l for l in screen.split("\n") if "disconnected" in l][0].strip())
            tm.send("s")
            screen = tm.wait_until(lambda s: re.search(r"saved .*to \S+", s) or
                                   "save failed" in s, "a save message", timeout=20)
            line = [l for l in screen.split("\n") if "save" in l][0].strip()
            print("  after s: " + line)
            tm.send("q")
            st, stty = tm.wait_exit(timeout=30)
        saved = glob.glob(os.path.join(cwd, "qtop-*.folded"))
        check("save failed" not in screen, "save failed after disconnect: " + line)
        check(len(saved) == 1 and folded_total(saved[0]) > 0, "nothing saved: %r" % saved)
        check(st == 0, "exit %d" % st)
        check(re.search(r"(^|\s)icanon\b", stty) and re.search(r"(^|\s)echo\b", stty),
              "terminal not restored")
        check(d is None or not os.path.exists(d), "memsave directory %s left behind" % d)
    finally:
        g.stop()


def test_guest_quit():
    g, hmp = boot("quit")
    o = os.path.join(TMP, "quit.folded")
    try:
        h = HMP(hmp)
        p = batch(g, o)
        d = find_memsave_dir(p.pid)
        check(d is not None, "qtop-prof did not attach")
        time.sleep(1.5)
        h.cmd("quit")
        r = finish(p, d)
        h.close()
    finally:
        g.stop()
    check(os.path.exists(o) and folded_total(o) > 0, "profile not written")
    check("sampling ended" in r.stderr, "the end is not explained")
    print("  kept %d samples, rc=%d" % (folded_total(o), r.returncode))


def test_guest_powerdown():
    g, hmp = boot("powerdown")
    o = os.path.join(TMP, "powerdown.folded")
    try:
        h = HMP(hmp)
        p = batch(g, o, "--samples", "300", "--hz", "100")
        d = find_memsave_dir(p.pid)
        check(d is not None, "qtop-prof did not attach")
        h.cmd("system_powerdown")
        end = time.monotonic() + 5
        while time.monotonic() < end and g.proc.poll() is None:
            time.sleep(0.1)
        gone = g.proc.poll() is not None
        print("  guest %s system_powerdown" % ("exited after" if gone else "ignores"))
        r = finish(p, d, timeout=90)
        h.close()
    finally:
        g.stop()
    check(os.path.exists(o) and folded_total(o) > 0, "profile not written")
    if not gone:
        check(r.returncode == 0 and folded_total(o) >= 300,
              "sampling disturbed by an ignored powerdown request")


KNOWN_BUGS = {}


def main():
    print("private /dev/shm and /tmp: %s" % ("yes: leftovers are exactly ours" if PRIVATE else
                                             "no: others' runs may interfere"))
    before = memsave_dirs_global()
    cases = [v for k, v in list(globals().items()) if k.startswith("test_")]

    def test_zz_no_leftover_dirs():
        left = leaked_dirs(before)
        check(not left, "new memsave directories left: %r" % sorted(left))
    cases.append(test_zz_no_leftover_dirs)
    run_cases(cases, KNOWN_BUGS)


if __name__ == "__main__":
    if not os.path.exists(os.path.join(BUILD, "tests", "guest", "x86_64", "sysroot", "kernel")):
        print("x86_64 test guest not built: skipped")
        sys.exit(77)
    import atexit
    atexit.register(shutil.rmtree, TMP, True)
    main()

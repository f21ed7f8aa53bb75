#!/usr/bin/env python3
"""Fault matrix, terminal and signals, of the real qtop-prof binary (no QEMU:
fakeqmp_log.py plays a running 1-vCPU QEMU; the TUI runs in a private tmux).

Expectations (what a user notices):
  * no terminal and no --batch (live and --load): one clear error that
    suggests --batch, non-zero exit;
  * a storm of resizes (live and --load), and 40x10 / 300x100 terminals: no
    crash, the screen is redrawn at the final size, 'q' quits with the
    terminal restored;
  * LANG=C / LC_ALL=C with UTF-8 function names: no crash, readable screen;
  * SIGINT / SIGTERM / SIGHUP to --batch: the profile so far is written to
    -o, the memsave directory is removed;
  * SIGINT / SIGTERM / SIGHUP to the TUI: the terminal is restored, the
    profile is saved to a timestamped qtop-*.folded in the current
    directory, whose path is printed; the memsave directory is removed.
Usage: binary_terminal.py [BUILD_DIR]
"""
import glob
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time

from binary_common import (QTOP, SIMPLE, FakeQMP, check, crash_screen, find_memsave_dir,
                           folded_total, no_crash, qtop, run_cases, spawn)
from tmux import Tmux

TMP = tempfile.mkdtemp(prefix="qtop-fault-term-")


def sane(stty):
    return re.search(r"(^|\s)icanon\b", stty) and re.search(r"(^|\s)echo\b", stty)


def qtop_child(tm, timeout=10):
    """pid of qtop-prof inside the pane (child of the pane's sh)."""
    pp = tm.pane_pid()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            kids = open("/proc/%d/task/%d/children" % (pp, pp)).read().split()
            for k in kids:
                if os.path.basename(os.readlink("/proc/%s/exe" % k)) == "qtop-prof":
                    return int(k)
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("qtop-prof not found in the pane")


# ---- not a terminal ----

def test_not_a_tty_live():
    with FakeQMP("log", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path])       # stdin /dev/null, stdout a pipe
    no_crash(p)
    check(p.returncode != 0, "exit 0")
    check("--batch" in p.stderr and "terminal" in p.stderr, "no hint to use --batch")


def test_not_a_tty_load():
    p = qtop(["--load", SIMPLE])
    no_crash(p)
    check(p.returncode != 0, "exit 0")
    check("--batch" in p.stderr, "no hint to use --batch")


# ---- sizes, resizes, locale ----

def wait_or_crash(tm, pred, what, timeout=20):
    try:
        return tm.wait_until(pred, what, timeout=timeout)
    except Exception:
        crash_screen(tm.screen())
        raise


def storm(argv, wait_text):
    rnd = random.Random(7)
    with Tmux(80, 24) as tm:
        tm.start(argv)
        wait_or_crash(tm, lambda s: wait_text in s, wait_text)
        sizes = [(40, 10), (300, 100), (10, 3), (2, 2), (200, 50), (81, 25)]
        for i in range(80):
            w, h = sizes[i % len(sizes)] if i % 3 else (rnd.randint(1, 320), rnd.randint(1, 120))
            tm.resize(w, h)
            if i % 10 == 0:
                time.sleep(0.05)
        tm.resize(100, 30)
        # The last resize is redrawn whole: header on top, status line.  (A
        # screen caught mid-redraw may show one without the other yet.)
        wait_or_crash(tm, lambda s: wait_text in s and
                      any("Hotspots" in l for l in s.split("\n")[:2]),
                      "header and %r redrawn after the storm" % wait_text)
        tm.send("q")
        st, stty = tm.wait_exit(timeout=20)
    check(st == 0, "exit %d after the storm" % st)
    check(sane(stty), "terminal not restored")


def test_resize_storm_load():
    storm([QTOP, "--load", SIMPLE], "Hotspots")


def test_resize_storm_live():
    with FakeQMP("log", after=10 ** 9) as f:
        storm([QTOP, "--qmp", f.path], "samples")


def size_case(w, h):
    with Tmux(w, h) as tm:
        tm.start([QTOP, "--load", SIMPLE])
        screen = tm.wait_for("Hotspots", timeout=20)
        lines = screen.split("\n")
        check(len(lines) >= h - 1, "screen has %d lines" % len(lines))
        check(max(len(l) for l in lines) <= w, "a line wider than the terminal")
        tm.send("Tab")
        tm.send("Tab")
        time.sleep(0.3)
        tm.send("q")
        st, stty = tm.wait_exit(timeout=20)
    check(st == 0 and sane(stty), "exit %d / terminal not restored" % st)


def test_size_40x10():
    size_case(40, 10)


def test_size_300x100():
    size_case(300, 100)


def test_lang_c_utf8_names():
    f = os.path.join(TMP, "utf8.folded")
    with open(f, "w", encoding="utf-8") as w:
        w.write("sh;main;f\u00fcr_\u00e4\u00f6 10\nsh;main;\u51fd\u6570 5\nsh;main;plain 3\n")
    env = {"LANG": "C", "LC_ALL": "C", "LC_CTYPE": "C"}
    with Tmux(80, 24, env=env) as tm:
        tm.start([QTOP, "--load", f], env=env)
        screen = tm.wait_for("Hotspots", timeout=20)
        check("plain" in screen and "main" in screen, "not readable:\n" + screen)
        tm.send("Tab")
        tm.send("Tab")
        time.sleep(0.3)
        tm.send("q")
        st, stty = tm.wait_exit(timeout=20)
    check(st == 0 and sane(stty), "exit %d / terminal not restored" % st)
    # batch output too
    p = qtop(["--load", f, "--batch"], env=env)
    no_crash(p)
    check(p.returncode == 0 and "plain" in p.stdout, "batch under LANG=C broken")


# ---- signals ----

def batch_signal(sig):
    o = os.path.join(TMP, "sig%d.folded" % sig)
    with FakeQMP("log", after=10 ** 9) as f:
        p = spawn(["--qmp", f.path, "--batch", "--duration", "60", "-o", o])
        try:
            d = find_memsave_dir(p.pid)
            check(d and os.path.isdir(d), "no memsave directory found while running")
            time.sleep(1.0)
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            took = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("  %s: rc=%d in %.1f s; %s" % (signal.Signals(sig).name, p.returncode, took,
                                         err.strip().replace("\n", " | ")))
    check(p.returncode >= 0, "died of the signal")
    check(os.path.exists(o) and folded_total(o) > 0, "profile not written to -o")
    check(not os.path.exists(d), "memsave directory %s left behind" % d)


def test_sigint_batch():
    batch_signal(signal.SIGINT)


def test_sigterm_batch():
    batch_signal(signal.SIGTERM)


def test_sighup_batch():
    batch_signal(signal.SIGHUP)


def tui_signal(sig):
    cwd = tempfile.mkdtemp(prefix="cwd-", dir=TMP)
    with FakeQMP("log", after=10 ** 9) as f, Tmux(100, 30) as tm:
        tm.start([QTOP, "--qmp", f.path], cwd=cwd)
        wait_or_crash(tm, lambda s: re.search(r"running( \[\w+\])? \| [1-9]\d* samples", s), "samples")
        pid = qtop_child(tm)
        d = find_memsave_dir(pid)
        check(d and os.path.isdir(d), "no memsave directory found while running")
        os.kill(pid, sig)
        st, stty = tm.wait_exit(timeout=30)
        screen = tm.screen()
    saved = glob.glob(os.path.join(cwd, "qtop-*.folded"))
    print("  %s: exit %d; files %s; screen: %s" % (
        signal.Signals(sig).name, st, [os.path.basename(s) for s in saved],
        " | ".join(l.strip() for l in screen.split("\n") if "qtop-prof" in l)))
    check(sane(stty), "terminal not restored:\n" + stty[:300])
    check(len(saved) == 1, "expected one qtop-*.folded in the cwd, got %r" % saved)
    check(folded_total(saved[0]) > 0, "saved profile empty")
    check(os.path.basename(saved[0]) in screen, "the saved path is not printed")
    check(not os.path.exists(d), "memsave directory %s left behind" % d)


def test_sigint_tui():
    tui_signal(signal.SIGINT)


def test_sigterm_tui():
    tui_signal(signal.SIGTERM)


def test_sighup_tui():
    tui_signal(signal.SIGHUP)


def test_tui_live_heap_valgrind():
    """The live TUI under valgrind (memcheck): no invalid read or write.
    valgrind finds the sampler thread's heap overflow on every run, where
    plain runs abort only now and then ('malloc(): corrupted top size')."""
    if not shutil.which("valgrind"):
        print("  valgrind missing: skipped")
        return
    log = os.path.join(TMP, "valgrind.log")
    with FakeQMP("log", after=10 ** 9) as f, Tmux(100, 30) as tm:
        tm.start(["valgrind", "-q", "--log-file=" + log, QTOP, "--qmp", f.path])
        tm.wait_until(lambda s: re.search(r"running( \[\w+\])? \| [1-9]\d* samples", s) or
                      "Abort" in s, "samples", timeout=90)
        tm.send("q")
        tm.wait_exit(timeout=90)
    text = open(log).read()
    errs = [l for l in text.splitlines() if "Invalid write" in l or "Invalid read" in l]
    if errs:
        where = re.findall(r"by 0x[0-9A-F]+: (\w+) \((\S+)\)", text)
        print("  %d invalid accesses; first frames: %s" % (len(errs), where[:4]))
    check(not errs, "valgrind: %d invalid reads/writes (first: %s)" % (
        len(errs), errs[0] if errs else ""))


def test_tui_live_startup_heap():
    """Start the live TUI 12 times under MALLOC_PERTURB_ (glibc heap checks
    made strict): it must never abort."""
    env = {"MALLOC_PERTURB_": "24"}
    for i in range(12):
        with FakeQMP("log", after=10 ** 9) as f, Tmux(100, 30, env=env) as tm:
            tm.start([QTOP, "--qmp", f.path], env=env)
            wait_or_crash(tm, lambda s: re.search(r"running( \[\w+\])? \| [1-9]\d* samples", s) or
                          "Abort" in s or "malloc" in s, "samples")
            crash_screen(tm.screen())
            tm.send("q")
            st, stty = tm.wait_exit(timeout=20)
            crash_screen(tm.screen())
            check(st == 0, "exit %d" % st)


KNOWN_BUGS = {
}

if __name__ == "__main__":
    if not shutil.which("tmux"):
        print("tmux not installed: skipped")
        sys.exit(77)
    import atexit
    atexit.register(shutil.rmtree, TMP, True)
    run_cases([v for k, v in list(globals().items()) if k.startswith("test_")], KNOWN_BUGS)

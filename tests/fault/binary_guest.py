#!/usr/bin/env python3
"""Fault matrix against the REAL test guest (QEMU TCG, x86_64, 1 vCPU), cases
that leave QEMU alive: one boot for the whole file.  QEMU gets a second,
human monitor (-monitor unix:DIR/hmp.sock) through which "someone else"
pauses, resumes and resets the guest; '-action reboot=reset' makes
system_reset a reset (the guest helper boots with -no-reboot).

Expectations (what a user notices):
  * QMP held by another client: one line naming the cause, non-zero exit,
    within a few seconds (bounded by the 3 s greeting timeout + margin);
  * guest paused by someone else before qtop-prof attaches: qtop-prof does
    NOT resume it (checked several times through the other monitor); after
    "cont" there, sampling resumes (samples > 0, all taken after cont);
  * guest paused by someone else while qtop-prof samples with --stop: the
    pause must stick (see doc/reliability.md: an inherent race of stop/cont);
  * guest reset: sampling continues across the reset;
  * SIGTERM to --batch against real QEMU: profile written, memsave dir gone;
  * every run: the private memsave directory of this run (found through the
    running process's open directory fd) no longer exists afterwards, and no
    new /dev/shm/qtop-prof.* or /tmp/qtop-prof.* is left; the guest is left
    running.
Usage: binary_guest.py [BUILD_DIR]
"""
import os
import signal
import sys
import tempfile
import time

from binary_common import (BUILD, HMP, finish, check, find_memsave_dir, folded_total,
                           leaked_dirs, memsave_dirs_global, no_crash,
                           private_tmp_namespace, qtop,
                           run_cases, spawn)
from guest import Guest
from qmp import QMP

# before anything is created in /tmp: maybe re-exec in a private namespace
PRIVATE = private_tmp_namespace() if __name__ == "__main__" else False
TMP = tempfile.mkdtemp(prefix="qtop-fault-guest-")
G = None
H = None


def out(name):
    p = os.path.join(TMP, name + ".folded")
    if os.path.exists(p):
        os.unlink(p)
    return p


def base_args(o):
    return ["--qmp", G.qmp_path, "--batch", "-o", o, "--kernel", G.kernel,
            "--sysroot", G.sysroot]


def status():
    s = H.status()
    return "paused" if "paused" in s else "running" if "running" in s else s


def test_qmp_held_by_another_client():
    q = QMP(G.qmp_path)
    try:
        o = out("held")
        p = qtop(base_args(o) + ["--duration", "2"], timeout=60)
    finally:
        q.close()
    no_crash(p)
    check(p.returncode != 0, "exit 0")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(len(lines) == 1 and "another client" in lines[0], "unclear: %r" % lines)
    check(p.elapsed < 20, "took %.1f s" % p.elapsed)
    check(not os.path.exists(o), "-o written without samples")


def test_paused_by_other_not_resumed():
    H.cmd("stop")
    check(status() == "paused", "could not pause through the second monitor")
    o = out("paused")
    p = spawn(base_args(o) + ["--duration", "60", "--samples", "100"])
    d = find_memsave_dir(p.pid)
    check(d is not None, "qtop-prof did not attach")
    seen = []
    for _ in range(4):
        time.sleep(1.0)
        seen.append(status())
    check(p.poll() is None, "qtop-prof ended while the guest was paused")
    check(all(s == "paused" for s in seen), "qtop-prof resumed a guest paused by "
          "someone else: states %r" % seen)
    H.cmd("cont")
    finish(p, d, timeout=120)
    n = folded_total(o) if os.path.exists(o) else 0
    check(p.returncode == 0 and n >= 100, "sampling did not resume after cont "
          "(%d samples, rc %d)" % (n, p.returncode))
    check(status() == "running", "guest not running at the end")


def test_paused_by_other_while_sampling():
    """Pause through the other monitor while qtop-prof samples (100 Hz,
    --stop).  If that "stop" lands inside one of our stop..cont windows,
    QEMU sends no STOP event (already paused) and our cont undoes it."""
    lost = 0
    tries = 6
    o = out("race")
    p = spawn(base_args(o) + ["--duration", "120", "--hz", "100"])
    d = find_memsave_dir(p.pid)
    try:
        for i in range(tries):
            time.sleep(0.5)
            H.cmd("stop")
            time.sleep(1.0)
            s = status()
            if s != "paused":
                lost += 1
            H.cmd("cont")
    finally:
        p.send_signal(signal.SIGINT)
        finish(p, d, timeout=120)
    print("  user's pause lost %d of %d times" % (lost, tries))
    check(status() == "running", "guest not running at the end")
    check(lost == 0, "a pause by someone else was undone by qtop-prof's cont "
          "%d of %d times" % (lost, tries))


def test_guest_reset_continues():
    o = out("reset")
    # --samples well above what is taken before the reset: reaching it
    # proves sampling went on after the reset
    p = spawn(base_args(o) + ["--duration", "90", "--samples", "300", "--hz", "100"])
    d = find_memsave_dir(p.pid)
    check(d is not None, "qtop-prof did not attach")
    before = len(G.serial_text().split("workload running")) - 1
    H.cmd("system_reset")
    # the guest boots again: a second "workload running"
    end = time.monotonic() + 60
    while time.monotonic() < end and len(G.serial_text().split("workload running")) - 1 <= before:
        time.sleep(0.1)
    check(len(G.serial_text().split("workload running")) - 1 > before,
          "the guest did not reboot after system_reset")
    finish(p, d, timeout=120)
    n = folded_total(o) if os.path.exists(o) else 0
    check(p.returncode == 0 and n >= 300, "sampling stopped at the reset: %d samples" % n)
    check(status() == "running", "guest not running at the end")


def test_sigterm_batch_real():
    o = out("sigterm")
    p = spawn(base_args(o) + ["--duration", "90"])
    d = find_memsave_dir(p.pid)
    check(d is not None, "qtop-prof did not attach")
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    finish(p, d, timeout=30)
    check(os.path.exists(o) and folded_total(o) > 0, "profile not written")
    check(status() == "running", "guest left paused")


KNOWN_BUGS = {
    "test_paused_by_other_while_sampling":
        "inherent race of a paused round (--stop; --auto-stop only in rounds it takes again paused): a 'stop' from another monitor inside our "
        "stop..cont window produces no STOP event, and our cont resumes the guest "
        "(capture_round in src/acquire/sampler.c); see doc/reliability.md",
}


def main():
    global G, H
    print("private /dev/shm and /tmp: %s" % ("yes: leftovers are exactly ours" if PRIVATE else
                                             "no: others' runs may interfere"))
    before = memsave_dirs_global()
    hmp_sock = os.path.join(TMP, "hmp.sock")
    with Guest(BUILD, arch="x86_64", smp=1,
               extra_args=["-monitor", "unix:%s,server=on,wait=off" % hmp_sock,
                           "-action", "reboot=reset"]) as g:
        G = g
        H = HMP(hmp_sock)
        cases = [v for k, v in list(globals().items()) if k.startswith("test_")]

        def test_zz_no_leftover_dirs():
            left = leaked_dirs(before)
            check(not left, "new memsave directories left: %r" % sorted(left))
        cases.append(test_zz_no_leftover_dirs)
        try:
            run_cases(cases, KNOWN_BUGS)
        finally:
            H.close()


if __name__ == "__main__":
    if not os.path.exists(os.path.join(BUILD, "tests", "guest", "x86_64", "sysroot", "kernel")):
        print("x86_64 test guest not built: skipped")
        sys.exit(77)
    import atexit
    import shutil
    atexit.register(shutil.rmtree, TMP, True)
    main()

#!/usr/bin/env python3
"""The TUI with a live source (tui_driver --fake-live adds 3 samples to
"livejob;main;spin[;do_tick]" every pump): freeze holds the picture while
sampling goes on, saves what is frozen, keeps zoom across unfreeze; reset
and the decaying window."""
import os
import re
import tempfile

from tui_common import DRIVER, Tmux, run_cases

UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def start(tm, *extra):
    tm.start([DRIVER, "--fake-live", "--refresh", "10"] + list(extra), env=UTF8)
    tm.wait_for("spin")


def live_samples(screen):
    m = re.search(r"running \| (\d+) samples", screen)
    assert m, screen
    return int(m.group(1))


def spin_row(screen):
    for l in screen.split("\n"):
        if l.rstrip().endswith("spin") or " spin " in l:
            return l.split()
    raise AssertionError("no spin row:\n" + screen)


def shown_total(screen):
    m = re.search(r"total \d+ of (\d+)", screen)
    assert m, screen
    return int(m.group(1))


def test_freeze_holds_picture_sampling_goes_on():
    out = os.path.join(tempfile.mkdtemp(prefix="qtop-tui-"), "frozen.folded")
    with Tmux(100, 30) as tm:
        start(tm, "-o", out)
        tm.wait_until(lambda s: live_samples(s) > 300, "some samples")
        tm.send("z")
        s = tm.wait_for("FROZEN")
        frozen = shown_total(s)
        n0 = live_samples(s)
        # the status line keeps counting while the table stays still
        s = tm.wait_until(lambda s: live_samples(s) >= n0 + 300, "live samples to grow")
        assert shown_total(s) == frozen, (shown_total(s), frozen)
        # s saves the frozen picture, not the live profile
        tm.send("s")
        tm.wait_for("saved ")
        with open(out) as f:
            total = sum(int(l.rsplit(" ", 1)[1]) for l in f if l.strip())
        assert total == frozen, (total, frozen)
        # everything stays navigable: flame zoom into spin while frozen
        tm.send("3")
        tm.wait_for("icicle:")
        tm.send("j", "j", "j", "Enter")
        tm.wait_until(lambda s: s.split("\n")[2].startswith("spin"), "spin zoomed")
        # unfreeze: live data, the zoom is kept (same path exists)
        tm.send("z")
        s = tm.wait_gone("FROZEN")
        assert s.split("\n")[2].startswith("spin"), s
        tm.send("1")
        s = tm.wait_until(lambda s: shown_total(s) > frozen, "live table to grow")


def test_process_view_vcpu_shares():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("2")
        tm.wait_for("cpu1")

        def row_of(s):
            return next(l for l in s.split("\n") if l.rstrip().endswith("livejob")).split()
        # enough samples for the kernel share to settle near one half
        s = tm.wait_until(lambda s: int(row_of(s)[1]) >= 200, "200 samples")
        row = row_of(s)
        # SHARE% SAMPLES KERN% USER% cpu0 cpu1 PROCESS: the only process,
        # so all of each vCPU; every other sample ends in the kernel
        assert row[0] == "100.0" and row[4] == "100.0" and row[5] == "100.0", row
        assert 40.0 <= float(row[2]) <= 60.0, row


def test_reset_counts():
    with Tmux(100, 30) as tm:
        start(tm)
        s = tm.wait_until(lambda s: live_samples(s) > 600, "samples")
        tm.send("R")
        tm.wait_for("counts reset")
        s = tm.screen()
        assert shown_total(s) < 600, s


def test_decay_toggle():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("d")
        tm.wait_for("decay 5s")
        tm.send("d")
        tm.wait_for("cumulative")


def status_line(screen):
    return [l for l in screen.split("\n") if l.strip()][-1]


def test_status_rate_one_unit_and_narrow():
    """The fake source asks 100 Hz and gets 73/s per vCPU on 2 vCPUs, 0.4 %
    of the rounds paused: the line says exactly that, in one unit; narrow
    terminals drop parts instead of overflowing."""
    with Tmux(140, 30) as tm:
        start(tm)
        s = tm.wait_until(lambda s: "per vCPU" in s, "the rate on the status line")
        st = status_line(s)
        assert "100 Hz asked \u00b7 73/s per vCPU \u00b7 2 vCPUs \u00b7 0.4 % paused" in st, st
        assert "Hz" not in st.replace("Hz asked", ""), st      # no "146/100 Hz"
        for w, must, gone in ((80, ["73/s per vCPU", "100 Hz asked"], ["? help"]),
                              (45, ["73/s per vCPU"], ["Hz asked", "vCPUs", "paused"]),
                              (30, [], ["per vCPU"])):
            tm.resize(w, 20)
            s = tm.wait_until(lambda s: len(status_line(s)) <= w and
                              all(m in status_line(s) for m in must) and
                              not any(g in status_line(s) for g in gone),
                              "status line at %d columns" % w)
            assert re.match(r" running \| \d+ samples", status_line(s)), status_line(s)
        tm.send("q")
        assert tm.wait_exit()[0] == 0


def test_random_keys_never_crash():
    """A fixed pseudo-random walk over every key while samples arrive, with
    resizes: the program is still there afterwards and quits cleanly."""
    import random
    rnd = random.Random(1234)
    keys = ["Tab", "BTab", "1", "2", "3", "Up", "Down", "Left", "Right", "h",
            "j", "k", "l", "Enter", "Escape", "BSpace", "0", "r", "f", "z",
            "d", "K", "<", ">", "I", "n", "N", "/", "\\", "a", "i", "PPage",
            "NPage", "Home", "End", "g", "G", "?", "F1", "Space", "C-l"]
    with Tmux(90, 25) as tm:
        start(tm, "-o", "/dev/null/never")      # saving fails: an error message
        for i in range(400):
            k = rnd.choice(keys + ["s"])
            tm.send(k)
            if i % 50 == 49:
                tm.resize(rnd.randint(8, 120), rnd.randint(2, 40))
        tm.resize(90, 25)
        tm.send("Escape", "Escape", "Escape", "Space")
        tm.wait_until(lambda s: "running |" in s, "status line after the walk")
        tm.send("q")
        rc, stty = tm.wait_exit()
        assert rc == 0, rc
        assert " icanon" in stty


if __name__ == "__main__":
    run_cases([test_freeze_holds_picture_sampling_goes_on,
               test_process_view_vcpu_shares, test_reset_counts,
               test_decay_toggle, test_status_rate_one_unit_and_narrow,
               test_random_keys_never_crash])

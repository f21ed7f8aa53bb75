#!/usr/bin/env python3
"""The TUI's timeline view (issue #16), driven through tmux.

Fixture: a JSON report written here (no guest): 2 vCPUs sampled 100 times a
second for 4 s.  In the first second vCPU 0 runs early_init (user) and
vCPU 1 is idle; from 1 s on both run late_work (user) and sys_write
(kernel) under it; a marker "init_done" at 1 s.  On the whole run late_work
is the top function; in the first second it is absent and early_init /
[idle] share the top.  Selecting that part on the timeline and applying it
must change the hotspot table (and the flame graph) that way; Esc brings the
whole run back.  Also: the marker tick, colouring by process, a live
timeline that grows and holds still while frozen (tui_driver --fake-live
--fake-log), a mouse drag (xterm mouse reports sent into the pane), a tiny
terminal, and the help screen."""
import json
import os
import re
import tempfile
import time

from tui_common import DRIVER, QTOP, Tmux, run_cases, row_with

UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def write_report(path):
    frames = [{"name": "main", "module": "app", "file": None, "line": None, "kind": "user"},
              {"name": "early_init", "module": "app", "file": None, "line": None, "kind": "user"},
              {"name": "late_work", "module": "app", "file": None, "line": None, "kind": "user"},
              {"name": "sys_write", "module": "kernel", "file": None, "line": None,
               "kind": "kernel"},
              {"name": "[idle]", "module": None, "file": None, "line": None, "kind": "mark"}]
    samples = []
    for i in range(400):
        t = i / 100.0
        for cpu in (0, 1):
            if t < 1.0 and cpu == 1:
                samples.append({"t": t, "cpu": 1, "mode": "idle", "comm": "swapper",
                                "stack": [4]})
            elif t < 1.0:
                samples.append({"t": t, "cpu": 0, "mode": "user", "comm": "app",
                                "stack": [0, 1]})
            elif i % 3 == 0:
                samples.append({"t": t, "cpu": cpu, "mode": "kernel", "comm": "app",
                                "stack": [0, 2, 3]})
            else:
                samples.append({"t": t, "cpu": cpu, "mode": "user", "comm": "app",
                                "stack": [0, 2]})
    rep = {"schema": "qtop-prof-report", "version": 1,
           "meta": {"t0_monotonic_ns": 5000000000000, "boot": False, "vcpus": 2},
           "markers": [{"name": "init_done", "t": 1.0}],
           "frames": frames, "samples": samples, "hotspots": []}
    with open(path, "w") as f:
        json.dump(rep, f)


TMP = tempfile.mkdtemp(prefix="qtop-tl-")
REPORT = os.path.join(TMP, "two-phases.json")
write_report(REPORT)


def hot_names(screen):
    """FUNCTION column of the hotspot table, top first."""
    lines = screen.split("\n")
    hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
    out = []
    for l in lines[hdr + 1:]:
        f = l.split()
        if len(f) < 5 or not re.match(r"^\d", f[0]):
            break
        out.append(f[4])
    return out


def open_timeline(tm, w=100, h=24):
    tm.start([QTOP, "--load", REPORT], env=UTF8)
    s = tm.wait_for("Hotspots")
    assert hot_names(s)[0] == "late_work", s
    tm.send("4")
    return tm.wait_for("cpu1")


def test_view_rows_and_marker():
    with Tmux(100, 24) as tm:
        s = open_timeline(tm)
        assert "4 Timeline" in s, s
        assert row_with(s, "2 vCPUs") and "800 samples" in s, s
        assert row_with(s, "cpu0") and row_with(s, "cpu1"), s
        # the marker: its label above, its tick through both rows, same column
        lab = row_with(s, "|init_done")
        col = lab.index("|init_done")
        assert row_with(s, "cpu0")[col] == "|" and row_with(s, "cpu1")[col] == "|", s
        # by process: vCPU 1 shows swapper (s) first, then app (a)
        tm.send("p")
        s = tm.wait_for("by process")
        r1 = row_with(s, "cpu1")
        assert r1[6] == "s" and r1[-1] == "a", r1
        assert row_with(s, "cpu0")[6] == "a", s


def test_window_first_second():
    with Tmux(100, 24) as tm:
        open_timeline(tm)
        tm.send("Home")                 # a first selection at the start
        s = tm.wait_for("Enter applies")
        sel = re.search(r"selected (-?[\d.]+)-([\d.]+) s", s)
        assert sel and float(sel.group(1)) == 0.0, s
        # grow it to end before the marker at 1 s, then shrink by one
        for _ in range(30):
            s = tm.screen()
            sel = re.search(r"selected (-?[\d.]+)-([\d.]+) s", s)
            if float(sel.group(2)) > 0.95:
                break
            tm.send("}")
            time.sleep(0.05)
        s = tm.screen()
        end = float(re.search(r"selected (-?[\d.]+)-([\d.]+) s", s).group(2))
        if end > 1.0:
            tm.send("{")
            time.sleep(0.1)
        s = tm.screen()
        end = float(re.search(r"selected (-?[\d.]+)-([\d.]+) s", s).group(2))
        assert 0.5 < end <= 1.0, s
        assert "=" in row_with(s, "win"), s
        tm.send("Enter")
        s = tm.wait_for("WINDOW 0.00-")
        assert "hotspots and flame show only" in s, s
        tm.send("1")
        s = tm.wait_for("FUNCTION")
        names = hot_names(s)
        assert set(names[:2]) == {"early_init", "[idle]"}, names
        assert "late_work" not in names and "sys_write" not in names, names
        assert "WINDOW" in s, s
        # the flame graph follows the window
        tm.send("3")
        s = tm.wait_for("icicle:")
        assert "late_work" not in s and "early_init" in s, s
        # Esc (outside the timeline too) clears the window: all samples again
        tm.send("1")
        tm.wait_for("FUNCTION")
        tm.send("Escape")
        s = tm.wait_gone("WINDOW")
        assert hot_names(s)[0] == "late_work", s


def mouse(b, x, y):
    """One mouse report as an xterm sends it (X10 encoding: button code,
    column and row, each + 32, 1-based): b 0 = button 1 pressed, 32 + 0 =
    moved with it held, 3 = released."""
    return "\x1b[M" + chr(32 + b) + chr(33 + x) + chr(33 + y)


def test_mouse_drag_applies_window():
    with Tmux(100, 24) as tm:
        s = open_timeline(tm)
        lines = s.split("\n")
        y = next(k for k, l in enumerate(lines) if l.startswith("cpu0"))
        tick = lines[y].index("|")            # the marker at 1 s
        x0 = len("cpu0") + 2                  # the first cell
        # drag from the start to a few cells before the marker
        tm.send_literal(mouse(0, x0, y))
        time.sleep(0.1)
        tm.send_literal(mouse(32, (x0 + tick) // 2, y))
        time.sleep(0.1)
        tm.send_literal(mouse(3, tick - 3, y))
        s = tm.wait_for("WINDOW 0.00-")
        assert "hotspots and flame show only" in s, s
        tm.send("1")
        s = tm.wait_for("FUNCTION")
        names = hot_names(s)
        assert set(names[:2]) == {"early_init", "[idle]"}, names
        assert "late_work" not in names, names


def test_window_last_part():
    with Tmux(100, 24) as tm:
        open_timeline(tm)
        tm.send("End")                  # an eighth of the run at its end
        tm.wait_for("Enter applies")
        tm.send("[", "]", "(", ")", "Enter")   # moves and edges keep it inside
        s = tm.wait_for("WINDOW")
        assert "=" not in (row_with(s, "win") or ""), s   # applied: '-' marks it
        assert "-" in row_with(s, "win"), s
        tm.send("1")
        s = tm.wait_for("FUNCTION")
        names = hot_names(s)
        assert names[0] == "late_work" and "sys_write" in names, names
        assert "early_init" not in names and "[idle]" not in names, names


def test_tiny_terminal():
    with Tmux(100, 24) as tm:
        open_timeline(tm)
        tm.resize(30, 7)
        s = tm.wait_for("too small")
        assert "timeline" in s, s
        tm.resize(12, 3)
        tm.wait_for("terminal to")     # "terminal too small" cut at 12 columns
        tm.resize(100, 24)
        tm.wait_for("cpu1")
        tm.send("q")
        tm.wait_exit()


def test_help_lists_keys():
    with Tmux(100, 50) as tm:
        open_timeline(tm)
        tm.send("?")
        s = tm.wait_for("Help: keys")
        for k in ("Timeline", "[ ] Left Right", "{ }", "( )", "colour cells by process",
                  "drag selects a window"):
            assert k in s, (k, s)


def test_live_grows_and_freezes():
    with Tmux(100, 24) as tm:
        tm.start([DRIVER, "--fake-live", "--fake-log", "--view", "3"], env=UTF8)
        tm.wait_for("cpu1")

        def count():
            m = re.search(r"(\d+) samples\b", row_with(tm.screen(), "vCPU"))
            return int(m.group(1))

        a = count()
        tm.wait_until(lambda s: count() > a, "the timeline grows")
        tm.send("z")
        tm.wait_for("(frozen)")
        time.sleep(0.3)
        b = count()
        time.sleep(1.0)
        assert count() == b, "frozen timeline moved"
        tm.send("z")
        tm.wait_until(lambda s: count() > b, "live again")


if __name__ == "__main__":
    run_cases([test_view_rows_and_marker, test_window_first_second,
               test_mouse_drag_applies_window,
               test_window_last_part, test_tiny_terminal, test_help_lists_keys,
               test_live_grows_and_freezes])

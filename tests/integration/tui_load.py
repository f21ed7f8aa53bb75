#!/usr/bin/env python3
"""The TUI on a folded file (qtop-prof --load), driven through tmux:
hotspot table, process filter, flame zoom, search, save, help, resize,
locales, quitting and signals.  Fixture: tests/data/tui/simple.folded
(1000 samples; matmul is the hottest function with 500 = 50.0 %)."""
import os
import signal
import subprocess
import tempfile
import time

from tui_common import (QTOP, SIMPLE, Tmux, fixture_lines, row_with,
                        run_cases)

UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def start(tm, *extra, env=UTF8, cwd=None):
    tm.start([QTOP, "--load", SIMPLE] + list(extra), env=env, cwd=cwd,
             before="BEFORE-QTOP")
    tm.wait_for("Hotspots")
    tm.wait_for("samples")


def flame_rows(screen):
    """Lines of the flame view between the breadcrumb and the info line."""
    lines = screen.split("\n")
    i = next(k for k, l in enumerate(lines) if l.startswith(("icicle:", "flame:")))
    return lines[i + 1:]


def test_hotspot_top_row():
    with Tmux(100, 30) as tm:
        start(tm)
        s = tm.screen()
        lines = s.split("\n")
        hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
        top = lines[hdr + 1].split()
        # SELF% TOTAL% SAMPLES M FUNCTION
        assert top[0] == "50.0" and top[2] == "500" and top[4] == "matmul", top
        assert "[k] vfs_write" in lines[hdr + 2], lines[hdr + 2]
        # status line: guest state, samples
        status = [l for l in lines if l.strip()][-1]
        assert status.startswith(" file | 1000 samples"), status


def test_sort_and_filter():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send(">")            # sort by total: main is on every stack
        s = tm.wait_for("sort by total")
        lines = s.split("\n")
        hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
        assert lines[hdr + 1].split()[4] == "main", lines[hdr + 1]
        assert lines[hdr + 1].split()[1] == "100.0", lines[hdr + 1]
        tm.send("<")
        tm.send("\\")
        tm.send_literal("sys_")
        tm.send("Enter")
        s = tm.wait_gone("matmul")
        assert "sys_read" in s and "sys_write" in s, s
        assert "btree_search" not in s, s
        tm.send("Escape")      # clears the filter
        tm.wait_for("matmul")


def test_search_jumps():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("/")
        tm.send_literal("btree")
        tm.send("Enter")
        tm.send("n")
        # the detail line names the selected row
        s = tm.wait_until(lambda s: any(l.startswith("btree_search ")
                                        for l in s.split("\n")), "detail line")
        assert "self 120" in s, s


def test_hotspot_enter_shows_function_in_flame():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("j", "Enter")        # vfs_write
        s = tm.wait_for("icicle:")
        info = row_with(s, '"vfs_write": 200 samples, 20.0% of all')
        assert info, s
        # the first hit is selected
        assert "|  vfs_write [k]  200 samples" in info, info


def test_hide_kernel_frames():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("K")
        s = tm.wait_for("no-kernel")
        assert "vfs_write" not in s and "copy_page" not in s, s
        assert row_with(s, "matmul").split()[0] == "50.0"   # counts unchanged
        tm.send("3")
        s = tm.wait_for("icicle:")
        assert "sys_write" not in s and "write" in s, s
        tm.send("K")
        tm.wait_for("sys_write")


def test_process_filter_and_save():
    d = tempfile.mkdtemp(prefix="qtop-tui-")
    out = os.path.join(d, "db.folded")
    with Tmux(100, 30) as tm:
        start(tm, "-o", out)
        tm.send("Tab")
        tm.wait_for("PROCESS")
        s = tm.screen()
        assert row_with(s, " app").split()[0] == "85.0", s
        tm.send("j", "Enter")
        tm.wait_for("proc:db")
        tm.send("BTab")
        s = tm.wait_for("FUNCTION")
        lines = s.split("\n")
        hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
        top = lines[hdr + 1].split()
        # percentages of the process: 120 of db's 150 samples
        assert top[4] == "btree_search" and top[0] == "80.0", top
        assert "matmul" not in s
        tm.send("s")
        s = tm.wait_for("saved ")
        assert out in s.replace("\n", "") or os.path.exists(out), s
        with open(out) as f:
            got = sorted(l.rstrip("\n") for l in f if l.strip())
        want = sorted(l for l in fixture_lines() if l.startswith("db;"))
        assert got == want, (got, want)
        # saving again never overwrites: an error in the message line
        tm.send("s")
        s = tm.wait_for("save failed")
        with open(out) as f:
            again = sorted(l.rstrip("\n") for l in f if l.strip())
        assert again == want
        # Enter on the process again clears the filter
        tm.send("Tab", "Enter")
        tm.wait_gone("proc:db")


def test_flame_zoom_and_save():
    d = tempfile.mkdtemp(prefix="qtop-tui-")
    out = os.path.join(d, "zoom.folded")
    with Tmux(100, 30) as tm:
        start(tm, "-o", out)
        tm.send("Tab", "Tab")
        s = tm.wait_for("icicle:")
        rows = flame_rows(s)
        assert rows[0].startswith("all"), rows[:3]
        assert rows[1].startswith("app") and "db" in rows[1], rows[:3]
        # all -> app -> main -> compute (widest child), zoom
        tm.send("j", "j", "j", "Enter")
        s = tm.wait_until(lambda s: flame_rows(s)[0].startswith("compute"),
                          "compute on the first flame row")
        rows = flame_rows(s)
        assert rows[1].startswith("matmul"), rows[:3]
        assert "app" in s and "main" in s      # breadcrumb
        assert "io" not in rows[0] + rows[1]
        tm.send("s")
        tm.wait_for("saved ")
        with open(out) as f:
            got = sorted(l.rstrip("\n") for l in f if l.strip())
        want = sorted(l for l in fixture_lines() if l.startswith("app;main;compute;"))
        assert got == want, (got, want)
        # Esc zooms out one level: back to the whole tree
        tm.send("Escape")
        tm.wait_until(lambda s: flame_rows(s)[0].startswith("all"), "zoom out")


def test_flame_search_counts():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("3", "/")
        tm.send_literal("sys_")
        tm.send("Enter")
        # sys_write (200) + sys_read (30); vfs_write under sys_write counted once
        tm.wait_for("230 samples, 23.0% of all, 23.0% of zoom")


def test_help_overlay():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("?")
        s = tm.wait_for("Help: keys")
        for k in ("quit", "freeze", "save what is shown", "reset all counts"):
            assert k in s, (k, s)
        tm.send("Space")
        tm.wait_gone("Help: keys")
        tm.send("F1")
        tm.wait_for("Help: keys")


def test_resize_small_and_back():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send("3")
        tm.wait_for("icicle:")
        tm.resize(40, 10)
        s = tm.wait_until(lambda s: len(s.split("\n")[0]) <= 40 and "file |" in s,
                          "40x10 with a status line")
        tm.resize(10, 3)
        tm.wait_for("terminal")
        tm.resize(100, 30)
        s = tm.wait_for("3 Flame")
        tm.send("1")
        tm.wait_for("matmul")
        assert "1000 samples" in tm.screen()


def test_quit_restores_terminal():
    with Tmux(80, 24) as tm:
        start(tm)
        tm.send("q")
        rc, stty = tm.wait_exit()
        assert rc == 0, rc
        assert " icanon" in stty and " echo " in stty, stty
        s = tm.screen()
        assert "BEFORE-QTOP" in s and "Hotspots" not in s, s


def test_sigterm_restores_terminal():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with Tmux(80, 24) as tm:
            start(tm)
            sh = tm.pane_pid()
            with open("/proc/%d/task/%d/children" % (sh, sh)) as f:
                kids = [int(x) for x in f.read().split()]
            assert kids, "no program under the pane shell"
            os.kill(kids[0], sig)
            rc, stty = tm.wait_exit()
            assert " icanon" in stty and " echo " in stty, (sig, stty)
            assert "Hotspots" not in tm.screen(), sig


def test_c_locale_ascii_ellipsis():
    with Tmux(60, 20) as tm:
        start(tm, env={"LANG": "C", "LC_ALL": "C"})
        tm.send("3")
        s = tm.wait_for("icicle:")
        assert "\u2026" not in s and "\u203a" not in s, s
        assert ".." in s, s      # narrow boxes cut with ".."


def test_no_color_and_themes():
    for extra, env in (([], dict(UTF8, NO_COLOR="1")),
                       (["--theme", "mono"], UTF8),
                       (["--theme", "nord"], UTF8),
                       (["--theme", "light"], dict(UTF8, TERM="xterm")),
                       ([], dict(UTF8, TERM="vt100"))):
        with Tmux(80, 24, env={"TERM": env.get("TERM", "xterm-256color")}) as tm:
            start(tm, *extra, env=env)
            tm.send("3")
            tm.wait_for("icicle:")
            tm.send("q")
            assert tm.wait_exit()[0] == 0, extra


def test_bad_theme_is_reported():
    d = tempfile.mkdtemp(prefix="qtop-tui-")
    bad = os.path.join(d, "bad.theme")
    with open(bad, "w") as f:
        f.write("# fine\ntheme[main_bg]=\"#000000\"\ntheme[title]=\"#12\"x\n")
    with Tmux(100, 10) as tm:
        tm.start([QTOP, "--load", SIMPLE, "--theme", bad])
        rc, _ = tm.wait_exit()
        assert rc != 0
        assert "bad.theme:3:" in tm.screen(), tm.screen()


def x10_click(x, y, double=False):
    """xterm X10 mouse bytes (what tmux-256color's kmous expects) for a
    button-1 click at 0-based (x, y)."""
    one = "\x1b[M%c%c%c\x1b[M%c%c%c" % (32, 33 + x, 33 + y, 35, 33 + x, 33 + y)
    return one * (2 if double else 1)


def test_mouse_select_and_zoom():
    with Tmux(100, 30) as tm:
        start(tm)
        tm.send_literal(x10_click(9, 3))         # second table row
        tm.wait_until(lambda s: any(l.startswith("vfs_write ") for l in s.split("\n")),
                      "vfs_write selected by a click")
        tm.send("3")
        tm.wait_for("icicle:")
        tm.send_literal(x10_click(4, 5, double=True))   # "compute" box
        tm.wait_until(lambda s: flame_rows(s)[0].startswith("compute"),
                      "double click zooms into compute")


def test_tiny_sizes_never_crash():
    with Tmux(100, 30) as tm:
        start(tm)
        for view in "123":
            tm.send(view)
            for w, h in ((1, 1), (2, 2), (10, 3), (19, 4), (20, 5), (21, 6),
                         (40, 10), (25, 7)):
                tm.resize(w, h)
                tm.send("j", "Enter", "?", "x", "Escape")
        tm.resize(100, 30)
        tm.send("0", "1")
        s = tm.wait_until(lambda s: " file | 1000 samples" in s and "matmul" in s,
                          "full table and status line")
        tm.send("q")
        assert tm.wait_exit()[0] == 0


def test_unknown_term_is_an_error():
    with Tmux(80, 10) as tm:
        tm.start([QTOP, "--load", SIMPLE], env={"TERM": "no-such-terminal"})
        rc, stty = tm.wait_exit()
        assert rc != 0 and "TERM=no-such-terminal" in tm.screen(), tm.screen()
        assert " icanon" in stty


def test_not_a_terminal():
    r = subprocess.run([QTOP, "--load", SIMPLE], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "not a terminal" in r.stderr and "--batch" in r.stderr, r.stderr


if __name__ == "__main__":
    run_cases([test_hotspot_top_row, test_hotspot_enter_shows_function_in_flame,
               test_sort_and_filter, test_search_jumps,
               test_hide_kernel_frames, test_process_filter_and_save, test_flame_zoom_and_save,
               test_flame_search_counts, test_help_overlay,
               test_resize_small_and_back, test_quit_restores_terminal,
               test_sigterm_restores_terminal, test_c_locale_ascii_ellipsis,
               test_no_color_and_themes, test_bad_theme_is_reported,
               test_mouse_select_and_zoom, test_tiny_sizes_never_crash,
               test_unknown_term_is_an_error, test_not_a_terminal])

#!/usr/bin/env python3
"""Comparing profiles: qtop-prof --diff BEFORE AFTER in tmux (delta table,
differential flamegraph colours read from capture-pane -e, width flip,
normalisation, save), --batch --diff output and errors, and the live
baseline ('b') on tui_driver --fake-live.  Fixtures: tests/data/diff/
(README there: before 100 samples, after 200; matmul shrinks 50 % -> 30 %,
sys_write grows 20 % -> 40 %, new_fn appears, old_fn vanishes)."""
import os
import re
import subprocess
import tempfile

from tui_common import DRIVER, QTOP, SRC, Tmux, row_with, run_cases

UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
DATA = os.path.join(SRC, "tests", "data", "diff")
BEFORE = os.path.join(DATA, "before.folded")
AFTER = os.path.join(DATA, "after.folded")
BROKEN = os.path.join(DATA, "broken.folded")


def start(tm, *extra, before=BEFORE, after=AFTER):
    tm.start([QTOP, "--diff", before, after] + list(extra), env=UTF8)
    tm.wait_for("Hotspots")
    tm.wait_for("DIFF")


def table(screen):
    """Rows of the delta table by function: the numbers and the mark."""
    rows = {}
    lines = screen.split("\n")
    hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
    for l in lines[hdr + 1:]:
        f = l.split()
        if len(f) < 8 or not re.match(r"^-?[\d.]+$", f[0]):
            continue
        # numbers, mode, [mark], function, [module]
        mark = f[7] if f[7] in ("+new", "-gone") else ""
        rows[f[8] if mark else f[7]] = (f[:6], mark)
    return rows


# -- colours from capture-pane -e ------------------------------------------
CUBE = [0, 95, 135, 175, 215, 255]
ANSI = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238),
        (205, 0, 205), (0, 205, 205), (229, 229, 229), (127, 127, 127),
        (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
        (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def rgb256(i):
    if i < 16:
        return ANSI[i]
    if i >= 232:
        v = 8 + 10 * (i - 232)
        return (v, v, v)
    i -= 16
    return (CUBE[i // 36], CUBE[i // 6 % 6], CUBE[i % 6])


def backgrounds(line):
    """(text, [background rgb or None per character]) of an escaped line."""
    text, bgs, bg = "", [], None
    for m in re.finditer(r"\x1b\[([\d;]*)m|([^\x1b]+)", line):
        if m.group(2) is not None:
            text += m.group(2)
            bgs += [bg] * len(m.group(2))
            continue
        p = [int(x) if x else 0 for x in m.group(1).split(";")]
        i = 0
        while i < len(p):
            if p[i] in (0, 49):
                bg = None
            elif p[i] == 48 and p[i + 1] == 5:
                bg = rgb256(p[i + 2])
                i += 2
            elif p[i] == 48 and p[i + 1] == 2:
                bg = tuple(p[i + 2:i + 5])
                i += 4
            elif p[i] in (38,) and p[i + 1] == 5:
                i += 2
            elif p[i] in (38,) and p[i + 1] == 2:
                i += 4
            elif 40 <= p[i] <= 47:
                bg = ANSI[p[i] - 40]
            i += 1
    return text, bgs


def box_colour(tm, name):
    for line in tm.tmux("capture-pane", "-e", "-p", "-t", "t").split("\n"):
        text, bgs = backgrounds(line)
        m = re.search(r"(^|\s)%s(\s|$)" % re.escape(name), text)
        if m:
            return bgs[m.start() + len(m.group(1))]
    raise AssertionError("no box %s" % name)


def redish(c):
    return c and c[0] > c[2] + 60


def blueish(c):
    return c and c[2] > c[0] + 60


def test_delta_table():
    with Tmux(120, 30) as tm:
        start(tm)
        s = tm.screen()
        t = table(s)
        # SELF_B SELF_A dSELF TOT_B TOT_A dTOT
        assert t["matmul"] == (["50.0", "30.0", "-20.0", "50.0", "30.0", "-20.0"], ""), t
        assert t["sys_write"][0][:3] == ["20.0", "40.0", "+20.0"], t
        assert t["new_fn"] == (["0.0", "10.0", "+10.0", "0.0", "10.0", "+10.0"], "+new"), t
        assert t["old_fn"] == (["10.0", "0.0", "-10.0", "10.0", "0.0", "-10.0"], "-gone"), t
        assert t["parse"][0][2] == "0.0" and t["query"][0][2] == "0.0", t
        # sorted by |delta self|: the two 20 pp changes first
        lines = s.split("\n")
        hdr = next(k for k, l in enumerate(lines) if "FUNCTION" in l)
        assert "matmul" in lines[hdr + 1] and "sys_write" in lines[hdr + 2], lines[hdr:hdr + 4]
        # the status line says what is compared
        assert "DIFF after.folded vs before.folded" in s, s
        # sort by |delta total|: compute (-20 total) comes up among the first
        tm.send(">")
        s = tm.wait_for("sort by |delta total|")
        top = [l.split()[-1] for l in s.split("\n")[hdr + 1:hdr + 7]]
        assert "compute" in top and "io" in top, top


def test_not_normalized():
    with Tmux(120, 30) as tm:
        start(tm, "--no-normalize")
        s = tm.screen()
        t = table(s)
        # both as % of before's 100 samples
        assert t["sys_write"][0][:3] == ["20.0", "80.0", "+60.0"], t
        assert t["matmul"][0][:3] == ["50.0", "60.0", "+10.0"], t
        assert t["main"][0][3:] == ["100.0", "200.0", "+100.0"], t
        assert "counts" in row_with(s, "DIFF"), s


def test_identical_all_zero():
    with Tmux(120, 30) as tm:
        start(tm, before=AFTER)
        t = table(tm.screen())
        assert len(t) == 9, t
        for name, (nums, mark) in t.items():
            assert nums[2] == "0.0" and nums[5] == "0.0" and not mark, (name, nums)


def test_flame_colours_and_flip():
    with Tmux(120, 30) as tm:
        start(tm)
        tm.send("3")
        s = tm.wait_for("diff, width after:")
        grow, shrink = box_colour(tm, "sys_write"), box_colour(tm, "matmul")
        same = box_colour(tm, "parse")
        assert redish(grow), grow
        assert blueish(shrink), shrink
        assert same[0] == same[1] == same[2], same           # grey: no change
        # intensity by size: new_fn (+10 pp) is paler than sys_write (+20)
        new = box_colour(tm, "new_fn")
        assert redish(new) and sum(new) > sum(grow), (new, grow)
        # selecting a frame shows both sides
        tm.send("j", "j", "j")          # app, main, widest child: io
        tm.wait_for("io  before 20.0% (20)  after 40.0% (80)  delta +20.00 pp")
        # colour-blind-safe palette: orange / blue
        tm.send("c")
        tm.wait_for("orange grew")
        og = box_colour(tm, "sys_write")
        assert og[0] > og[1] > og[2], og                     # orange
        assert blueish(box_colour(tm, "matmul"))
        # widths from BEFORE: old_fn is there, new_fn is not
        tm.send("w")
        s = tm.wait_for("width before:")
        assert "old_fn" in s and "new_fn" not in s, s
        assert "width: before.folded" in s, s
        tm.send("w")
        s = tm.wait_for("width after:")
        assert "new_fn" in s and "old_fn" not in s, s


def test_flame_zoom_and_search():
    with Tmux(120, 30) as tm:
        start(tm)
        tm.send("3")
        tm.wait_for("icicle:")
        tm.send("j", "j", "j", "Enter")            # zoom into io
        s = tm.wait_until(lambda s: re.search(r"^io(\s|$)", s.split("\n")[2]) is not None,
                          "io at the top of the flame")
        assert redish(box_colour(tm, "write"))
        tm.send("/")
        tm.send_literal("sys_")
        tm.send("Enter")
        tm.wait_for('"sys_": 80 samples')


def test_save_both():
    d = tempfile.mkdtemp(prefix="qtop-diff-")
    out = os.path.join(d, "cmp.folded")
    with Tmux(120, 30) as tm:
        start(tm, "-o", out)
        tm.send("s")
        tm.wait_for("saved after to")
        with open(out) as f:
            assert sorted(f.read().split("\n")) == sorted(open(AFTER).read().split("\n"))
        with open(os.path.join(d, "cmp.diff.folded")) as f:
            got = f.read().split("\n")
        assert "app;main;compute;matmul 100 60" in got, got
        assert "app;main;old_fn 20 0" in got and "app;main;new_fn 0 20" in got, got
        tm.send("s")            # never overwrites
        tm.wait_for("save failed")


def batch(*args):
    return subprocess.run([QTOP, "--batch"] + list(args), capture_output=True,
                          text=True, timeout=30)


def test_batch_diff():
    r = batch("--diff", BEFORE, AFTER)
    assert r.returncode == 0, r.stderr
    rows = {l.split()[-1]: l.split() for l in r.stdout.split("\n")
            if l and not l.startswith(("#", "SELF")) and "[k]" not in l}
    assert rows["matmul"][:6] == ["50.00", "30.00", "-20.00", "50.00", "30.00", "-20.00"], rows
    assert rows["new_fn"][6] == "+new" and rows["old_fn"][6] == "-gone", rows
    k = [l for l in r.stdout.split("\n") if "sys_write" in l][0].split()
    assert k[:3] == ["20.00", "40.00", "+20.00"], k
    r = batch("--diff", BEFORE, AFTER, "--no-normalize", "--top", "1")
    assert r.stdout.strip().split("\n")[-1].split()[:3] == ["20.00", "80.00", "+60.00"], r.stdout
    assert "--no-normalize: 100 samples before, 200 after" in r.stderr, r.stderr
    r = batch("--diff", BEFORE, AFTER, "--folded")
    assert r.stdout.split("\n")[0] == "app;main;compute;matmul 100 60", r.stdout
    r = batch("--diff", AFTER, AFTER)
    deltas = [l.split()[2] for l in r.stdout.split("\n")
              if l and not l.startswith(("#", "SELF"))]
    assert deltas and all(x == "+0.00" for x in deltas), r.stdout


def test_batch_errors():
    r = batch("--diff", os.path.join(DATA, "missing.folded"), AFTER)
    assert r.returncode == 1 and "BEFORE: cannot open" in r.stderr \
        and "No such file" in r.stderr, r.stderr
    r = batch("--diff", BEFORE, BROKEN)
    assert r.returncode == 1 and "AFTER:" in r.stderr and "line 2" in r.stderr, r.stderr
    empty = os.path.join(tempfile.mkdtemp(prefix="qtop-diff-"), "empty.folded")
    open(empty, "w").close()
    r = batch("--diff", empty, AFTER)
    assert r.returncode == 1 and "no samples" in r.stderr, r.stderr
    r = batch("--diff", BEFORE)
    assert r.returncode == 2 and "--diff BEFORE AFTER" in r.stderr, r.stderr
    other = os.path.join(os.path.dirname(empty), "other.folded")
    with open(other, "w") as f:
        f.write("sh;bash;readline 5\n")
    r = batch("--diff", BEFORE, other)
    assert r.returncode == 0 and "no function in common" in r.stderr, r.stderr


def live_total(screen):
    m = re.search(r"total \d+ -> (\d+)", screen)
    assert m, screen
    return int(m.group(1))


def test_live_baseline():
    with Tmux(120, 30) as tm:
        tm.start([DRIVER, "--fake-live", "--refresh", "10", AFTER], env=UTF8)
        tm.wait_for("spin")
        tm.send("b")
        s = tm.wait_for("DIFF now vs baseline")
        assert "baseline of" in s, s
        # the live job keeps growing against the baseline: spin is red
        tm.send("3")
        tm.wait_until(lambda s: "spin" in s, "spin in the flame")
        tm.wait_until(lambda s: redish(box_colour(tm, "spin")), "spin coloured as growth")
        assert not redish(box_colour(tm, "matmul"))  # its share shrinks
        tm.send("b")
        tm.wait_gone("DIFF now")
        # frozen: a baseline of the frozen picture, diff of frozen vs it
        tm.send("1", "z")
        tm.wait_for("FROZEN")
        tm.send("b")
        s = tm.wait_for("DIFF now vs baseline")
        t = table(s)
        assert all(v[0][2] == "0.0" for v in t.values()), t
        tm.send("z")                    # live again: now moves away from it
        tm.wait_until(lambda s: any(v[0][2] != "0.0" for v in table(s).values()),
                      "deltas after unfreezing")


if __name__ == "__main__":
    run_cases([test_delta_table, test_not_normalized, test_identical_all_zero,
               test_flame_colours_and_flip, test_flame_zoom_and_search,
               test_save_both, test_batch_diff, test_batch_errors,
               test_live_baseline])

"""Shared bits of the tmux-driven TUI tests: paths from the environment
(set by meson), a tiny runner that reports every failing case."""
import os
import shutil
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("QTOP_SRCDIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from tmux import Tmux, TmuxError  # noqa: E402,F401

QTOP = os.environ.get("QTOP_PROF", "")
DRIVER = os.environ.get("TUI_DRIVER", "")
SIMPLE = os.path.join(SRC, "tests", "data", "tui", "simple.folded")
THEMES = os.path.join(SRC, "themes")


def fixture_lines(path=SIMPLE):
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def run_cases(cases):
    if not shutil.which("tmux"):
        print("tmux not installed: skipped")
        sys.exit(77)
    failed = 0
    for c in cases:
        try:
            c()
            print("ok   %s" % c.__name__)
        except Exception:
            failed += 1
            print("FAIL %s" % c.__name__)
            traceback.print_exc()
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    sys.exit(1 if failed else 0)


def row_with(screen, text):
    """The first screen line containing text, or None."""
    for line in screen.split("\n"):
        if text in line:
            return line
    return None

"""Shared bits of the binary fault tests (tests/fault/binary_*.py): paths,
a case runner with known-bug (expected failure) marks, a fake QMP server
(fakeqmp_log.py) as a context manager, running qtop-prof with a bound, and
finding the private memsave directory of a running qtop-prof.

Timeouts only bound a failing test; nothing asserts on elapsed time except
"within a few seconds" checks that use generous (10x) margins.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("QTOP_SRCDIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
                        else os.environ.get("QTOP_BUILD", os.path.join(SRC, "build-rel")))
QTOP = os.environ.get("QTOP_PROF") or os.path.join(BUILD, "src", "qtop-prof")
FIXTURES = os.path.join(HERE, "fixtures")
FAKE = os.path.join(HERE, "fakeqmp_log.py")
KERNEL64 = os.path.join(BUILD, "tests", "guest", "x86_64", "sysroot", "kernel")
SYSROOT64 = os.path.join(BUILD, "tests", "guest", "x86_64", "sysroot")
KERNEL32 = os.path.join(BUILD, "tests", "guest", "i386", "sysroot", "kernel")
SIMPLE = os.path.join(SRC, "tests", "data", "tui", "simple.folded")

ALLOWED = {"qmp_capabilities", "query-status", "query-cpus-fast", "stop", "cont",
           "memsave", "pmemsave"}

os.environ.pop("DEBUGINFOD_URLS", None)


class KnownBug(Exception):
    """Raised by a case that hit a bug already reported (see the message);
    counted as XFAIL."""


HEAP_RACE = ("heap corruption in the sampler thread: json-c's duplocale() of the "
             "global locale races with setlocale() in tui_run (src/tui/tui.c:171/196; "
             "glibc 2.36 duplocale sizes the names unlocked); see doc/reliability.md")


def crash_screen(screen):
    """The TUI died of a glibc heap check (or any abort) on screen."""
    if "malloc()" in screen or "free()" in screen or "corrupted" in screen \
            or "Aborted" in screen or "Segmentation fault" in screen:
        raise KnownBug(HEAP_RACE + "; screen: " +
                       " | ".join(l.strip() for l in screen.split("\n") if l.strip())[:200])


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_cases(cases, known_bugs=None):
    """cases: functions.  known_bugs: {name: "why"}: such a case is
    expected to fail (XFAIL, does not fail the file); if it passes it is
    reported as XPASS (and does not fail either: update the mark)."""
    known_bugs = known_bugs or {}
    only = os.environ.get("FAULT_ONLY")
    failed = 0
    for c in cases:
        if only and c.__name__ not in only.split(","):
            continue
        t0 = time.monotonic()
        try:
            c()
            if c.__name__ in known_bugs:
                print("XPASS %s (was marked: %s)" % (c.__name__, known_bugs[c.__name__]), flush=True)
            else:
                print("ok    %s (%.1f s)" % (c.__name__, time.monotonic() - t0), flush=True)
        except KnownBug as e:
            print("XFAIL %s: known bug: %s" % (c.__name__, e), flush=True)
        except Exception:
            if c.__name__ in known_bugs:
                print("XFAIL %s: known bug: %s" % (c.__name__, known_bugs[c.__name__]), flush=True)
                traceback.print_exc(limit=1, file=sys.stdout)
            else:
                failed += 1
                print("FAIL  %s" % c.__name__, flush=True)
                traceback.print_exc(file=sys.stdout)
    print("%d failed" % failed, flush=True)
    sys.exit(1 if failed else 0)


def qtop(args, timeout=60, cwd=None, env=None, stdin=subprocess.DEVNULL, **kw):
    """Run qtop-prof to completion; returns CompletedProcess (text) with
    .elapsed.  The timeout only bounds a hung binary."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.run([QTOP] + list(args), capture_output=True, text=True,
                       timeout=timeout, cwd=cwd, env=e, stdin=stdin, **kw)
    p.elapsed = time.monotonic() - t0
    sys.stdout.write("  $ qtop-prof %s\n  -> rc=%d in %.1f s; stderr:\n%s" % (
        " ".join(args), p.returncode, p.elapsed,
        "".join("    " + l + "\n" for l in p.stderr.splitlines()[-8:])))
    return p


def spawn(args, cwd=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen([QTOP] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=e,
                            stdin=subprocess.DEVNULL)


def no_crash(p):
    """A crash is a negative return code (killed by a signal) or a sanitizer
    report."""
    check(p.returncode >= 0, "qtop-prof died of signal %d" % -p.returncode)
    check("AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr,
          "sanitizer report")
    check("Segmentation" not in p.stderr, "segfault text")


def one_clear_line(p, *words):
    """The error is one 'qtop-prof: ...' line naming the cause (any word of
    each group of alternatives)."""
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(len(lines) >= 1, "no message at all")
    check(len(lines) <= 2, "more than a line or two: %r" % lines)
    text = lines[0]
    check(text.startswith("qtop-prof: "), "message not prefixed: %r" % text)
    for w in words:
        alts = w if isinstance(w, (list, tuple)) else [w]
        check(any(a.lower() in text.lower() for a in alts),
              "message %r does not say %r" % (text, alts))
    return text


def folded_total(path):
    n = 0
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                n += int(line.rpartition(" ")[2])
    return n


class FakeQMP:
    """fakeqmp_log.py MODE in a private directory; .path is the socket,
    .commands() the logged commands."""

    def __init__(self, mode, after=40, dirmode=None):
        self.mode, self.after = mode, after
        self.dir = tempfile.mkdtemp(prefix="qtop-fault-")
        if dirmode is not None:
            os.chmod(self.dir, dirmode)
        self.path = os.path.join(self.dir, "qmp.sock")
        self.log = os.path.join(self.dir, "commands.log")
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, FAKE, self.mode, "unix:" + self.path,
                                      self.log, str(self.after)])
        end = time.monotonic() + 20
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError("fake QMP server did not start")
            time.sleep(0.02)
        os.chmod(self.path, 0o777)
        return self

    def commands(self):
        try:
            with open(self.log) as f:
                return [json.loads(l) for l in f if l.strip()]
        except OSError:
            return []

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def private_tmp_namespace():
    """Re-run this test in a private mount namespace with its own empty
    /dev/shm and /tmp (root + unshare only; otherwise carry on): QEMU and
    qtop-prof are our children, so every qtop-prof.* directory found there
    at the end is this run's, whatever other engineers run meanwhile.
    Returns True when the namespace is private."""
    if os.environ.get("QTOP_FAULT_PRIVATE_TMP") == "1":
        return True
    if os.getuid() != 0 or not shutil.which("unshare") or os.environ.get("QTOP_FAULT_NO_NS"):
        return False
    for p in (QTOP, BUILD, SRC):     # must stay visible in the new namespace
        if os.path.realpath(p).startswith(("/tmp/", "/dev/shm/")):
            return False
    script = ("mount -t tmpfs -o mode=1777 tmpfs /dev/shm && "
              "mount -t tmpfs -o mode=1777 tmpfs /tmp && exec \"$@\"")
    env = dict(os.environ, QTOP_FAULT_PRIVATE_TMP="1")
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            sys.executable] + sys.argv
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"])
    if r.returncode != 0:
        return False
    sys.stdout.flush()
    os.execvpe("unshare", argv, env)


def memsave_dirs_global():
    return set(glob.glob("/dev/shm/qtop-prof.*") + glob.glob("/tmp/qtop-prof.*"))


def held_open(path):
    """Is path the open directory of some live process (a run in progress,
    perhaps another engineer's)?"""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                try:
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == path:
                        return True
                except OSError:
                    pass
        except OSError:
            pass
    return False


def leaked_dirs(before, settle=3.0):
    """qtop-prof.* directories created since `before` that still exist and
    that no live process holds open (waits `settle` s for others' runs)."""
    end = time.monotonic() + settle
    while True:
        left = {d for d in memsave_dirs_global() - before
                if os.path.isdir(d) and not held_open(d)}
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


def find_memsave_dir(pid, timeout=15.0):
    """The qtop-prof.XXXXXX directory a running qtop-prof holds open (its
    dirfd), or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if os.path.basename(t).startswith("qtop-prof."):
                    return t
        except OSError:
            return None
        time.sleep(0.02)
    return None


def wait_socket(path, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    raise RuntimeError("no socket at %s" % path)


class HMP:
    """A second, human monitor (-monitor unix:PATH,server=on,wait=off)."""

    def __init__(self, path):
        self.s = wait_socket(path)
        self.s.settimeout(10)
        self.buf = b""
        self._until_prompt()

    def _until_prompt(self):
        while not self.buf.rstrip().endswith(b"(qemu)"):
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError("HMP closed")
            self.buf += d
        out, self.buf = self.buf, b""
        return out.decode("utf-8", "replace")

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        if line.strip() == "quit":
            return ""
        out = self._until_prompt()
        # strip the echo and the prompt
        return out.replace("(qemu)", "").replace("\r", "").replace(line, "", 1).strip()

    def status(self):
        return self.cmd("info status")

    def close(self):
        self.s.close()


def kill_tree_pid(p):
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()


def finish(p, d, timeout=60):
    """Wait for a spawned qtop-prof (killed after timeout), show the end of
    its stderr, check it did not crash and left no memsave directory d.
    Returns its returncode, stdout and stderr."""
    try:
        o, e = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.stdout.write("  -> rc=%d; stderr:\n%s" % (p.returncode, "".join(
        "    " + l + "\n" for l in e.splitlines()[-6:])))

    class R:
        pass
    r = R()
    r.returncode, r.stderr, r.stdout = p.returncode, e, o
    no_crash(r)
    check(d is None or not os.path.exists(d), "memsave directory %s left behind" % d)
    return r

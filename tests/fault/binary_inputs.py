#!/usr/bin/env python3
"""Fault matrix, input files, of the real qtop-prof binary (no QEMU:
fakeqmp_log.py plays a running 1-vCPU QEMU where a live run is needed).

Expectations (what a user notices):
  * --pid of a pointer, a char array, or that does not parse, or without
    --comm: one clear line naming --pid and the type / column, non-zero exit;
  * --kernel truncated / not an ELF / missing: one clear 'qtop-prof: PATH: ...'
    line, non-zero exit, no crash;
  * --kernel stripped: falls back to .dynsym, or profiles with addresses
    (exit 0, a profile is written);
  * --kernel of another architecture: a clear error naming the mismatch;
  * --sysroot with an unreadable file (and directory): no crash, the rest
    is used, the profile is written; the unreadable file is named in a warning;
  * --load --batch of a folded file with bad lines: bad lines reported with
    their line numbers, good lines kept in the output; only bad lines: error;
  * --theme with bad syntax: a clear 'FILE:LINE: ...' error, non-zero exit,
    terminal not left in raw/noecho mode;
  * --replay of a file of another version / not a record / too short: one
    clear error line; of a truncated record: a warning, and the samples
    before the cut are kept (exactly those).
Usage: binary_inputs.py [BUILD_DIR]
"""
import os
import re
import shutil
import struct
import subprocess
import tempfile

from binary_common import (FIXTURES, KERNEL64, SIMPLE, SYSROOT64, FakeQMP, check,
                           folded_total, no_crash, one_clear_line, qtop, run_cases)

TMP = tempfile.mkdtemp(prefix="qtop-fault-inputs-")


def tmpf(name):
    return os.path.join(TMP, name)


def live(args, name, duration="1", user=None):
    """A short --batch run against the fake QEMU with extra args."""
    o = tmpf(name + ".folded")
    if os.path.exists(o):
        os.unlink(o)
    with FakeQMP("log", after=10 ** 9, dirmode=0o755) as f:
        cmd = ["--qmp", f.path, "--batch", "--duration", duration, "-o", o] + list(args)
        if user:
            p = qtop_as(user, cmd)
        else:
            p = qtop(cmd, timeout=60)
    no_crash(p)
    return p, o


def qtop_as(uid, args):
    from binary_common import QTOP
    import time
    t0 = time.monotonic()
    p = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                        "--", QTOP] + args, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    p.elapsed = time.monotonic() - t0
    print("  $ (uid %d) qtop-prof %s\n  -> rc=%d; stderr:\n%s" % (
        uid, " ".join(args), p.returncode, p.stderr))
    return p


def kernel_fails(path, *words):
    p, o = live(["--kernel", path], "k")
    check(p.returncode != 0, "accepted a broken --kernel")
    one_clear_line(p, path, *words)
    check(not os.path.exists(o), "-o written although nothing was sampled")


# ---- --pid (#15) ----

def test_pid_malformed():
    """A --pid that is not an integer, or does not parse: one clear line
    naming the option, the type (or the column), non-zero exit."""
    for expr, words in (("cpus[$cpu].proc", ["--pid", "struct qg_task *", "a pointer",
                                             "needs an integer"]),
                        ("cpus[$cpu].proc->name", ["--pid", "not an integer"]),
                        ("cpus[$cpu", ["--pid", "column 10", "expected ']'"])):
        p, o = live(["--kernel", KERNEL64, "--comm", "cpus[$cpu].proc->name",
                     "--pid", expr], "pid")
        check(p.returncode != 0, "accepted --pid %s" % expr)
        one_clear_line(p, *words)
        check(not os.path.exists(o), "-o written although nothing was sampled")


def test_pid_without_comm():
    p, o = live(["--kernel", KERNEL64, "--pid", "cpus[$cpu].proc->pid"], "pidnocomm")
    check(p.returncode != 0, "--pid without --comm accepted")
    one_clear_line(p, "--pid needs --comm")


# ---- --kernel ----

def test_kernel_truncated_header():
    k = tmpf("kernel.trunc-header")
    with open(KERNEL64, "rb") as a, open(k, "wb") as b:
        b.write(a.read(40))      # not even a whole ELF header
    kernel_fails(k, ["not an ELF", "truncated"])


def test_kernel_truncated_half():
    k = tmpf("kernel.trunc-half")
    size = os.path.getsize(KERNEL64)
    with open(KERNEL64, "rb") as a, open(k, "wb") as b:
        b.write(a.read(size // 2))   # headers ok, sections cut
    kernel_fails(k)


def test_kernel_truncated_small():
    k = tmpf("kernel.trunc-3000")
    with open(KERNEL64, "rb") as a, open(k, "wb") as b:
        b.write(a.read(3000))
    kernel_fails(k)


def test_kernel_not_elf():
    kernel_fails(os.path.join(FIXTURES, "not-elf.txt"), "not an ELF")


def test_kernel_missing():
    kernel_fails(tmpf("no-such-kernel"), "no such file")


def test_kernel_stripped():
    k = tmpf("kernel.stripped")
    subprocess.run(["objcopy", "--strip-all", KERNEL64, k], check=True)
    p, o = live(["--kernel", k], "stripped")
    check(p.returncode == 0, "a stripped kernel (no .symtab, no .dynsym) is refused "
          "instead of profiling with addresses: %s" % p.stderr.strip()[:200])
    check(folded_total(o) > 0, "no samples")


def test_kernel_dynsym_only():
    """A stripped ELF that keeps .dynsym (a shared object): must be accepted."""
    if not shutil.which("gcc"):
        print("  gcc missing: skipped")
        return
    c = tmpf("lib.c")
    so = tmpf("lib.so")
    with open(c, "w") as f:
        f.write("int qtop_fault_fn(int x) { return x * 3; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", so, c], check=True)
    subprocess.run(["strip", "--strip-all", so], check=True)
    out = subprocess.run(["readelf", "-S", so], capture_output=True, text=True).stdout
    check(".dynsym" in out and ".symtab" not in out, "fixture is not dynsym-only")
    p, o = live(["--kernel", so], "dynsym")
    check(p.returncode == 0, "a .dynsym-only kernel refused: %s" % p.stderr.strip()[:200])


def test_kernel_wrong_architecture():
    """e_machine patched to AArch64 (183): the addresses would be looked up
    in symbols of another machine's code."""
    k = tmpf("kernel.aarch64")
    shutil.copy(KERNEL64, k)
    with open(k, "r+b") as f:
        f.seek(18)
        f.write(struct.pack("<H", 183))
    out = subprocess.run(["readelf", "-h", k], capture_output=True, text=True).stdout
    check("AArch64" in out, "patch failed")
    p, o = live(["--kernel", k], "arm")
    check(p.returncode != 0, "an AArch64 --kernel is accepted silently for an x86 guest")
    one_clear_line(p, k, ["AArch64", "architecture", "machine"])


# ---- --sysroot ----

def sysroot_unreadable():
    sr = tmpf("sysroot")
    shutil.rmtree(sr, ignore_errors=True)
    shutil.copytree(SYSROOT64, sr)
    os.makedirs(os.path.join(sr, "locked-dir"))
    shutil.copy(os.path.join(sr, "beta"), os.path.join(sr, "locked-dir", "gamma"))
    os.chmod(os.path.join(sr, "alpha"), 0)
    os.chmod(os.path.join(sr, "locked-dir"), 0)
    os.chmod(TMP, 0o755)
    outdir = tmpf("out-nobody")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)
    o = os.path.join(outdir, "o.folded")
    if os.path.exists(o):
        os.unlink(o)
    with FakeQMP("log", after=10 ** 9, dirmode=0o755) as f:
        args = ["--qmp", f.path, "--batch", "--duration", "1", "-o", o,
                "--kernel", os.path.join(sr, "kernel"), "--sysroot", sr]
        if os.getuid() == 0:
            if not shutil.which("setpriv"):
                raise RuntimeError("running as root without setpriv: "
                                   "an unreadable file cannot be tested")
            p = qtop_as(65534, args)   # nobody: chmod 000 means something
        else:
            p = qtop(args)
    os.chmod(os.path.join(sr, "locked-dir"), 0o755)
    no_crash(p)
    return p, o


def test_sysroot_unreadable_file_works():
    p, o = sysroot_unreadable()
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(os.path.exists(o) and folded_total(o) > 0, "no profile")


def test_sysroot_unreadable_file_warned():
    p, o = sysroot_unreadable()
    check(re.search(r"alpha.*(permission|denied|cannot|unreadable)", p.stderr, re.I),
          "the unreadable sysroot file is skipped silently")


# ---- --load ----

def test_load_bad_lines():
    o = tmpf("bad-lines.out.folded")
    p = qtop(["--load", os.path.join(FIXTURES, "bad-lines.folded"), "--batch",
              "--folded", "-o", o])
    no_crash(p)
    check(p.returncode == 0, "exit %d" % p.returncode)
    check("6 bad line" in p.stderr, "count of bad lines not reported")
    check(re.search(r"line 2\b", p.stderr), "line number of the first bad line not reported")
    got = {}
    for line in open(o):
        fr, _, n = line.rstrip("\n").rpartition(" ")
        got[fr] = got.get(fr, 0) + int(n)
    check(got == {"sh;main;foo": 15, "sh;main;good": 7}, "good lines not kept: %r" % got)
    check(p.stdout == open(o).read(), "--folded stdout differs from -o")


def test_load_bad_lines_all_numbers():
    """Every bad line's number is reported (a user fixes them all at once)."""
    p = qtop(["--load", os.path.join(FIXTURES, "bad-lines.folded"), "--batch"])
    for n in (2, 3, 4, 6, 7, 9):
        check(re.search(r"\b%d\b" % n, p.stderr), "bad line %d not named" % n)


def test_load_only_bad_lines():
    f = tmpf("allbad.folded")
    with open(f, "w") as w:
        w.write("no count here\n;;; x\n")
    p = qtop(["--load", f, "--batch"])
    no_crash(p)
    check(p.returncode != 0, "a file without stacks accepted")
    check("no stacks" in p.stderr, "no clear message")


def test_load_binary_garbage():
    f = tmpf("garbage.folded")
    with open(f, "wb") as w:
        w.write(os.urandom(65536) + b"\x00" * 1000 + b"a;b 1\n")
    p = qtop(["--load", f, "--batch"])
    no_crash(p)


def test_load_missing():
    p = qtop(["--load", tmpf("nope.folded"), "--batch"])
    no_crash(p)
    check(p.returncode != 0, "exit 0")
    one_clear_line(p, "nope.folded", "no such file")


# ---- --theme (TUI) ----

def theme_error(theme, *words):
    from tmux import Tmux
    if not shutil.which("tmux"):
        print("  tmux missing: skipped")
        return
    with Tmux(80, 24) as tm:
        from binary_common import QTOP
        tm.start([QTOP, "--load", SIMPLE, "--theme", theme])
        st, stty = tm.wait_exit(timeout=30)
        screen = tm.screen()
    check(st != 0, "a broken theme is accepted")
    for w in words:
        check(w in screen, "screen does not show %r:\n%s" % (w, screen))
    check(re.search(r"(^|\s)icanon\b", stty) and re.search(r"(^|\s)echo\b", stty),
          "terminal left in raw/noecho mode: %s" % stty[:400])
    print("  " + [l for l in screen.split("\n") if "qtop-prof" in l][0])


def test_theme_bad_syntax():
    f = os.path.join(FIXTURES, "bad-syntax.theme")
    theme_error(f, f + ":4:")


def test_theme_bad_colour():
    f = os.path.join(FIXTURES, "bad-colour.theme")
    theme_error(f, f + ":2:")


def test_theme_missing_file():
    theme_error(tmpf("nope.theme"), "nope.theme")


# ---- --replay ----

def replay_fails(name, *words):
    f = os.path.join(FIXTURES, name)
    p = qtop(["--replay", f, "--batch", "-o", tmpf(name + ".folded")])
    no_crash(p)
    check(p.returncode != 0, "accepted")
    one_clear_line(p, f, *words)


def test_replay_other_version():
    replay_fails("future-version.qrec", "version 99", "not supported")


def test_replay_not_a_record():
    replay_fails("not-a-record.qrec", "not a qtop-prof record")


def test_replay_too_short():
    replay_fails("header-only-short.qrec", "not a qtop-prof record")


def test_replay_truncated_keeps_samples():
    rec = tmpf("good.qrec")
    if os.path.exists(rec):
        os.unlink(rec)
    p, _ = live(["--record", rec, "--samples", "50"], "rec", duration="20")
    check(p.returncode == 0 and os.path.exists(rec), "could not record")
    data = open(rec, "rb").read()
    off, bounds = 24, []
    while off < len(data):
        (n,) = struct.unpack_from("<I", data, off)
        off += 4 + n
        bounds.append(off)
    check(len(bounds) >= 10, "only %d samples recorded" % len(bounds))
    keep = len(bounds) // 2
    cut = bounds[keep - 1] + 4 + 100      # in the middle of sample keep+1
    t = tmpf("trunc.qrec")
    with open(t, "wb") as w:
        w.write(data[:cut])
    o = tmpf("trunc.folded")
    p = qtop(["--replay", t, "--batch", "-o", o])
    no_crash(p)
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(re.search(r"truncated", p.stderr), "no warning about the truncation")
    check(re.search(r"\b%d samples\b" % keep, p.stderr), "does not say how many were kept")
    check(folded_total(o) == keep, "kept %d samples, expected %d" % (folded_total(o), keep))


# ---- kernel symbols that do not fit the samples ----
# Real test-guest samples (tests/data/unwind/guest-x86_64, recorded with
# --record) replayed with the kernel ELF they were taken with: with the
# right slide (0) no warning; a wrong --kernel-offset, or no kernel symbols
# at all, gives one warning line naming the likely cause.
GUEST_REC = os.path.join(os.path.dirname(SIMPLE), "..", "unwind", "guest-x86_64")
SYMWARN = "kernel-mode samples"


def replay_rec(name, *extra):
    o = tmpf(name + ".folded")
    if os.path.exists(o):
        os.unlink(o)
    p = qtop(["--replay", os.path.join(GUEST_REC, "samples.qrec"), "--batch",
              "--top", "3", "-o", o] + list(extra))
    no_crash(p)
    check(p.returncode == 0, "exit %d" % p.returncode)
    return [l for l in p.stderr.splitlines() if SYMWARN in l]


def test_replay_right_kernel_no_symbol_warning():
    w = replay_rec("rightk", "--kernel", os.path.join(GUEST_REC, "kernel"))
    check(w == [], "warning with the right kernel and slide: %r" % w)


def test_replay_wrong_slide_warns_once():
    w = replay_rec("wrongslide", "--kernel", os.path.join(GUEST_REC, "kernel"),
                   "--kernel-offset", "0x200000")
    check(len(w) == 1, "expected one warning line, got %r" % w)
    check(w and w[0].startswith("qtop-prof: warning: ") and "--kernel-offset" in w[0]
          and "not the running kernel" in w[0], "unclear: %r" % w)


def test_replay_no_kernel_symbols_warns():
    w = replay_rec("nokernel")
    check(len(w) == 1 and "no kernel symbols" in w[0], "unclear: %r" % w)


KNOWN_BUGS = {
}

if __name__ == "__main__":
    import atexit
    atexit.register(shutil.rmtree, TMP, True)
    run_cases([v for k, v in list(globals().items()) if k.startswith("test_")], KNOWN_BUGS)

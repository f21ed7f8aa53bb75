#!/usr/bin/env python3
"""Fault matrix, QMP side, of the real qtop-prof binary in --batch mode
(no QEMU: fakeqmp_log.py plays QEMU, or misbehaves).

Expectations (what a user notices):
  * cannot connect (no path, a regular file, a directory, a stale socket,
    TCP refused, a peer speaking SSH, QMP held by another client): ONE line
    'qtop-prof: ...' naming the cause, non-zero exit, no crash, within a few
    seconds, and no -o file is created;
  * an error reply to a command of the start-up (query-status,
    query-cpus-fast): one line naming the command, non-zero exit;
  * an error reply to a command of every round (stop, cont, info registers,
    memsave, pmemsave): errors are counted and reported, no crash, the
    profile is still written;
  * garbage / malformed / truncated / huge JSON or a closed connection in
    the middle of a session: a clear 'sampling ended: ...' line, the samples
    collected before it are written to -o, no crash;
  * replies that stall past the timeout: qtop-prof still ends (duration +
    a bounded wait) and writes what it has, and says why it has so little;
  * safety: only allow-listed commands are ever sent; memsave files go to a
    0700 directory owned by the user that no longer exists afterwards; a
    guest paused by someone else is never resumed.
Usage: binary_qmp.py [BUILD_DIR]
"""
import os
import re
import tempfile

from binary_common import (ALLOWED, FakeQMP, check, folded_total, no_crash,
                           one_clear_line, qtop, run_cases, memsave_dirs_global)

TMP = tempfile.mkdtemp(prefix="qtop-fault-qmp-")


def out_path(name):
    p = os.path.join(TMP, name + ".folded")
    if os.path.exists(p):
        os.unlink(p)
    return p


def connect_fails(spec, *words, name="x", max_s=10.0):
    o = out_path(name)
    p = qtop(["--qmp", spec, "--batch", "--duration", "2", "-o", o], timeout=60)
    no_crash(p)
    check(p.returncode != 0, "exit status 0 on a failed connection")
    one_clear_line(p, *words)
    check(p.elapsed < max_s, "took %.1f s to give up" % p.elapsed)
    check(not os.path.exists(o), "an -o file was created without any sample")
    return p


# ---- cannot connect ----

def test_socket_path_missing():
    connect_fails(os.path.join(TMP, "no-such-socket"), "no such file", "-qmp unix:")


def test_socket_path_is_regular_file():
    f = os.path.join(TMP, "regular")
    open(f, "w").close()
    connect_fails(f, "not a socket")


def test_socket_path_is_directory():
    connect_fails(TMP, "not a socket")


def test_socket_no_listener():
    import socket
    path = os.path.join(TMP, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()          # the file stays, nobody listens: QEMU died
    connect_fails(path, "refused", ["stale", "nobody listening"])


def test_tcp_refused():
    connect_fails("tcp:127.0.0.1:1", "refused")


def test_peer_speaks_ssh():
    with FakeQMP("ssh") as f:
        connect_fails(f.path, ["does not speak QMP", "not QMP"], "SSH")


def test_qmp_held_by_another_client():
    with FakeQMP("nogreet") as f:
        connect_fails(f.path, "greeting", "another client")


# ---- error replies ----

def test_error_reply_query_status():
    with FakeQMP("err:query-status") as f:
        connect_fails(f.path, "query-status", "fake error")


def test_error_reply_query_cpus_fast():
    with FakeQMP("err:query-cpus-fast") as f:
        connect_fails(f.path, "query-cpus-fast", "fake error")


def round_errors(mode, expect_samples, need_msg=True):
    o = out_path(mode.replace(":", "_"))
    with FakeQMP(mode, after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "2", "-o", o], timeout=60)
        cmds = f.commands()
    no_crash(p)
    check(os.path.exists(o), "no -o file written")
    n = folded_total(o)
    if expect_samples:
        check(n > 0, "no samples although only %s fails" % mode)
    # the errors must reach the user: a count and the message
    check(re.search(r"\b[1-9]\d*\b[^\n]*(error|fail)", p.stderr, re.I),
          "the errors are not reported (no 'N errors' in stderr)")
    if need_msg:
        check("fake error" in p.stderr, "the last error message is not shown")
    return p, cmds, n


def test_error_reply_stop():
    round_errors("err:stop", False)


def test_error_reply_info_registers():
    p, cmds, n = round_errors("err:info-registers", False)
    # the guest must never be left paused by us: every stop is followed by cont
    stops = sum(1 for c in cmds if c.get("execute") == "stop")
    conts = sum(1 for c in cmds if c.get("execute") == "cont")
    check(conts >= stops, "%d stop but %d cont" % (stops, conts))


def test_error_reply_memsave():
    # memsave failures make stackless samples (counted as stack_fail)
    round_errors("err:memsave", True, need_msg=False)


def test_error_reply_x():
    # HMP x (small reads, and all reads with --mem hmp) failing: samples keep
    # their leaf, the errors are counted and shown
    round_errors("err:x", True)


def test_stale_memsave_dir_of_killed_run_removed():
    # A qtop-prof that was SIGKILLed cannot remove its memsave directory;
    # the next run removes such directories of dead processes (pid in the
    # name) and leaves those of live ones alone.
    import tempfile
    # directly in /tmp: qtop-prof takes a memsave directory path of at
    # most 40 characters (each one is a request byte QEMU reads slowly)
    base = tempfile.mkdtemp(prefix="qtop-fault-stale-", dir="/tmp")
    dead = os.path.join(base, "qtop-prof.999999.abcdef")
    live = os.path.join(base, "qtop-prof.%d.keepme" % os.getpid())
    os.mkdir(dead)
    open(os.path.join(dead, "r0"), "w").close()
    os.mkdir(live)
    o = out_path("stale")
    with FakeQMP("normal", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "1", "-o", o],
                 env={"QTOP_MEMSAVE_DIR": base})
    no_crash(p)
    check(not os.path.exists(dead), "the dead run's memsave directory is still there")
    check(os.path.isdir(live), "a live process's memsave directory was removed")
    check(sorted(os.listdir(base)) == [os.path.basename(live)],
          "unexpected entries left: %r" % os.listdir(base))
    os.rmdir(live)
    os.rmdir(base)


def test_error_reply_pmemsave():
    # pmemsave is only the start-up probe of the memsave directory: its
    # failure must not prevent sampling (no error to report afterwards)
    o = out_path("pmemsave")
    with FakeQMP("err:pmemsave", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "2", "-o", o], timeout=60)
    no_crash(p)
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(folded_total(o) > 0, "no samples")


def test_error_reply_cont():
    o = out_path("cont")
    with FakeQMP("err:cont", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "2", "-o", o], timeout=60)
        cmds = f.commands()
    no_crash(p)
    check(os.path.exists(o), "no -o file written")
    check(re.search(r"\b[1-9]\d*\b[^\n]*(error|fail)", p.stderr, re.I) and "fake error" in p.stderr,
          "a failed cont (guest left paused by qtop-prof!) is not reported")
    check(re.search(r"paused", p.stderr.replace(o, ""), re.I),
          "the user is not told that the guest stays paused")
    conts = sum(1 for c in cmds if c.get("execute") == "cont")
    check(conts >= 2, "a failed cont is not retried (%d sent)" % conts)


# ---- mid-session faults ----

def mid_session(mode, *words):
    o = out_path("mid_" + mode)
    with FakeQMP(mode, after=40) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "20", "-o", o], timeout=90)
    no_crash(p)
    check(os.path.exists(o), "the samples before the fault were not written")
    n = folded_total(o)
    check(n > 0, "empty profile although rounds succeeded before the fault")
    check("sampling ended" in p.stderr, "no 'sampling ended' line")
    for w in words:
        check(w.lower() in p.stderr.lower(), "stderr does not say %r" % w)
    check(p.elapsed < 15, "took %.1f s to notice" % p.elapsed)
    print("  %s: %d samples kept, rc=%d" % (mode, n, p.returncode))
    return p


def test_mid_session_garbage():
    mid_session("garbage", "does not speak QMP")


def test_mid_session_bad_json():
    mid_session("badjson", "does not speak QMP")


def test_mid_session_truncated():
    mid_session("truncated", "closed")


def test_mid_session_huge_reply():
    mid_session("huge", "longer than")


def test_mid_session_closed():
    mid_session("close", "closed")


def test_replies_stall_past_timeout():
    o = out_path("stall")
    with FakeQMP("stall", after=40) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "3", "-o", o], timeout=120)
    no_crash(p)
    check(os.path.exists(o) and folded_total(o) > 0, "samples before the stall lost")
    # bounded: duration + one command timeout (3 s) + slack
    check(p.elapsed < 30, "did not end: %.1f s" % p.elapsed)
    check(re.search(r"no reply|timeout|timed out|not answer", p.stderr, re.I),
          "the user is not told that QEMU stopped answering")


# ---- safety ----

def allowed(c):
    name = c.get("execute")
    if name in ALLOWED:
        return True
    if name == "human-monitor-command":
        line = (c.get("arguments") or {}).get("command-line", "")
        return line.startswith("info registers") or line.startswith("x/")
    return False


def safety(mem):
    o = out_path("safety_" + mem)
    before = memsave_dirs_global()
    with FakeQMP("log", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "2", "--mem", mem,
                  "-o", o], timeout=60)
        cmds = f.commands()
    no_crash(p)
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(len(cmds) > 20, "only %d commands" % len(cmds))
    bad = [c for c in cmds if not allowed(c)]
    check(not bad, "non-allow-listed commands sent: %r" % bad[:3])
    saves = [c for c in cmds if c.get("execute") in ("memsave", "pmemsave")]
    dirs = set()
    for c in saves:
        fn = c["arguments"]["filename"]
        d = os.path.dirname(fn)
        dirs.add(d)
        check(os.path.basename(d).startswith("qtop-prof."), "file outside a private dir: %s" % fn)
        check(c.get("_dir_mode") == "0o700", "dir of %s has mode %s" % (fn, c.get("_dir_mode")))
        check(c.get("_dir_owner_uid") == os.getuid(), "dir of %s not owned by us" % fn)
        check(not c.get("_dir_is_link"), "dir of %s is a symlink" % fn)
    if mem == "memsave":
        check(saves, "no memsave at all in --mem memsave")
        check(len(dirs) == 1, "several memsave dirs: %r" % dirs)
    for d in dirs:
        check(not os.path.exists(d), "memsave directory %s left behind" % d)
    names = sorted({c.get("execute") + (":" + c["arguments"]["command-line"].split()[0]
                                         if c.get("execute") == "human-monitor-command" else "")
                    for c in cmds})
    print("  %d commands, kinds: %s" % (len(cmds), ", ".join(names)))


def test_safety_allow_list_memsave():
    safety("memsave")


def test_safety_allow_list_hmp():
    safety("hmp")


def test_paused_guest_not_resumed():
    o = out_path("gstate")
    with FakeQMP("paused", after=10 ** 9) as f:
        p = qtop(["--qmp", f.path, "--batch", "--duration", "2", "-o", o], timeout=60)
        cmds = f.commands()
    no_crash(p)
    names = [c.get("execute") for c in cmds]
    check("cont" not in names, "qtop-prof resumed a guest it had not paused")
    check("stop" not in names, "qtop-prof sent stop to a paused guest")
    check(re.search(r"paused", p.stderr.replace(o, ""), re.I),
          "0 samples and no word that the guest was paused")


KNOWN_BUGS = {
}

if __name__ == "__main__":
    import atexit
    import shutil
    atexit.register(shutil.rmtree, TMP, True)
    run_cases([v for k, v in list(globals().items()) if k.startswith("test_")], KNOWN_BUGS)

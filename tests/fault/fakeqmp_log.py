#!/usr/bin/env python3
"""fakeqmp_log.py - a fake QEMU QMP server good enough for qtop-prof's sampler
to run real rounds, which logs every command it receives and can break in the
middle of a session.  For the binary fault tests only (tests/fault/binary_*.py);
reuses fakeqmp.py's socket helpers and greeting.

Usage: fakeqmp_log.py MODE unix:PATH LOGFILE [AFTER]

Every command received is appended to LOGFILE as one JSON line; memsave and
pmemsave entries get "_dir_mode" (octal string of the mode of the directory
of "filename" at that moment) and "_dir_owner_uid".

Modes:
  log            behave like a running 1-vCPU QEMU 7.2 (x86_64, kernel mode)
  err:NAME       an error reply to every command NAME (query-status,
                 query-cpus-fast, stop, cont, memsave, pmemsave, info-registers
                 (the HMP "info registers -a"), x (HMP x/...)); others normal
  paused         like log, but the guest is paused (query-status running:
                 false) and no stop/cont/memsave may arrive
  garbage        after AFTER (default 40) commands: a line of garbage
  badjson        after AFTER commands: malformed JSON as the reply
  truncated      after AFTER commands: half a reply, then close
  huge           after AFTER commands: a 64 MiB JSON string as the reply
  stall          after AFTER commands: never answer again (socket kept open)
  close          after AFTER commands: close the connection
  ssh            an SSH server banner instead of the QMP greeting
  nogreet        accept, say nothing (as when another client holds QMP)
"""
import json
import os
import stat
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fakeqmp import GREETING, Conn, listen  # noqa: E402

REGS = os.path.join(HERE, "..", "data", "qemu", "regs64_cpu0.txt")


def regs_text():
    try:
        with open(REGS, "rb") as f:
            t = f.read().decode()
    except OSError:
        t = ("\r\nCPU#0\r\nRAX=0 RBX=0 RCX=0 RDX=0\r\nRSP=ffffc90000003fc0 "
             "RIP=ffffffff81000000 RFL=00000002 CPL=0 HLT=0\r\n")
    if "CPU#" not in t:
        t = "\r\nCPU#0\r\n" + t.lstrip()
    return t


def hmp_x(line):
    """x/Ngx ADDR -> QEMU-looking dump of zero words."""
    try:
        fmt, addr = line.split()[0], line.split()[1]
        n = int(fmt[2:].rstrip("gxwbh") or "1")
        a = int(addr, 0)
    except (ValueError, IndexError):
        return "Invalid parameter\r\n"
    out = []
    for i in range(0, n, 2):
        words = " ".join("0x%016x" % 0 for _ in range(min(2, n - i)))
        out.append("%016x: %s" % (a + 8 * i, words))
    return "\r\n".join(out) + "\r\n"


class Fake:
    def __init__(self, mode, log, after):
        self.mode, self.log, self.after = mode, log, after
        self.running = mode != "paused"
        self.regs = regs_text()
        self.n = 0

    def record(self, cmd):
        e = dict(cmd)
        if cmd.get("execute") in ("memsave", "pmemsave"):
            fn = (cmd.get("arguments") or {}).get("filename", "")
            d = os.path.dirname(fn)
            try:
                st = os.lstat(d)
                e["_dir_mode"] = oct(stat.S_IMODE(st.st_mode))
                e["_dir_owner_uid"] = st.st_uid
                e["_dir_is_link"] = stat.S_ISLNK(st.st_mode)
            except OSError as ex:
                e["_dir_error"] = str(ex)
        with open(self.log, "a") as f:
            f.write(json.dumps(e) + "\n")

    def event(self, k, name):
        t = time.time()
        k.send({"event": name, "timestamp": {"seconds": int(t),
                                             "microseconds": int(t * 1e6) % 1000000}})

    def error(self, k, cmd, desc="fake error"):
        out = {"error": {"class": "GenericError", "desc": desc}}
        if "id" in cmd:
            out["id"] = cmd["id"]
        k.send(out)

    def answer(self, k, cmd):
        name = cmd.get("execute")
        args = cmd.get("arguments") or {}
        line = args.get("command-line", "") if name == "human-monitor-command" else ""
        key = name
        if name == "human-monitor-command":
            key = "info-registers" if line.startswith("info registers") else \
                  "x" if line.startswith("x/") else line
        if self.mode == "err:" + str(key):
            return self.error(k, cmd, "fake error for %s" % key)
        r = {}
        if name == "query-status":
            r = {"status": "running" if self.running else "paused",
                 "singlestep": False, "running": self.running}
        elif name == "query-cpus-fast":
            r = [{"thread-id": 1, "props": {"core-id": 0, "thread-id": 0,
                                            "socket-id": 0},
                  "qom-path": "/machine/unattached/device[0]",
                  "cpu-index": 0, "target": "x86_64"}]
        elif name == "stop":
            if self.running:
                self.running = False
                self.event(k, "STOP")
        elif name == "cont":
            if not self.running:
                self.running = True
                self.event(k, "RESUME")
        elif name in ("memsave", "pmemsave"):
            try:
                with open(args["filename"], "wb") as f:
                    f.write(bytes(int(args.get("size", 0))))
            except (OSError, KeyError, ValueError) as ex:
                return self.error(k, cmd, "Could not open '%s': %s" % (
                    args.get("filename"), ex))
        elif name == "human-monitor-command":
            if line.startswith("info registers"):
                r = self.regs
            elif line.startswith("x/"):
                r = hmp_x(line[0:])
            else:
                r = ""
        out = {"return": r}
        if "id" in cmd:
            out["id"] = cmd["id"]
        k.send(out)

    def serve(self, c):
        k = Conn(c, False)
        if self.mode == "nogreet":
            time.sleep(120)
            return
        if self.mode == "ssh":
            k.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            time.sleep(120)
            return
        k.send(GREETING)
        while True:
            cmd = k.recv_cmd()
            if cmd is None:
                return
            self.record(cmd)
            self.n += 1
            if self.n > self.after:
                m = self.mode
                cid = cmd.get("id", 0)
                if m == "garbage":
                    k.send(b"\x00\xffhello, this is not JSON at all\r\n")
                    time.sleep(120)
                    return
                if m == "badjson":
                    k.send(b'{"return": {"status": "running",, }, "id": %d}\r\n' % cid)
                    time.sleep(120)
                    return
                if m == "truncated":
                    k.send(b'{"return": {"status": "runn')
                    return
                if m == "huge":
                    k.send(b'{"return": "')
                    chunk = b"A" * 65536
                    try:
                        for _ in range(64 * 16):
                            k.send(chunk)
                    except OSError:
                        return
                    k.send(b'", "id": %d}\r\n' % cid)
                    time.sleep(120)
                    return
                if m == "stall":
                    while k.recv_cmd() is not None:
                        pass
                    return
                if m == "close":
                    return
            self.answer(k, cmd)


def main():
    mode, where, log = sys.argv[1], sys.argv[2], sys.argv[3]
    after = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    open(log, "w").close()
    s = listen(where)
    c, _ = s.accept()
    try:
        Fake(mode, log, after).serve(c)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        c.close()
        s.close()


if __name__ == "__main__":
    main()

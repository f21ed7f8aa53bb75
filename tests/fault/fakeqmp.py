#!/usr/bin/env python3
"""fakeqmp.py - a misbehaving QMP server, for fault-injection tests only.

Usage: fakeqmp.py MODE (unix:PATH | tcp:PORTFILE)
Serves one client, then exits.  With tcp:PORTFILE it listens on 127.0.0.1 at
an ephemeral port and writes the port number to PORTFILE.

Modes (what happens after the client connects):
  ok            behaves like QEMU for the few commands the tests use
  nogreet       accepts, says nothing (as when another client holds QMP)
  badgreet      sends a non-QMP banner
  closegreet    closes before the greeting
  garbage       greeting, then garbage instead of the qmp_capabilities reply
  badjson       handshake, then malformed JSON as the next reply
  truncated     handshake, then half a reply and close
  stall         handshake, then never answers again
  error         handshake, then an error reply to every command
  huge          handshake, then an endless JSON string as the next reply
  deep          handshake, then a reply nested 100000 levels deep
  events        handshake, then events between and around every reply, and
                pipelined replies in reverse order
  split         like ok, but every byte is written separately
  closeafter    handshake, then closes (the client's next send must not die
                of SIGPIPE)
"""
import json, os, socket, sys, time

GREETING = {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},
                                "package": "fake"}, "capabilities": ["oob"]}}


def listen(where):
    if where.startswith("unix:"):
        path = where[5:]
        s = socket.socket(socket.AF_UNIX)
        s.bind(path + ".tmp")
        s.listen(1)
        os.rename(path + ".tmp", path)  # appears only once listening
    else:
        s = socket.socket(socket.AF_INET)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with open(where[4:] + ".tmp", "w") as f:
            f.write(str(s.getsockname()[1]))
        os.rename(where[4:] + ".tmp", where[4:])
    return s


class Conn:
    def __init__(self, c, split):
        self.c, self.split, self.buf = c, split, b""

    def send(self, data):
        if isinstance(data, dict):
            data = (json.dumps(data) + "\r\n").encode()
        if self.split:
            for i in range(len(data)):
                self.c.sendall(data[i:i + 1])
        else:
            self.c.sendall(data)

    def recv_cmd(self):
        while b"\n" not in self.buf:
            d = self.c.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def reply_for(cmd):
    name = cmd.get("execute")
    if name == "query-status":
        r = {"status": "prelaunch", "singlestep": False, "running": False}
    elif name == "human-monitor-command":
        r = "RIP=ffffffff81000000 RSP=ffffc90000003fc0\r\n"
    else:
        r = {}
    out = {"return": r}
    if "id" in cmd:
        out["id"] = cmd["id"]
    return out


def serve(mode, c):
    k = Conn(c, mode == "split")
    if mode == "nogreet":
        time.sleep(60)
        return
    if mode == "closegreet":
        return
    if mode == "badgreet":
        k.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        time.sleep(60)
        return
    k.send(GREETING)
    cmd = k.recv_cmd()
    if cmd is None:
        return
    if mode == "garbage":
        k.send(b"hello, this is not JSON\r\n")
        time.sleep(60)
        return
    k.send(reply_for(cmd))
    if mode == "closeafter":
        return
    pending = []
    while True:
        cmd = k.recv_cmd()
        if cmd is None:
            return
        if mode == "badjson":
            k.send(b'{"return": {"status": "running",, }, "id": %d}\r\n' % cmd["id"])
        elif mode == "truncated":
            k.send(b'{"return": {"status": "runn')
            return
        elif mode == "stall":
            continue
        elif mode == "error":
            k.send({"error": {"class": "GenericError",
                              "desc": "Invalid addr 0xffffffffffffffff/size 4096 specified"},
                    "id": cmd["id"]})
        elif mode == "huge":
            k.send(b'{"return": "')
            chunk = b"A" * 65536
            try:
                for _ in range(64 * 16):  # 64 MiB, far past any sane reply
                    k.send(chunk)
            except OSError:
                return  # the client gave up: what we want
            k.send(b'", "id": %d}\r\n' % cmd["id"])
        elif mode == "deep":
            k.send(b"[" * 100000)
            time.sleep(5)
            return
        elif mode == "events":
            # collect a pipelined batch of 3, answer in reverse order with
            # events everywhere
            pending.append(cmd)
            if len(pending) < 3:
                continue
            k.send({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 1}})
            for i, p in enumerate(reversed(pending)):
                k.send(reply_for(p))
                k.send({"event": ["RESUME", "GUEST_PANICKED", "VSERPORT_CHANGE"][i],
                        "timestamp": {"seconds": 2 + i, "microseconds": 0},
                        "data": {"id": "x"}})
            pending = []
        else:
            k.send(reply_for(cmd))


def main():
    mode, where = sys.argv[1], sys.argv[2]
    s = listen(where)
    c, _ = s.accept()
    try:
        serve(mode, c)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        c.close()
        s.close()


if __name__ == "__main__":
    main()

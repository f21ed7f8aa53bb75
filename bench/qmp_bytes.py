#!/usr/bin/env python3
"""What one QMP command costs QEMU, and why: the request's length.

QEMU 7.2's QMP monitor asks its chardev for one byte at a time
(monitor_can_read() returns 1), so every request byte costs QEMU's monitor
I/O thread a poll, a 1-byte recvmsg and a few eventfd reads and writes.
This bench boots the test guest and, in one run:
  1. times the same command padded with spaces to several lengths (JSON
     ignores the spaces; QEMU still reads them one by one): µs per request
     byte, guest running and paused;
  2. times the commands a sampler sends, each at its real length;
  3. counts QEMU's system calls per request byte with strace -c -f.
Serial round trips from a Python client, medians of --n calls; asserts
nothing.  Usage: bench/qmp_bytes.py [--build build-bench] [--n 300]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from guest import Guest  # noqa: E402


class Raw:
    """A QMP client that sends exactly the bytes it is given."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.call('{"execute":"qmp_capabilities"}')

    def call(self, raw):
        self.s.sendall(raw.encode())
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (raw, m["error"]))
                return m

    def time(self, raw, n):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.call(raw)
            ts.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(ts)


def hmp(line, cpu=None):
    a = {"command-line": line}
    if cpu is not None:
        a["cpu-index"] = cpu
    return json.dumps({"execute": "human-monitor-command", "arguments": a},
                      separators=(",", ":")) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("QTOP_BUILD",
                                                      os.path.join(ROOT, "build-bench")))
    ap.add_argument("--n", type=int, default=300)
    a = ap.parse_args()
    with Guest(a.build, arch="x86_64", smp=1) as g:
        q = Raw(g.qmp_path)
        base = '{"execute":"query-status"}'
        print("### 1. The same command, padded (x86_64 1 vCPU, TCG; median of %d)" % a.n)
        print()
        print("| request bytes | running µs | paused µs |")
        print("|---|---|---|")
        pts = {"running": [], "paused": []}
        for size in (27, 64, 128, 256, 512):
            raw = base + " " * (size - len(base) - 1) + "\n"
            r = q.time(raw, a.n)
            q.call('{"execute":"stop"}\n')
            p = q.time(raw, a.n)
            q.call('{"execute":"cont"}\n')
            pts["running"].append((size, r))
            pts["paused"].append((size, p))
            print("| %d | %.0f | %.0f |" % (size, r, p))
        for k, v in pts.items():
            (x0, y0), (x1, y1) = v[0], v[-1]
            print()
            print("%s: %.2f µs per request byte (%d -> %d bytes), %.0f µs fixed" % (
                k, (y1 - y0) / (x1 - x0), x0, x1, y0 - (y1 - y0) / (x1 - x0) * x0))
        print()
        print("### 2. What a sampler sends (guest paused; median of %d)" % a.n)
        print()
        print("| command | request bytes | µs |")
        print("|---|---|---|")
        q.call('{"execute":"stop"}\n')
        d = "/dev/shm/qmp-bytes.%d" % os.getpid()
        os.makedirs(d, exist_ok=True)
        cmds = [
            ("query-status", base + "\n"),
            ("HMP info registers -a", hmp("info registers -a")),
            ("HMP x/2gx $esp&-16 (16 B)", hmp("x/2gx $esp&-16")),
            ("HMP x/64gx $esp&-16 (512 B)", hmp("x/64gx $esp&-16")),
            ("HMP x/512gx $esp&-16 (4 KiB)", hmp("x/512gx $esp&-16")),
            ("HMP x/64gx $esp&-16, cpu-index 0 named", hmp("x/64gx $esp&-16", 0)),
            ("HMP x/64gx 0xffffffff80113ef0 (address spelt out)",
             hmp("x/64gx 0xffffffff80113ef0")),
        ]
        regs = q.call(hmp("info registers"))["return"]
        rsp = int(re.search(r"RSP=([0-9a-f]+)", regs).group(1), 16)
        ms = json.dumps({"execute": "memsave", "arguments": {
            "val": rsp - (1 << 64) if rsp >= 1 << 63 else rsp, "size": 512,
            "filename": d + "/r0"}}, separators=(",", ":")) + "\n"
        cmds.append(("memsave 512 B (no file read)", ms))
        for name, raw in cmds:
            print("| %s | %d | %.0f |" % (name, len(raw), q.time(raw, a.n)))
        q.call('{"execute":"cont"}\n')
        try:
            os.unlink(d + "/r0")
        except OSError:
            pass
        os.rmdir(d)
        print()
        # 3. system calls per request byte, from strace -c on QEMU
        raw = base + " " * (512 - len(base) - 1) + "\n"
        st = subprocess.Popen(["strace", "-c", "-f", "-p", str(g.pid)],
                              stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        n = 100
        for _ in range(n):
            q.call(raw)
        st.send_signal(2)
        out = st.communicate()[1]
        tot = [l.split() for l in out.splitlines() if l.strip().endswith("total")]
        calls = int(tot[-1][3]) if tot and len(tot[-1]) >= 5 else 0   # % s us/call calls [errors] total
        print("### 3. QEMU system calls: %d for %d requests of %d bytes = %.1f per request byte" % (
            calls, n, len(raw), calls / (n * len(raw)) if calls else 0))
        print()
        print("```")
        print("\n".join(l for l in out.splitlines() if re.match(r"\s*[\d.]+\s+[\d.]+", l))[:1500])
        print("```")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Re-capture the QEMU HMP/QMP outputs in this directory.

Usage: capture.py OUTDIR [VMLINUZ]
QTOP_QEMU=10.0 captures with bookworm-backports' QEMU 10.0 (tests/lib/qemus.py;
the captures in 10.0/ were taken so); default: the system's 7.2.
Without VMLINUZ only the real-mode (32-bit layout) captures are taken.
VMLINUZ: any x86_64 Linux bzImage (e.g. from linux-image-6.1.0-*-amd64); it is
booted without initrd under TCG with 2 vCPUs and stays in long mode until it
panics, which is all the 64-bit captures need.  The kernel is not committed.
"""
import json, os, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import qemus  # noqa: E402


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        self.f = self.s.makefile("rwb")
        self.events = []
        self.greeting = self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            r = json.loads(line)
            if "event" in r:
                self.events.append(line)
                continue
            return line, r

    def hmp(self, line, cpu=None):
        a = {"command-line": line}
        if cpu is not None:
            a["cpu-index"] = cpu
        return self.cmd("human-monitor-command", **a)[1]["return"]


def save(outdir, name, text):
    with open(os.path.join(outdir, name), "w") as f:
        f.write(text)


def boot(extra):
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "qmp")
    q = qemus.resolve()
    p = subprocess.Popen(q.argv + ["-accel", "tcg", "-display", "none",
                          "-qmp", "unix:%s,server=on,wait=off" % sock, "-m", "512",
                          "-serial", "null", "-monitor", "none"] + extra, env=q.env)
    return p, sock, d


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # real mode at reset: the 32-bit (EAX=) layout
    p, sock, d = boot(["-S"])
    try:
        q = Qmp(sock)
        save(out, "greeting.json", q.greeting.decode())
        save(out, "regs32_realmode.txt", q.hmp("info registers", 0))
        save(out, "x_realmode_8wx.txt", q.hmp("x/8wx 0xfffffff0", 0))
        line, _ = q.cmd("query-status")
        save(out, "reply_query_status.json", line.decode())
        line, _ = q.cmd("query-nonexistent")
        save(out, "reply_unknown_command.json", line.decode())
    finally:
        p.kill(); p.wait()
    if len(sys.argv) < 3:
        return
    p, sock, d = boot(["-smp", "2", "-kernel", sys.argv[2], "-append",
                       "console=ttyS0 nokaslr panic=0"])
    try:
        q = Qmp(sock)
        time.sleep(8)  # well into start_kernel, both CPUs up or on their way
        q.cmd("stop")
        regs = q.hmp("info registers", 0)
        save(out, "regs64_cpu0.txt", regs)
        save(out, "regs64_all_smp2.txt", q.hmp("info registers -a"))
        rip = [t for t in regs.split() if t.startswith("RIP=")][0][4:]
        save(out, "x64_kernel_8gx.txt", q.hmp("x/8gx 0x%s" % rip, 0))
        save(out, "x64_kernel_8wx.txt", q.hmp("x/8wx 0x%s" % rip, 0))
        save(out, "x64_unmapped_8gx.txt", q.hmp("x/8gx 0", 0))
        save(out, "x64_noncanonical_8gx.txt", q.hmp("x/8gx 0x8000000000000000", 0))
        save(out, "print_pc.txt", q.hmp("p $pc", 0))
        line, _ = q.cmd("query-cpus-fast")
        save(out, "reply_query_cpus_fast.json", line.decode())
        line, _ = q.cmd("memsave", val=0, size=8, filename="/dev/null", **{"cpu-index": 0})
        save(out, "reply_memsave_unmapped.json", line.decode())
        q.cmd("cont")
        q.cmd("stop")
        time.sleep(0.2)
        save(out, "events_stop_resume.json", b"".join(q.events).decode())
    finally:
        p.kill(); p.wait()


if __name__ == "__main__":
    main()

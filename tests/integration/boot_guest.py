#!/usr/bin/env python3
"""qtop-prof --launch on the test guest (TCG, the system QEMU).

Usage: boot_guest.py BUILD_DIR CASE
  launch   --launch --batch: the first sample is the reset vector (taken
           before cont, t <= 0), kmain appears with chains; a serial marker
           on "workload running" is within 50 ms of when this test reads
           that line in the echoed serial output (both CLOCK_MONOTONIC: the
           marker as meta.t0_monotonic_ns + t, the line as time.monotonic()
           when its newline arrives on qtop-prof's stderr); the JSON report
           validates against doc/report.schema.json; --load of it gives the
           same hotspots; --serial-log keeps the serial output; nothing left
  until    --until "workload running" ends the run there (-d 60 asked)
  sigint   SIGINT of qtop-prof mid-run: profile saved, its QEMU and socket
           directory gone
  qemukill SIGKILL of the QEMU: qtop-prof ends cleanly and saves
  profkill SIGKILL of qtop-prof: its QEMU dies with it (PR_SET_PDEATHSIG)
  matrix   --repeat 2 --smp-list 1,2 --until: the matrix report (schema,
           2 x 2 runs, statistics, speedup/efficiency from the times), the
           merged folded files, progress lines, nothing left behind
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from guest import load_truth  # noqa: E402

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


class Run:
    """qtop-prof --launch in the background; stderr lines timestamped."""

    def __init__(self, build, tmp, extra, qemu_extra=()):
        t = load_truth("x86_64")
        self.kernel = os.path.join(build, t["kernel"])
        qemu = [t.get("qemu", "qemu-system-x86_64"), "-accel", "tcg", "-kernel", self.kernel,
                "-smp", "1", "-m", "128", "-display", "none", "-nodefaults",
                "-no-reboot", "-monitor", "none"] + list(qemu_extra)
        self.cmd = [os.path.join(build, "src", "qtop-prof"), "--launch", "--batch",
                    "--kernel", self.kernel, "--sysroot", os.path.join(build, t["sysroot"]),
                    ] + list(extra) + ["--"] + qemu
        env = dict(os.environ, TMPDIR=tmp)
        env.pop("DEBUGINFOD_URLS", None)
        print("+", " ".join(self.cmd), flush=True)
        self.lines = []           # (time.monotonic(), line)
        self.t_start = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env)
        self.out = b""
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()
        self.to = threading.Thread(target=self._readout, daemon=True)
        self.to.start()

    def _read(self):
        buf = b""
        while True:
            b = os.read(self.p.stderr.fileno(), 4096)
            now = time.monotonic()
            if not b:
                break
            buf += b
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append((now, line.decode("utf-8", "replace")))

    def _readout(self):
        self.out = self.p.stdout.read()

    def wait_line(self, pat, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, l in list(self.lines):
                if re.search(pat, l):
                    return t, l
            if self.p.poll() is not None and not self.th.is_alive():
                break
            time.sleep(0.02)
        return None, None

    def finish(self, timeout=120):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.th.join(5)
        self.to.join(5)
        self.stderr = "\n".join(l for _, l in self.lines)
        print(self.stderr[-3000:], flush=True)
        return self.p.returncode

    def qemu_pid(self):
        for _, l in self.lines:
            m = re.search(r"launched .* \(pid (\d+)\), paused, QMP (\S+)", l)
            if m:
                return int(m.group(1)), os.path.dirname(m.group(2))
        return None, None


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def check_clean(r, tmp, what):
    pid, d = r.qemu_pid()
    check(pid is not None, what + ": QEMU was launched")
    if pid:
        for _ in range(50):
            if gone(pid):
                break
            time.sleep(0.1)
        check(gone(pid), "%s: QEMU pid %d is gone" % (what, pid))
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    check(d is not None and not os.path.exists(d), what + ": socket directory removed")
    left = [x for x in os.listdir(tmp) if x.startswith("qtop-launch-")]
    check(left == [], what + ": no qtop-launch-* directory left (%s)" % left)


def frames_of(rep, s):
    return [rep["frames"][i] for i in s["stack"]]


def hotspots(rep):
    return sorted((h["name"], h["self"], h["total"]) for h in rep["hotspots"])


def case_launch(build, tmp):
    js = os.path.join(tmp, "boot.json")
    slog = os.path.join(tmp, "serial.log")
    folded = os.path.join(tmp, "boot.folded")
    r = Run(build, tmp, ["-d", "3", "--hz", "200", "--mark", "boot=qtop-guest: boot",
                         "--mark", "running=workload running cpus=1",
                         "--mark", "kmain=@kmain", "--json", js, "--serial-log", slog,
                         "-o", folded, "--top", "8"])
    rc = r.finish()
    check(rc == 0, "qtop-prof --launch --batch exits 0")
    if rc != 0:
        return
    check_clean(r, tmp, "launch")
    rep = json.load(open(js))
    try:
        import jsonschema
        schema = json.load(open(os.path.join(SRC, "doc", "report.schema.json")))
        try:
            jsonschema.validate(rep, schema)
            check(True, "the JSON report validates against doc/report.schema.json")
        except jsonschema.ValidationError as e:
            check(False, "schema: %s" % e.message)
    except ImportError:
        print("SKIP schema check: python3-jsonschema not installed (scripts/setup.sh)")
    m = rep["meta"]
    check(m["boot"] is True and m["accelerator"] == "tcg" and m["vcpus"] == 1
          and m["qemu_version"], "meta: boot, tcg, 1 vCPU, QEMU %s" % m["qemu_version"])
    s0 = rep["samples"][0]
    leaf0 = frames_of(rep, s0)[-1]
    check(s0["t"] <= 0 and leaf0["name"] == "[reset vector]" and leaf0.get("addr") == "0xfffffff0",
          "first sample before cont at the reset vector: t=%.6f %s %s"
          % (s0["t"], leaf0["name"], leaf0.get("addr")))
    kchains = [frames_of(rep, s) for s in rep["samples"]
               if any(f["name"] == "kmain" for f in frames_of(rep, s))]
    deep = [c for c in kchains if c[0]["name"] == "kmain" and len(c) >= 2]
    check(len(deep) >= 3, "kmain at the root of %d chains (>= 3), e.g. %s"
          % (len(deep), " > ".join(f["name"] for f in deep[0]) if deep else "-"))
    mk = {x["name"]: x["t"] for x in rep["markers"]}
    check(set(mk) == {"boot", "running", "kmain"}, "markers reached: %s" % mk)
    check(rep.get("boot", {}).get("reset_to") == mk, "boot.reset_to holds the markers")
    t_seen, _ = r.wait_line(r"qtop-guest: workload running cpus=1", 1)
    if "running" in mk and t_seen:
        t_mark = m["t0_monotonic_ns"] / 1e9 + mk["running"]
        d = (t_seen - t_mark) * 1000
        print("marker 'running' at %.3f s after the reset; the test read the echoed line "
              "%.1f ms after the marker's time" % (mk["running"], d))
        check(abs(d) <= 50, "marker within 50 ms of the echoed line (%.1f ms)" % d)
    check(mk.get("boot", 9) < mk.get("running", 0), "boot before running")
    sl = open(slog, "rb").read()
    check(b"qtop-guest: workload running cpus=1" in sl, "--serial-log kept the serial output")
    # --load of the report: the same hotspots
    p = subprocess.run([r.cmd[0], "--load", js, "--batch", "--json", js + ".2.json"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "--load of the report exits 0 " + p.stderr.strip()[-200:])
    if p.returncode == 0:
        rep2 = json.load(open(js + ".2.json"))
        check(hotspots(rep2) == hotspots(rep), "--load gives the same hotspots (%d rows)"
              % len(rep["hotspots"]))
    # --from/--to by marker names: only the samples between them
    p = subprocess.run([r.cmd[0], "--load", js, "--batch", "--from", "boot", "--to", "running",
                        "--folded"], capture_output=True, text=True, timeout=60)
    n_win = sum(int(l.rsplit(" ", 1)[1]) for l in p.stdout.splitlines() if l.strip())
    want = sum(1 for s in rep["samples"] if mk["boot"] <= s["t"] < mk["running"])
    check(p.returncode == 0 and n_win == want and want > 0,
          "--from boot --to running: %d samples (%d expected)" % (n_win, want))


def case_until(build, tmp):
    js = os.path.join(tmp, "until.json")
    r = Run(build, tmp, ["-d", "60", "--until", "workload running", "--json", js])
    rc = r.finish()
    el = time.monotonic() - r.t_start
    check(rc == 0, "--until run exits 0")
    check(el < 30, "--until ended the run (%.1f s of -d 60)" % el)
    check("--until reached" in r.stderr, "stderr says --until was reached")
    check_clean(r, tmp, "until")
    if rc == 0:
        rep = json.load(open(js))
        mk = {x["name"]: x["t"] for x in rep["markers"]}
        last = max(s["t"] for s in rep["samples"])
        check("until" in mk and last <= mk["until"] + 0.05,
              "no sample after the --until marker (last %.3f s, marker %.3f s)"
              % (last, mk.get("until", -1)))


def case_sigint(build, tmp):
    folded = os.path.join(tmp, "int.folded")
    r = Run(build, tmp, ["-d", "60", "-o", folded])
    t, _ = r.wait_line("workload running")
    check(t is not None, "guest reached the workload")
    time.sleep(1)
    r.p.send_signal(signal.SIGINT)
    rc = r.finish(30)
    check(rc == 0, "SIGINT: qtop-prof exits 0 (%s)" % rc)
    check(os.path.exists(folded), "SIGINT: the profile was saved")
    check_clean(r, tmp, "sigint")


def case_qemukill(build, tmp):
    folded = os.path.join(tmp, "qk.folded")
    r = Run(build, tmp, ["-d", "60", "-o", folded])
    t, _ = r.wait_line("workload running")
    pid, _ = r.qemu_pid()
    time.sleep(1)
    if pid:
        os.kill(pid, signal.SIGKILL)
    rc = r.finish(30)
    check(rc == 0, "QEMU SIGKILLed: qtop-prof exits 0 (%s)" % rc)
    check(os.path.exists(folded), "QEMU SIGKILLed: the profile was saved")
    check("QEMU exited" in r.stderr, "stderr says QEMU exited")
    check_clean(r, tmp, "qemukill")


def case_profkill(build, tmp):
    r = Run(build, tmp, ["-d", "60"])
    t, _ = r.wait_line("workload running")
    pid, d = r.qemu_pid()
    r.p.kill()
    r.finish(30)
    for _ in range(50):
        if pid is None or gone(pid):
            break
        time.sleep(0.1)
    check(pid is not None and gone(pid), "qtop-prof SIGKILLed: its QEMU died with it")
    if pid and not gone(pid):
        os.kill(pid, signal.SIGKILL)
    # a SIGKILLed qtop-prof cannot remove its directory: only the socket
    # directory it made is there (empty but for the socket)
    if d and os.path.isdir(d):
        print("note: SIGKILL leaves %s (no handler runs); removed by the test" % d)
        for x in os.listdir(d):
            os.unlink(os.path.join(d, x))
        os.rmdir(d)


def case_matrix_sigint(build, tmp):
    """SIGINT in the middle of a matrix: the running boot and its QEMU end,
    nothing is left behind, exit 130, and what was measured is kept: the
    report (marked interrupted) and merged profile of the boots that
    finished."""
    js = os.path.join(tmp, "mxint.json")
    r = Run(build, tmp, ["-d", "30", "--hz", "100", "--until", "workload running",
                         "--repeat", "4", "--smp-list", "1,2", "--json", js])
    t, _ = r.wait_line(r"matrix: boot 1/8 done", 60)
    check(t is not None, "the first boot of the matrix finished")
    time.sleep(0.3)                       # the second boot is under way
    r.p.send_signal(signal.SIGINT)
    rc = r.finish(30)
    check(rc == 130, "SIGINT: the matrix exits 130 (%s)" % rc)
    check(os.path.exists(js), "SIGINT: the report of the boots that finished is written")
    if os.path.exists(js):
        mx = json.load(open(js))["matrix"]
        runs = [(c["vcpus"], r) for c in mx["configurations"] for r in c["runs"]]
        fin = [(v, r) for v, r in runs if r["exit_status"] == 0 and r["markers"]]
        check(mx.get("interrupted") is True and 1 <= len(fin) < 8 and len(runs) < 8,
              "SIGINT: the report is marked interrupted and holds %d finished of %d started "
              "boots (of 8)" % (len(fin), len(runs)))
        c1 = mx["configurations"][0]
        check(c1["folded"] and os.path.getsize(c1["folded"]) > 0,
              "SIGINT: the merged profile of the finished boots is saved (%s)" % c1["folded"])
    left = [x for x in os.listdir(tmp) if x.startswith(("qtop-launch-", "qtop-matrix-"))]
    check(left == [], "SIGINT: no qtop-launch-*/qtop-matrix-* directory left (%s)" % left)
    qemus = subprocess.run(["pgrep", "-f", os.path.join(tmp, "qtop-launch-")],
                           capture_output=True, text=True)
    check(qemus.stdout.strip() == "", "SIGINT: no QEMU of ours still running")


def case_matrix(build, tmp):
    """--repeat 2 --smp-list 1,2 --until: 2 configurations x 2 boots."""
    js = os.path.join(tmp, "matrix.json")
    r = Run(build, tmp, ["-d", "30", "--hz", "100", "--mark", "boot=qtop-guest: boot",
                         "--until", "workload running", "--repeat", "2", "--smp-list", "1,2",
                         "--json", js])
    rc = r.finish(120)
    el = time.monotonic() - r.t_start
    check(rc == 0, "matrix exits 0 (%.1f s)" % el)
    check(len([l for _, l in r.lines if re.search(r"matrix: boot \d/4 done", l)]) == 4,
          "a progress line per boot on stderr")
    left = [x for x in os.listdir(tmp) if x.startswith(("qtop-launch-", "qtop-matrix-"))]
    check(left == [], "no qtop-launch-*/qtop-matrix-* directory left (%s)" % left)
    qemus = subprocess.run(["pgrep", "-f", os.path.join(tmp, "qtop-launch-")],
                           capture_output=True, text=True)
    check(qemus.stdout.strip() == "", "no QEMU of ours still running")
    if rc != 0:
        return
    rep = json.load(open(js))
    try:
        import jsonschema
        schema = json.load(open(os.path.join(SRC, "doc", "report.schema.json")))
        try:
            jsonschema.validate(rep, schema)
            check(True, "the matrix report validates against doc/report.schema.json")
        except jsonschema.ValidationError as e:
            check(False, "schema: %s" % e.message)
    except ImportError:
        print("SKIP schema check: python3-jsonschema not installed (scripts/setup.sh)")
    mx = rep["matrix"]
    confs = mx["configurations"]
    check(mx["version"] == 1 and mx["vcpus"] == [1, 2] and mx["baseline_vcpus"] == 1
          and [c["vcpus"] for c in confs] == [1, 2], "2 configurations: 1 and 2 vCPUs")
    check(all(len(c["runs"]) == 2 for c in confs), "2 runs each")
    for c in confs:
        for run in c["runs"]:
            mk = run["markers"]
            check(run["exit_status"] == 0 and 0 < mk.get("boot", -1) < mk.get("until", -1),
                  "%d vCPUs run %d: marker times positive and ordered %s"
                  % (c["vcpus"], run["run"], mk))
        st = c["stats"]["until"]
        ts = sorted(run["markers"]["until"] for run in c["runs"])
        mean = sum(ts) / 2
        sd = abs(ts[1] - ts[0]) / 2 ** 0.5
        check(st["n"] == 2 and abs(st["mean"] - mean) < 1e-6 and abs(st["median"] - mean) < 1e-6
              and abs(st["stdev"] - sd) < 1e-6 and st["min"] == ts[0] and st["max"] == ts[1],
              "%d vCPUs: mean/median/stdev/min/max of until from its runs" % c["vcpus"])
        check(c["folded"] and os.path.getsize(c["folded"]) > 0,
              "%d vCPUs: merged folded file %s non-empty" % (c["vcpus"], c["folded"]))
        n_folded = sum(int(l.rsplit(" ", 1)[1]) for l in open(c["folded"]) if l.strip())
        check(n_folded == sum(run["samples"] for run in c["runs"]),
              "%d vCPUs: the folded file holds the samples of both boots (%d)"
              % (c["vcpus"], n_folded))
    t1 = confs[0]["stats"]["until"]["mean"]
    t2 = confs[1]["stats"]["until"]["mean"]
    sp, ef = confs[1]["stats"]["until"]["speedup"], confs[1]["stats"]["until"]["efficiency"]
    check(abs(sp - t1 / t2) < 1e-6 and abs(ef - t1 / (2 * t2)) < 1e-6
          and confs[0]["stats"]["until"]["speedup"] == 1,
          "speedup T(1)/T(2) = %.3f and efficiency %.3f from the means" % (sp, ef))
    out = r.out.decode()
    check("SPEEDUP" in out and len([l for l in out.splitlines() if l.startswith("until")]) == 2,
          "the text table on stdout:\n" + out)
    check(os.path.exists(os.path.join(tmp, "matrix-smp1.folded")),
          "folded files named after --json (matrix-smpN.folded)")


CASES = {"launch": case_launch, "matrix": case_matrix, "matrix_sigint": case_matrix_sigint, "until": case_until, "sigint": case_sigint,
         "qemukill": case_qemukill, "profkill": case_profkill}


def main():
    build, case = sys.argv[1], sys.argv[2]
    t = load_truth("x86_64")
    if not os.path.exists(os.path.join(build, t["kernel"])):
        print("SKIP: test guest not built")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        CASES[case](build, tmp)


if __name__ == "__main__":
    main()
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)

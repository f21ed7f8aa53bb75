#!/usr/bin/env python3
"""Real-OS features on the test guest (issue 15), qtop-prof --batch:
  1. one --comm expression for every vCPU, xv6-style: 'cpus[$cpu].proc->name'
     names the right task on >= 95 % of the samples (task by leaf, truth.json);
  2. the programs: the page matcher reports every address space matched,
     one per program, all its distinguishing pages equal (alpha and beta
     share their first text page); every user leaf of truth.json is named
     (alpha_hot only exists in alpha);
  3. syscall samples (k_spin_inner) carry the whole user->kernel chain on
     >= 90 % (sys_spin is a frameless stub: beta_loop comes from the return
     address at the user sp);
  4. '[truncated]' on <= 5 % of the samples whose chain is complete;
  5. --pid 'cpus[$cpu].proc->pid' (#15): the process is NAME/ID, the id the
     task's own (truth.json tasks.*.pid) on >= 95 % of the samples.
Usage: realos_guest.py BUILD_DIR ARCH SMP [qtop-prof options...]
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from guest import Guest  # noqa: E402

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def strip(fr):
    return fr[:-4] if fr.endswith("_[k]") else fr


def main():
    build, arch, smp = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.environ.pop("DEBUGINFOD_URLS", None)
    qtop = os.path.join(build, "src", "qtop-prof")
    with Guest(build, arch=arch, smp=smp) as g, tempfile.TemporaryDirectory() as tmp:
        t = g.truth
        kernel = os.path.join(build, t["kernel"])
        sysroot = os.path.join(build, t["sysroot"])
        folded = os.path.join(tmp, "out.folded")
        cmd = [qtop, "--qmp", g.qmp_path, "--batch", "--hz", "0", "--samples", "2000",
               "--kernel", kernel, "--sysroot", sysroot,
               "--comm", "cpus[$cpu].proc->name", "--pid", "cpus[$cpu].proc->pid",
               "-o", folded] + sys.argv[4:]
        print("+", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        print(p.stdout[-2000:])
        print(p.stderr[-2000:])
        check(p.returncode == 0, "qtop-prof --batch exits 0")
        if p.returncode != 0:
            return
        # the page matcher's report: every address space that ran user
        # code matched to its program, each program once, none unmatched
        import re
        rep = re.findall(r"qtop-prof: as-([0-9a-f]+): (\S+) \((\d+)/(\d+) distinguishing pages",
                         p.stderr)
        none = [l for l in p.stderr.splitlines() if re.match(r"qtop-prof: as-[0-9a-f]+: (matched no|not decided)", l)]
        want = sorted({v["program"] for v in t["tasks"].values() if v["program"]})
        got = sorted(name for _, name, _, _ in rep)
        check(got == want and not none and all(int(k) == int(n) and int(n) > 0 for _, _, k, n in rep),
              f"address spaces matched by pages: {rep} (want {want}, unmatched {none})")
        stacks = []
        with open(folded) as f:
            for line in f:
                fr, _, c = line.rstrip("\n").rpartition(" ")
                stacks.append(([strip(x) for x in fr.split(";")], int(c)))
        task_of = {}
        for c in t["cpus"]:
            if c["smp_min"] <= smp:
                for lf in c["leaves"]:
                    task_of[lf["leaf"]] = lf["task"]
        # with --pid the process is NAME/ID: split it
        procs = {}
        for fr, c in stacks:
            procs[fr[0]] = procs.get(fr[0], 0) + c
        stacks = [([fr[0].rpartition("/")[0] or fr[0]] + fr[1:], fr[0], c) for fr, c in stacks]
        known = sum(c for fr, _, c in stacks if fr[-1] in task_of)
        right = sum(c for fr, _, c in stacks if fr[-1] in task_of and fr[0] == task_of[fr[-1]])
        check(known > 500, f"{known} samples in truth leaves")
        check(right >= 0.95 * known,
              f"cpus[$cpu].proc->name: right task on {100.0 * right / max(known, 1):.1f}% (>= 95%)")
        # #15 --pid: NAME/ID, the task's own id
        idn = sum(c for fr, p0, c in stacks if fr[-1] in task_of and
                  p0 == f"{task_of[fr[-1]]}/{t['tasks'][task_of[fr[-1]]]['pid']}")
        check(idn >= 0.95 * known,
              f"--pid cpus[$cpu].proc->pid: NAME/ID with the task's id on "
              f"{100.0 * idn / max(known, 1):.1f}% (>= 95%); processes {procs}")
        stacks = [(fr, c) for fr, _, c in stacks]
        for c in t["cpus"]:
            for lf in c["leaves"]:
                if lf["mode"] == "user" and c["smp_min"] <= smp:
                    n = sum(cc for fr, cc in stacks if fr[-1] == lf["leaf"])
                    check(n > 0, f"user leaf {lf['leaf']} named ({n} samples): "
                          f"{t['tasks'][lf['task']]['program']} matched")
        chains = [[f["fn"] for f in ch["frames"]] for ch in t["chains"] if ch["cpu"] < smp]
        sysch = [ch for ch in chains if "syscall_entry" in ch]
        for ch in sysch:
            n = sum(c for fr, c in stacks if fr[-1] == ch[-1])
            whole = sum(c for fr, c in stacks if fr[1:] == ch)
            check(n > 0 and whole >= 0.9 * n,
                  f"syscall chain whole on {100.0 * whole / max(n, 1):.1f}% of {n} (>= 90%)")
        complete = sum(c for fr, c in stacks if [x for x in fr[1:] if x != "[truncated]"] in chains)
        marked = sum(c for fr, c in stacks if "[truncated]" in fr and
                     [x for x in fr[1:] if x != "[truncated]"] in chains)
        check(marked <= 0.05 * max(complete, 1),
              f"[truncated] on {100.0 * marked / max(complete, 1):.2f}% of {complete} complete chains (<= 5%)")


if __name__ == "__main__":
    main()
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)

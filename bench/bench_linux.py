#!/usr/bin/env python3
"""Sampling engines on a real OS: the Debian 6.1 Linux guest the tests fetch
(2 vCPUs, KASLR, TCG; busybox workload: dd | sha256sum pipelines making
system calls, taking interrupts, switching tasks).  One boot, one run, every
configuration in turn, each bracketed by windows with no profiler:

  guest alive share   (utime+stime+run-queue wait)/wall of the vCPU threads
                      from /proc/PID/task/TID/schedstat: what the guest loses
  rate                samples/s per vCPU against the asked rate
  paused rounds       share of rounds taken with the guest stopped
  whole chains        kernel samples whose outermost kernel frame is an entry
                      point (syscall / interrupt / exception entry,
                      ret_from_fork, the idle and boot roots)
  cpu/sample          qtop-prof + QEMU's non-vCPU threads, per sample

Configurations: qtop-prof's default mode with direct memory and registers
read from QEMU's memory (engine v2), the same with the registers from the
monitor (--regs monitor), with the monitor for memory too (--mem hmp: the
old engine), --stop,
the default at 1 kHz and at the top rate, and the prior technique
(bench/baseline_sampler: stop, info registers, one x/1gx per stack word).

Observer shift: the default mode at 10 Hz over a long window and at the
top rate, each function's self share compared (|difference| against the
two runs' combined sampling error, 2 sigma).

    python3 bench/bench_linux.py BUILD_DIR [--seconds S] [--qemu 7.2|10.0]
                                 [--shift-seconds S] [--json FILE]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'linux'))
from bench_sampling import CpuSnap, task_times, is_vcpu  # noqa: E402
from linux_boot import LinuxGuest  # noqa: E402

# entry_SYSCALL_64's inner labels (syscall_return_via_sysret,
# entry_SYSRETQ_*) are the same entry code, on its way out.
ENTRY_RE = re.compile(r'^(entry_SYSCALL_64|entry_INT80|entry_SYSENTER|asm_|'
                      r'syscall_return_via_sysret|entry_SYSRETQ|'
                      r'common_interrupt|ret_from_fork|secondary_startup_64|'
                      r'start_secondary|x86_64_start_kernel|start_kernel|'
                      r'rest_init|cpu_startup_entry|do_idle|'
                      r'irq_entries_start|spurious_entries_start|'
                      r'xen_|__switch_to_asm|ret_from_intr|restore_regs)')


def classify(folded):
    """(kernel samples, whole kernel chains, user-only samples, truncated)."""
    kern = whole = user = trunc = 0
    for line in open(folded):
        stack, n = line.rstrip('\n').rsplit(' ', 1)
        n = int(n)
        fr = stack.split(';')[1:]
        if any('[truncated]' in f for f in fr):
            trunc += n
        kf = [f[:-4] for f in fr if f.endswith('_[k]')]
        if not kf:
            user += n
            continue
        kern += n
        if ENTRY_RE.match(kf[0]):
            whole += n
    return kern, whole, user, trunc


def self_shares(folded):
    """{leaf function: share of samples}, idle leaves included."""
    c, tot = {}, 0
    for line in open(folded):
        stack, n = line.rstrip('\n').rsplit(' ', 1)
        n = int(n)
        leaf = stack.split(';')[-1]
        c[leaf] = c.get(leaf, 0) + n
        tot += n
    return {k: v / tot for k, v in c.items()} if tot else {}, tot


def observer_shift(slow, fast):
    """Functions with >= 2 % self share in either run: their shares at the
    slow and the fast rate, the difference in pp, and 2 sigma of the
    difference from sampling alone."""
    a, na = self_shares(slow)
    b, nb = self_shares(fast)
    rows = []
    for f in set(a) | set(b):
        pa, pb = a.get(f, 0.0), b.get(f, 0.0)
        if max(pa, pb) < 0.02:
            continue
        p = (pa * na + pb * nb) / (na + nb)
        sig2 = 2 * (p * (1 - p) * (1.0 / na + 1.0 / nb)) ** 0.5 if na and nb else 0
        rows.append((f, pa, pb, 100 * (pb - pa), 100 * sig2))
    rows.sort(key=lambda r: -abs(r[3]))
    return rows, na, nb


def qemu_other_cpu(snap0, snap1):
    _, _, other = snap0.delta(snap1)
    return other


def run_cfg(g, name, cmd, secs, out_dir):
    """One profiled window: returns a dict of measurements."""
    folded = os.path.join(out_dir, name.replace(' ', '_') + '.folded')
    if os.path.exists(folded):
        os.unlink(folded)
    cmd = [c.replace('@OUT@', folded) for c in cmd]
    s0 = CpuSnap(g.pid)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ps = None
        # the profiler's own CPU from /proc while it runs (children time
        # is not reaped for Popen until wait)
        while p.poll() is None:
            try:
                with open('/proc/%d/stat' % p.pid) as f:
                    st = f.read()
                rest = st[st.rindex(')') + 2:].split()
                ps = (int(rest[11]) + int(rest[12])) / os.sysconf('SC_CLK_TCK')
            except OSError:
                pass
            time.sleep(0.2)
        out, err = p.communicate(timeout=60)
    except BaseException:
        p.kill()
        raise
    s1 = CpuSnap(g.pid)
    wall, vcpu, other = s0.delta(s1)
    alive = s0.runnable_share(wall)
    err = err.decode('utf-8', 'replace')
    r = {'name': name, 'wall': wall, 'alive': alive, 'qemu_other_cpu': other,
         'prof_cpu': ps or 0.0, 'rc': p.returncode}
    m = re.search(r'(\d+) samples in ([\d.]+) s', err)
    if m:
        r['samples'] = int(m.group(1))
        r['secs'] = float(m.group(2))
    m = re.search(r'(\d+) of (\d+) rounds read again.*?(\d+) rounds taken with the guest paused', err)
    if m:
        r['rounds'] = int(m.group(2))
        r['paused_rounds'] = int(m.group(3))
    m = re.search(r'RESULT (\{.*\})', out.decode('utf-8', 'replace'))
    if m:
        j = json.loads(m.group(1))
        r['samples'] = j.get('samples', r.get('samples'))
        r['secs'] = j.get('seconds', j.get('secs', r.get('secs')))
    if os.path.exists(folded):
        r['kern'], r['whole'], r['user'], r['trunc'] = classify(folded)
    r['stderr_tail'] = err.strip().splitlines()[-4:]
    return r


def idle_window(g, secs):
    s0 = CpuSnap(g.pid)
    time.sleep(secs)
    s1 = CpuSnap(g.pid)
    wall, _, other = s0.delta(s1)
    return s0.runnable_share(wall), other / wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--seconds', type=float, default=8.0)
    ap.add_argument('--json')
    ap.add_argument('--qemu', default=None, help='7.2 (system) or 10.0 (tests/lib/qemus.py)')
    ap.add_argument('--shift-seconds', type=float, default=60.0,
                    help='the 10 Hz window of the observer-shift pair')
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    qtop = os.path.join(build, 'src', 'qtop-prof')
    base = os.path.join(build, 'bench', 'baseline_sampler')
    D = a.seconds
    with LinuxGuest(smp=2, kaslr=True, qemu=a.qemu) as g, tempfile.TemporaryDirectory() as d:
        sysroot = os.path.join(d, 'sysroot')
        os.mkdir(sysroot)
        os.symlink(g.paths['busybox'], os.path.join(sysroot, 'busybox'))
        common = ['--qmp', g.qmp_path, '--kernel', g.paths['vmlinux'],
                  '--symbols', g.paths['sysmap'], '--kernel-offset', 'auto',
                  '--comm', 'linux', '--sysroot', sysroot, '--batch',
                  '--duration', str(D), '-o', '@OUT@']
        cfgs = [
            ('default 100Hz', [qtop] + common + ['--hz', '100'], 100),
            ('default 100Hz --regs monitor', [qtop] + common + ['--hz', '100', '--regs', 'monitor'], 100),
            ('default top rate --regs monitor', [qtop] + common + ['--hz', '0', '--regs', 'monitor'], 0),
            ('default 100Hz --mem hmp (old engine)', [qtop] + common + ['--hz', '100', '--mem', 'hmp'], 100),
            ('--stop 100Hz', [qtop] + common + ['--hz', '100', '--stop'], 100),
            ('--no-stop 100Hz', [qtop] + common + ['--hz', '100', '--no-stop'], 100),
            ('default 1kHz', [qtop] + common + ['--hz', '1000'], 1000),
            ('default top rate', [qtop] + common + ['--hz', '0'], 0),
            ('baseline top rate', [base, '--qmp', g.qmp_path, '--duration', str(D),
                                   '-o', '@OUT@'], 0),
            ('default 10Hz (observer shift)', [qtop] + [c if c != str(D) else str(a.shift_seconds)
                                                        for c in common] + ['--hz', '10'], 10),
        ]
        res = []
        print('Linux 6.1 guest, 2 vCPUs, TCG, %s; %.0f s windows' % (
            g.qemu.version(), D), flush=True)
        for name, cmd, hz in cfgs:
            secs_cfg = a.shift_seconds if hz == 10 else D
            before, _ = idle_window(g, D / 2)
            r = run_cfg(g, name, cmd, secs_cfg, d)
            after, _ = idle_window(g, D / 2)
            r['alive_without'] = (before + after) / 2
            r['hz'] = hz
            res.append(r)
            n = r.get('samples', 0)
            secs = r.get('secs') or r['wall']
            per_vcpu = n / secs / 2 if secs else 0
            print('%-40s alive %.3f (without %.3f: %+.1f %%)  %6.1f/s per vCPU%s'
                  '  paused %s  whole kernel chains %s  cpu/sample %.2f ms' % (
                      name, r['alive'], r['alive_without'],
                      100.0 * (r['alive'] / r['alive_without'] - 1) if r['alive_without'] else 0,
                      per_vcpu, (' (%.0f %% of asked)' % (100.0 * per_vcpu / hz)) if hz else '',
                      ('%.1f %%' % (100.0 * r['paused_rounds'] / r['rounds'])) if r.get('rounds') else '-',
                      ('%.1f %% of %d' % (100.0 * r['whole'] / r['kern'], r['kern'])) if r.get('kern') else '-',
                      1000.0 * (r['prof_cpu'] + r['qemu_other_cpu']) / n if n else 0),
                  flush=True)
            if r['rc']:
                print('   rc=%d: %s' % (r['rc'], ' | '.join(r['stderr_tail'])))
        slow = os.path.join(d, 'default_10Hz_(observer_shift).folded')
        fast = os.path.join(d, 'default_top_rate.folded')
        if os.path.exists(slow) and os.path.exists(fast):
            rows, na, nb = observer_shift(slow, fast)
            print('observer shift, self share at 10 Hz (%d samples) vs top rate (%d samples):'
                  % (na, nb))
            for f, pa, pb, dpp, sig in rows[:12]:
                print('   %-40s %5.1f %% -> %5.1f %%  %+5.1f pp  (2 sigma %.1f pp)'
                      % (f, 100 * pa, 100 * pb, dpp, sig))
            # Marks are not functions: "[callee unknown]" says how often
            # QEMU had not written rip back, which follows the guest's
            # exits (timer interrupts), not where it spends its time.
            # Shown, judged apart.
            funcs = [r for r in rows if not r[0].startswith('[')]
            marks = [r for r in rows if r[0].startswith('[')]
            if funcs:
                worst = max(funcs, key=lambda r: abs(r[3]) - r[4])
                print('   largest function shift beyond sampling error: %s %+.1f pp (2 sigma %.1f)'
                      % (worst[0], worst[3], worst[4]))
            for m in marks:
                print('   mark %s %+.1f pp (2 sigma %.1f), not a function'
                      % (m[0], m[3], m[4]))
            res.append({'observer_shift': [dict(zip(('fn', 'slow', 'fast', 'pp', 'sigma2_pp'), r))
                                           for r in rows], 'slow_n': na, 'fast_n': nb})
        if a.json:
            with open(a.json, 'w') as f:
                json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()

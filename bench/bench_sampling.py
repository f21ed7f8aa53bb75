#!/usr/bin/env python3
"""bench_sampling.py - qtop-prof's sampler against the prior QMP technique.

Boots the test guest under TCG (x86_64 with 1 and 2 vCPUs, optionally i386)
and in one run measures:

 (a) max samples/s per vCPU with full stacks, and per-round latency, for
     qtop-prof in its three modes (--auto-stop, the default; --stop;
     --no-stop) and bench/baseline_sampler (stop, info registers, one x/1gx
     per stack word, cont), with each qtop-prof mode's chains classified
     against truth.json (exact / cut / wrong, bench_chains.py);
 (b) CPU time per sample burnt outside the guest: QEMU's non-vCPU threads
     (idle rate subtracted) + the profiler process, from
     /proc/PID/task/*/stat and wait4() rusage;
 (c) disturbance: the vCPU threads' share of wall time with qtop-prof at
     100 Hz and 1 kHz (--disturb-modes: the default --auto-stop and --stop)
     vs no profiler, in adjacent
     alternating windows (median of several), plus the guest's own work rate
     on the host clock from its serial progress lines as a cross-check;
 (d) chain agreement: the top chains of qtop-prof and of the baseline.
 (e) optional (--strace): where one qtop-prof round's time goes, per QMP
     command, from strace -ttt -T of the sampler thread (and the baseline's);
 (f) HMP x/Ngx vs memsave per read size (x86_64, 1 vCPU; --read-reps 0 skips).
 --deep: one more guest, x86_64 1 vCPU booted with -append deep (every kernel
     chain 20 deep_pad frames deeper: 24-28 frames, tests/guest/common/kernel.c),
     (a) + (b) + (d) only, expected chains = truth.json's with the deep_pad
     frames inserted; reported in its own section.  --smp '' --deep runs
     only that.

Prints a table; --md FILE writes it as markdown, --json FILE the raw data.

    bench/bench_sampling.py --build build-bench [--smp 1,2] [--i386] [--deep]
                            [--reps 3] [--window 3.5] [--md out.md]
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))
from guest import Guest  # noqa: E402
sys.path.insert(0, HERE)
from bench_chains import classify, parse_folded  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
QAUTO, QSTOP, QNOSTOP, BASE = ('qtop-prof --auto-stop (default)', 'qtop-prof --stop',
                               'qtop-prof --no-stop', 'baseline (x/1gx per word)')
TOOLS = (QAUTO, QSTOP, QNOSTOP, BASE)
MODE_OF = {QAUTO: 'auto-stop', QSTOP: 'stop', QNOSTOP: 'no-stop'}
PROGRESS_RE = re.compile(rb'qtop-guest: t=(\d+)s rounds=(\d+) ap_rounds=(\d+)')
# Deep-stacks guest (-append deep): QG_DEEP_PAD nested deep_pad() frames are
# inserted between these caller -> callee pairs of every truth.json chain
# (tests/guest/common/kernel.c, workload.h).
DEEP_PAD_FN, DEEP_PAD_N = 'deep_pad', 20
DEEP_INSERT = (('kmain', 'sched_round'), ('syscall_dispatch', 'ksys_spin'), ('ap_main', 'ap_work'))


# ---------------------------------------------------------------- /proc ---
def task_times(pid):
    """{tid: (comm, cpu_seconds, runnable_seconds)} for every thread of pid.
    cpu from stat (utime+stime); runnable = on-CPU + waiting on a run queue,
    from schedstat (ns): a vCPU thread of a busy guest is always runnable
    unless the guest is paused, whatever else the host runs."""
    out = {}
    base = '/proc/%d/task' % pid
    try:
        tids = os.listdir(base)
    except OSError:
        return out
    for tid in tids:
        try:
            with open('%s/%s/stat' % (base, tid)) as f:
                st = f.read()
            with open('%s/%s/comm' % (base, tid)) as f:
                comm = f.read().strip()
        except OSError:
            continue
        try:
            with open('%s/%s/schedstat' % (base, tid)) as f:
                ss = [int(x) for x in f.read().split()]
            runnable = (ss[0] + ss[1]) / 1e9
        except (OSError, ValueError, IndexError):
            runnable = float('nan')
        rest = st[st.rindex(')') + 2:].split()
        # fields 14 and 15 (utime, stime) are rest[11], rest[12]
        out[int(tid)] = (comm, (int(rest[11]) + int(rest[12])) / CLK_TCK, runnable)
    return out


def is_vcpu(comm):
    return '/TCG' in comm or '/KVM' in comm


class CpuSnap:
    """QEMU thread CPU split into vCPU threads and the rest."""

    def __init__(self, pid):
        self.t = time.monotonic()
        self.tasks = task_times(pid)

    def delta(self, later):
        """(wall, {vcpu comm: cpu s}, other threads' cpu s); the vCPU
        threads' runnable seconds are left in self.runnable."""
        vcpu = {}
        other = 0.0
        self.runnable = {}
        for tid, (comm, s, rn) in later.tasks.items():
            _, s0, rn0 = self.tasks.get(tid, (comm, 0.0, 0.0))
            if is_vcpu(comm):
                vcpu[comm] = vcpu.get(comm, 0.0) + s - s0
                self.runnable[comm] = self.runnable.get(comm, 0.0) + rn - rn0
            else:
                other += s - s0
        return later.t - self.t, vcpu, other

    def runnable_share(self, dt):
        """Mean over vCPU threads of runnable time / wall (after delta)."""
        v = list(self.runnable.values())
        return sum(v) / len(v) / dt if v and dt > 0 else float('nan')


# ------------------------------------------------------- serial progress ---
class Progress(threading.Thread):
    """Tails the guest's serial log; records (host time, rounds, ap_rounds)
    of every progress line as it arrives."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.lines = []
        self.stop_ev = threading.Event()

    def run(self):
        pos = 0
        buf = b''
        while not self.stop_ev.is_set():
            try:
                with open(self.path, 'rb') as f:
                    f.seek(pos)
                    data = f.read()
            except OSError:
                data = b''
            now = time.monotonic()
            if data:
                pos += len(data)
                buf += data
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    m = PROGRESS_RE.search(line)
                    if m:
                        self.lines.append((now, int(m.group(2)), int(m.group(3))))
            self.stop_ev.wait(0.01)

    def intervals(self, t0, t1):
        """Consecutive-line intervals fully inside [t0, t1]:
        [(dt, drounds, dap)]."""
        ls = [x for x in self.lines if t0 <= x[0] <= t1]
        return [(b[0] - a[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(ls, ls[1:])]


# -------------------------------------------------------------- runners ---
def run_proc(cmd, out_path, err_path, env=None):
    """Run cmd to completion; returns (rc, wall, cpu_seconds of the child)."""
    with open(out_path, 'wb') as o, open(err_path, 'wb') as e:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
    return p.returncode, wall, ru.ru_utime + ru.ru_stime


def read_text(path):
    try:
        with open(path, 'r', errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def record_rounds(path):
    """t_ns of each round (distinct t_ns) and samples per vCPU from a
    --record file (doc/record-format.md)."""
    ts, per_cpu = [], {}
    try:
        with open(path, 'rb') as f:
            hdr = f.read(24)
            if len(hdr) < 24 or hdr[:8] != b'QTOPREC\0':
                return ts, per_cpu
            while True:
                lb = f.read(4)
                if len(lb) < 4:
                    break
                (n,) = struct.unpack('<I', lb)
                body = f.read(n)
                if len(body) < n:
                    break
                _seq, t_ns, cpu = struct.unpack_from('<QQI', body, 0)
                per_cpu[cpu] = per_cpu.get(cpu, 0) + 1
                if not ts or ts[-1] != t_ns:
                    ts.append(t_ns)
    except OSError:
        pass
    return ts, per_cpu


def pct(v, q):
    if not v:
        return float('nan')
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))]


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.qtop = os.path.join(self.build, 'src', 'qtop-prof')
        self.base = os.path.join(self.build, 'bench', 'baseline_sampler')
        self.tmp = tempfile.mkdtemp(prefix='qtop-bench-')
        self.results = []
        self.n = 0

    def log(self, *a):
        print(*a, file=sys.stderr, flush=True)

    def path(self, name):
        self.n += 1
        return os.path.join(self.tmp, '%02d-%s' % (self.n, name))

    # -- one profiler run with CPU accounting --
    def measured_run(self, g, cmd, idle_rate, tag):
        out, err = self.path(tag + '.out'), self.path(tag + '.err')
        s0 = CpuSnap(g.pid)
        rc, wall, prof_cpu = run_proc(cmd, out, err)
        s1 = CpuSnap(g.pid)
        dt, vcpu, other = s0.delta(s1)
        return {
            'rc': rc, 'wall': wall, 'prof_cpu': prof_cpu,
            'qemu_other_cpu': other, 'qemu_other_excess': max(0.0, other - idle_rate * dt),
            'vcpu_share': {k: v / dt for k, v in vcpu.items()},
            'vcpu_runnable': s0.runnable_share(dt),
            'stdout': read_text(out), 'stderr': read_text(err),
        }

    def idle_window(self, g, secs):
        s0 = CpuSnap(g.pid)
        time.sleep(secs)
        s1 = CpuSnap(g.pid)
        dt, vcpu, other = s0.delta(s1)
        self.idle_runnable = s0.runnable_share(dt)
        return other / dt, {k: v / dt for k, v in vcpu.items()}

    def qtop_cmd(self, g, hz, mode, duration, folded=None, record=None):
        cmd = [self.qtop, '--qmp', g.qmp_path, '--batch', '--hz', str(hz),
               '--' + mode, '--duration', str(duration),
               '--kernel', g.kernel, '--sysroot', g.sysroot, '--top', '5']
        if folded:
            cmd += ['-o', folded]
        if record:
            cmd += ['--record', record]
        return cmd

    def base_cmd(self, g, duration, folded, lat):
        cmd = [self.base, '--qmp', g.qmp_path, '--duration', str(duration),
               '--kernel', g.kernel, '-o', folded, '--lat', lat,
               '--comm-sym', g.truth['current_task']['symbol']]
        for prog in sorted(os.listdir(g.sysroot)):
            if prog != 'kernel':
                cmd += ['--prog', '%s=%s' % (prog, os.path.join(g.sysroot, prog))]
        return cmd

    # -- (a) + (b) --
    def one_rate_run(self, g, name, idle_rate, D):
        """One max-rate run of one tool; returns its figures."""
        if name == BASE:
            folded, lat = self.path('b.folded'), self.path('b.lat')
            r = self.measured_run(g, self.base_cmd(g, D, folded, lat), idle_rate, 'base')
            m = re.search(r'RESULT (\{.*\})', r['stdout'])
            if r['rc'] != 0 or not m:
                return None, r['stderr'].strip()[-400:]
            j = json.loads(m.group(1))
            try:
                with open(lat) as f:
                    r['periods'] = [float(x) for x in f.read().split()]
            except OSError:
                r['periods'] = []
            r.update(samples=j['samples'], secs=j['wall_s'], x_per_sample=j['x_per_sample'],
                     frames_per_sample=j['frames_per_sample'], folded=folded,
                     sample_us_median=j.get('sample_us_median'))
            return r, None
        folded, rec = self.path('q.folded'), self.path('q.qrec')
        r = self.measured_run(g, self.qtop_cmd(g, 0, MODE_OF[name], D, folded, rec), idle_rate, 'qtop')
        m = re.search(r'(\d+) samples in ([\d.]+) s', r['stderr'])
        if r['rc'] != 0 or not m:
            return None, r['stderr'].strip()[-400:]
        ts, _ = record_rounds(rec)
        r['periods'] = [(b - a) / 1e3 for a, b in zip(ts, ts[1:])]
        r.update(samples=int(m.group(1)), secs=float(m.group(2)), folded=folded)
        try:
            os.unlink(rec)
        except OSError:
            pass
        return r, None

    def rate_runs(self, g, idle_rate, res):
        """(a)+(b): the tools take turns (rate_reps rounds of short runs) so
        that drifting host load hits them alike; figures are pooled."""
        D = self.a.rate_secs / self.a.rate_reps
        tools = {n: [] for n in TOOLS}
        errors = {}
        for _ in range(self.a.rate_reps):
            for name in TOOLS:
                r, e = self.one_rate_run(g, name, idle_rate, D)
                if r:
                    tools[name].append(r)
                else:
                    errors[name] = e
        out = {}
        for name in TOOLS:
            runs = tools[name]
            if not runs:
                self.log('  %s FAILED: %s' % (name, errors.get(name)))
                out[name] = {'failed': True, 'error': errors.get(name)}
                continue
            samples = sum(r['samples'] for r in runs)
            secs = sum(r['secs'] for r in runs)
            periods = [p for r in runs for p in r['periods']]
            q_ex = sum(r['qemu_other_excess'] for r in runs)
            prof = sum(r['prof_cpu'] for r in runs)
            t = {
                'runs': len(runs), 'samples': samples, 'secs': secs,
                'samples_per_s': samples / secs, 'per_vcpu_per_s': samples / secs / g.smp,
                'samples_per_s_runs': [r['samples'] / r['secs'] for r in runs],
                'round_us_median': pct(periods, 0.5), 'round_us_p99': pct(periods, 0.99),
                'cpu_ms_per_sample': 1e3 * (q_ex + prof) / samples,
                'cpu_ms_per_sample_qemu': 1e3 * q_ex / samples,
                'cpu_ms_per_sample_prof': 1e3 * prof / samples,
                'qemu_other_cpu_raw_ms_per_sample': 1e3 * sum(r['qemu_other_cpu'] for r in runs) / samples,
                'vcpu_share': statistics.median(sum(r['vcpu_share'].values()) / max(1, len(r['vcpu_share']))
                                                for r in runs),
                'vcpu_runnable': statistics.median(r['vcpu_runnable'] for r in runs),
                'folded': [r['folded'] for r in runs],
            }
            if name != BASE:
                n = {'exact': 0, 'cut': 0, 'wrong': 0}
                truth = g.truth
                if res.get('deep'):     # the chains as the deep guest runs them
                    truth = dict(g.truth, chains=[
                        dict(c, frames=[{'fn': fn} for fn in deep_frames([f['fn'] for f in c['frames']])])
                        for c in g.truth['chains']])
                for f in t['folded']:
                    c = classify(parse_folded(f), truth, g.smp)
                    for k in n:
                        n[k] += c[k]
                tot = sum(n.values()) or 1
                t['chains_pct'] = {k: 100.0 * v / tot for k, v in n.items()}
            m = [re.search(r'(\d+) of (\d+) rounds read again .*?, (\d+) rounds taken', r['stderr'])
                 for r in runs]
            if any(m):
                nr = max(1, sum(int(x.group(2)) for x in m if x))
                t['retry_rounds_pct'] = 100.0 * sum(int(x.group(1)) for x in m if x) / nr
                t['stop_rounds_pct'] = 100.0 * sum(int(x.group(3)) for x in m if x) / nr
            if name == BASE:
                t['x_per_sample'] = statistics.mean(r['x_per_sample'] for r in runs)
                t['frames_per_sample'] = statistics.mean(r['frames_per_sample'] for r in runs)
                sl = [r['sample_us_median'] for r in runs if r.get('sample_us_median')]
                t['sample_us_median'] = statistics.median(sl) if sl else None
            out[name] = t
            self.log('  %-28s %7.1f samples/s (%.1f per vCPU; runs %s), round %6.0f us median %6.0f p99, '
                     '%.2f ms CPU/sample (QEMU %.2f + profiler %.2f), vCPU share %.2f, runnable %.2f' % (
                         name, t['samples_per_s'], t['per_vcpu_per_s'],
                         ' '.join('%.0f' % x for x in t['samples_per_s_runs']), t['round_us_median'],
                         t['round_us_p99'], t['cpu_ms_per_sample'], t['cpu_ms_per_sample_qemu'],
                         t['cpu_ms_per_sample_prof'], t['vcpu_share'], t['vcpu_runnable']))
        res['rates'] = out

    # -- (c) --
    def disturbance(self, g, prog, res):
        W, lead = self.a.window, self.a.lead
        pmodes = [m for m in self.a.disturb_modes.split(',') if m]
        modes = []
        for _ in range(self.a.reps):
            for pm in pmodes:
                modes += ['none', (pm, 100), 'none', (pm, 1000)]
        windows = []
        for mode in modes:
            if mode == 'none':
                time.sleep(0.3)
                s0 = CpuSnap(g.pid)
                time.sleep(W)
                s1 = CpuSnap(g.pid)
                achieved = None
                key = 'none'
            else:
                out, err = self.path('d.out'), self.path('d.err')
                cmd = self.qtop_cmd(g, mode[1], mode[0], W + lead + 0.5)
                with open(out, 'wb') as o, open(err, 'wb') as e:
                    p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
                    time.sleep(lead)
                    s0 = CpuSnap(g.pid)
                    time.sleep(W)
                    s1 = CpuSnap(g.pid)
                    p.wait()
                m = re.search(r'\(([\d.]+)/s\)', read_text(err))
                achieved = float(m.group(1)) / g.smp if m else None
                key = '%s %d' % mode
            dt, vcpu, other = s0.delta(s1)
            windows.append({'mode': key, 't0': s0.t, 't1': s1.t,
                            'vcpu_share': sum(vcpu.values()) / dt / max(1, len(vcpu)),
                            'vcpu_runnable': s0.runnable_share(dt),
                            'other_share': other / dt, 'achieved_hz': achieved})
        out = {}
        for mode in ['none'] + ['%s %d' % (pm, hz) for pm in pmodes for hz in (100, 1000)]:
            ws = [w for w in windows if w['mode'] == mode]
            iv = []
            for w in ws:
                iv += prog.intervals(w['t0'], w['t1'])
            dt = sum(x[0] for x in iv)
            out[mode] = {
                'vcpu_share_median': statistics.median(w['vcpu_share'] for w in ws),
                'vcpu_shares': [w['vcpu_share'] for w in ws],
                'vcpu_runnable_median': statistics.median(w['vcpu_runnable'] for w in ws),
                'vcpu_runnables': [w['vcpu_runnable'] for w in ws],
                'other_share_median': statistics.median(w['other_share'] for w in ws),
                'achieved_hz': statistics.median([w['achieved_hz'] for w in ws if w['achieved_hz']] or [0]),
                'rounds_per_s': sum(x[1] for x in iv) / dt if dt > 0 else None,
                'ap_rounds_per_s': sum(x[2] for x in iv) / dt if dt > 0 else None,
                'progress_intervals': len(iv),
            }
        base = out['none']
        for mode, o in out.items():
            if mode == 'none':
                continue
            if base['vcpu_share_median'] > 0:
                o['vcpu_share_rel'] = o['vcpu_share_median'] / base['vcpu_share_median']
            if base['vcpu_runnable_median'] > 0:
                o['vcpu_runnable_rel'] = o['vcpu_runnable_median'] / base['vcpu_runnable_median']
            if o['rounds_per_s'] and base['rounds_per_s']:
                o['work_rate_rel'] = o['rounds_per_s'] / base['rounds_per_s']
            if g.smp > 1 and o['ap_rounds_per_s'] and base['ap_rounds_per_s']:
                o['ap_work_rate_rel'] = o['ap_rounds_per_s'] / base['ap_rounds_per_s']
        for mode, o in out.items():
            self.log('  %-15s vCPU runnable %.3f (windows %s)' % (mode, o['vcpu_runnable_median'],
                     ' '.join('%.2f' % x for x in o['vcpu_runnables'])))
            self.log('  %-15s vCPU share %.3f (windows %s), achieved %s Hz/vCPU, guest rounds/s %s%s' % (
                mode, o['vcpu_share_median'], ' '.join('%.2f' % x for x in o['vcpu_shares']),
                '%.0f' % o['achieved_hz'] if o['achieved_hz'] else '-',
                '%.1f' % o['rounds_per_s'] if o['rounds_per_s'] else '-',
                ' (rel %.2f / work %.2f)' % (o['vcpu_share_rel'], o.get('work_rate_rel', float('nan')))
                if 'vcpu_share_rel' in o else ''))
        res['disturbance'] = out

    # -- (d) --
    @staticmethod
    def load_folded(paths):
        chains = {}
        for path in paths:
            try:
                f = open(path)
            except OSError:
                continue
            with f:
                for line in f:
                    line = line.rstrip('\n')
                    if not line or ' ' not in line:
                        continue
                    stack, n = line.rsplit(' ', 1)
                    frames = stack.split(';')[1:]   # drop the process/address-space root
                    frames = [x[:-4] if x.endswith('_[k]') else x for x in frames]
                    key = ';'.join(frames)
                    chains[key] = chains.get(key, 0) + int(n)
        tot = sum(chains.values()) or 1
        return {k: 100.0 * v / tot for k, v in chains.items()}

    def truth_chains(self, g, deep=False):
        out = {}
        for c in g.truth['chains']:
            if c['cpu'] < g.smp:
                fns = [f['fn'] for f in c['frames']]
                if deep:
                    fns = deep_frames(fns)
                key = ';'.join(fns)
                out[key] = out.get(key, 0) + c['weight'] / g.smp
        return out

    def agreement(self, g, res):
        rates = res['rates']
        q = rates.get('qtop-prof --stop', {})
        b = rates.get('baseline (x/1gx per word)', {})
        if q.get('failed') or b.get('failed'):
            return
        cq, cb = self.load_folded(q['folded']), self.load_folded(b['folded'])
        ct = self.truth_chains(g, res.get('deep', False))
        res['chains_files'] = {'qtop': q['folded'], 'baseline': b['folded']}

        def overlap(x, y):
            return sum(min(v, y.get(k, 0)) for k, v in x.items())

        def leaves(c):
            o = {}
            for k, v in c.items():
                lf = k.split(';')[-1]
                o[lf] = o.get(lf, 0) + v
            return o
        def by_leaf(c):
            o = {}
            for k, v in c.items():
                o.setdefault(k.split(';')[-1], {})[k] = v
            return o

        def chain_given_leaf(x, y):
            # sum over leaves of (mean leaf share) x overlap of the two
            # conditional chain distributions: insensitive to how many samples
            # each tool happened to take in each phase of the guest's loop
            lx, ly = by_leaf(x), by_leaf(y)
            tot = 0.0
            for leaf in set(lx) & set(ly):
                sx, sy = sum(lx[leaf].values()), sum(ly[leaf].values())
                ov = sum(min(v / sx, ly[leaf].get(k, 0) / sy) for k, v in lx[leaf].items())
                tot += (sx + sy) / 2 * ov
            wx = sum(x.values()) or 1
            wy = sum(y.values()) or 1
            return 100.0 * tot / ((wx + wy) / 2)
        top = sorted(set(cq) | set(cb) | set(ct), key=lambda k: -max(cq.get(k, 0), cb.get(k, 0), ct.get(k, 0)))
        top = [k for k in top if max(cq.get(k, 0), cb.get(k, 0), ct.get(k, 0)) >= 1.0][:14]
        res['chains'] = {
            'rows': [(k, ct.get(k, 0), cq.get(k, 0), cb.get(k, 0)) for k in top],
            'overlap_qtop_baseline': overlap(cq, cb),
            'overlap_qtop_truth': overlap(cq, ct),
            'overlap_baseline_truth': overlap(cb, ct),
            'leaf_overlap_qtop_baseline': overlap(leaves(cq), leaves(cb)),
            'leaf_overlap_qtop_truth': overlap(leaves(cq), leaves(ct)),
            'leaf_overlap_baseline_truth': overlap(leaves(cb), leaves(ct)),
            'chain_given_leaf_qtop_baseline': chain_given_leaf(cq, cb),
            'chain_given_leaf_qtop_truth': chain_given_leaf(cq, ct),
            'chain_given_leaf_baseline_truth': chain_given_leaf(cb, ct),
            # mean frames per sample (process root dropped), share-weighted
            'depth_qtop': sum(v * (k.count(';') + 1) for k, v in cq.items()) / (sum(cq.values()) or 1),
            'depth_baseline': sum(v * (k.count(';') + 1) for k, v in cb.items()) / (sum(cb.values()) or 1),
            'depth_truth': sum(v * (k.count(';') + 1) for k, v in ct.items()) / (sum(ct.values()) or 1),
        }
        c = res['chains']
        self.log('  chains: qtop/baseline overlap %.1f %% (leaves %.1f %%); vs truth: qtop %.1f %%, baseline %.1f %%; '
                 'same chain for the same leaf: qtop/baseline %.1f %%, qtop/truth %.1f %%, baseline/truth %.1f %%' % (
                     c['overlap_qtop_baseline'], c['leaf_overlap_qtop_baseline'], c['overlap_qtop_truth'],
                     c['overlap_baseline_truth'], c['chain_given_leaf_qtop_baseline'],
                     c['chain_given_leaf_qtop_truth'], c['chain_given_leaf_baseline_truth']))

    # -- (e) --
    def strace_round(self, g, res):
        """Per-command time of one round, for qtop-prof --stop and the
        baseline, under strace (which slows every syscall: compare shares)."""
        res['strace'] = {}
        for name in (QSTOP, BASE):
            st, sout, serr = self.path('strace.txt'), self.path('s.out'), self.path('s.err')
            if name == BASE:
                tool = self.base_cmd(g, self.a.strace_secs, self.path('sb.folded'), self.path('sb.lat'))
            else:
                tool = self.qtop_cmd(g, 0, 'stop', self.a.strace_secs)
            cmd = ['strace', '-f', '-ttt', '-T', '-o', st, '-s', '160',
                   '-e', 'trace=sendto,recvfrom,openat,read,unlinkat'] + tool
            rc, wall, _ = run_proc(cmd, sout, serr)
            r = parse_strace(read_text(st))
            if name == BASE:
                m = re.search(r'"samples_per_s": ([\d.]+)', read_text(sout))
                r['samples_per_s_under_strace'] = float(m.group(1)) if m else None
            else:
                m = re.search(r'(\d+) samples in ([\d.]+) s', read_text(serr))
                r['samples_per_s_under_strace'] = int(m.group(1)) / float(m.group(2)) if m else None
            res['strace'][name] = r
            self.log('  strace %s: %s samples/s under strace, %d rounds' % (
                name, fmt(r['samples_per_s_under_strace'], '%.0f'), r['rounds']))
            for k, v in sorted(r['groups'].items(), key=lambda kv: -kv[1]['us_total']):
                if v['n'] < 0.01 * max(1, r['rounds']):
                    continue
                self.log('    %-48s %5d calls  median %6.0f us  p99 %6.0f us  %5.1f %% of round time' % (
                    k, v['n'], v['us_median'], v['us_p99'], v['share']))

    # -- (f) --
    def read_cost(self, g, res):
        """HMP x/Ngx vs memsave (+ the client's open/read/unlink) for the
        sizes a round reads, on a stopped guest at a kernel stack pointer,
        interleaved; Python client (tests/lib/qmp.py), medians."""
        from qmp import QMP
        q = QMP(g.qmp_path)
        out = {}
        path = os.path.join(self.tmp, 'memsave.bin')
        q.execute('stop')
        try:
            rsp = 0
            for _ in range(100):
                m = re.search(r'RSP=([0-9a-f]+)', q.hmp('info registers', cpu=0))
                rsp = int(m.group(1), 16) if m else 0
                if rsp >> 63:
                    break
                q.execute('cont')
                time.sleep(0.01)
                q.execute('stop')
            if rsp >> 63:
                for n in (8, 256, 1024, 4096):
                    xs, ms = [], []
                    for _ in range(self.a.read_reps):
                        t0 = time.perf_counter()
                        q.hmp('x/%dgx 0x%x' % (n // 8, rsp), cpu=0)
                        xs.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        q.execute('memsave', {'val': rsp - (1 << 64), 'size': n,
                                              'filename': path, 'cpu-index': 0})
                        with open(path, 'rb') as f:
                            f.read()
                        os.unlink(path)
                        ms.append(time.perf_counter() - t0)
                    out[n] = {'x_us': statistics.median(xs) * 1e6, 'memsave_us': statistics.median(ms) * 1e6}
                    self.log('  read %5d B: x/%dgx %4.0f us, memsave+read+unlink %4.0f us' % (
                        n, n // 8, out[n]['x_us'], out[n]['memsave_us']))
        finally:
            q.execute('cont')
            q.close()
        res['read_cost'] = out

    # -- one guest --
    def guest_config(self, arch, smp, full=True, deep=False):
        self.log('== %s, %d vCPU%s' % (arch, smp, ', deep stacks (-append deep)' if deep else ''))
        res = {'arch': arch, 'smp': smp, 'deep': deep}
        # debug-threads names the vCPU threads "CPU n/TCG" (else all are
        # "qemu-system-x86" and vCPU time cannot be told apart)
        extra = ['-name', 'qtop-bench,debug-threads=on']
        if deep:
            extra += ['-append', 'deep']
        with Guest(self.build, arch=arch, smp=smp, extra_args=extra) as g:
            prog = Progress(g.serial_log)
            prog.start()
            time.sleep(0.5)
            if deep:
                serial = read_text(g.serial_log)
                if 'deep stacks on' not in serial:
                    raise SystemExit('bench_sampling: the guest did not report "deep stacks on" '
                                     '(guest kernel older than the deep mode?): %r' % serial[-300:])
            idle_rate, idle_vcpu = self.idle_window(g, 1.5)
            res['idle'] = {'qemu_other_share': idle_rate, 'vcpu_share': idle_vcpu,
                           'vcpu_runnable': self.idle_runnable,
                           'vcpu_threads': sorted(idle_vcpu)}
            self.log('  idle: QEMU non-vCPU threads %.3f CPU, vCPU threads %s' % (
                idle_rate, ', '.join('%s %.2f' % kv for kv in sorted(idle_vcpu.items()))))
            self.rate_runs(g, idle_rate, res)
            if deep:
                self.agreement(g, res)
            elif full:
                self.agreement(g, res)
                self.disturbance(g, prog, res)
                if self.a.strace and smp == 1 and arch == 'x86_64':
                    self.strace_round(g, res)
                if self.a.read_reps and smp == 1 and arch == 'x86_64':
                    self.read_cost(g, res)
            prog.stop_ev.set()
        self.results.append(res)
        return res


def deep_frames(fns):
    """A truth.json chain (function names, root first) as the -append deep
    guest runs it: DEEP_PAD_N deep_pad frames between each DEEP_INSERT pair."""
    out = []
    for i, fn in enumerate(fns):
        out.append(fn)
        if i + 1 < len(fns) and (fn, fns[i + 1]) in DEEP_INSERT:
            out += [DEEP_PAD_FN] * DEEP_PAD_N
    return out


def show_chain(key):
    """root → leaf, runs of one function shown as fn ×N when N > 5."""
    fns = key.split(';')
    out = []
    i = 0
    while i < len(fns):
        j = i
        while j < len(fns) and fns[j] == fns[i]:
            j += 1
        out += ['%s ×%d' % (fns[i], j - i)] if j - i > 5 else fns[i:j]
        i = j
    return ' → '.join(out)


def guest_label(r):
    return '%s %d vCPU%s' % (r['arch'], r['smp'], ' deep' if r.get('deep') else '')


def parse_strace(text):
    """Per QMP command group of the sampler thread: the time from its send
    to the next send that follows a reply (so client-side work such as
    parsing and memsave file reads belongs to the command it serves)."""
    sends = []   # (tid, t, label)
    recvs = {}   # tid -> [t_end]
    line_re = re.compile(r'^(\d+)\s+([\d.]+)\s+(\w+)\((.*)<([\d.]+)>\s*$')
    resumed_re = re.compile(r'^(\d+)\s+([\d.]+)\s+<\.\.\. (\w+) resumed>(.*)<([\d.]+)>\s*$')
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            tid, t, call, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
            dur = float(m.group(5))
        elif line.endswith('<unfinished ...>'):
            m = re.match(r'^(\d+)\s+([\d.]+)\s+(\w+)\((.*)<unfinished \.\.\.>$', line)
            if not m or m.group(3) != 'sendto':
                continue
            tid, t, call, rest, dur = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4), 0.0
        else:
            m = resumed_re.match(line)
            if not m or m.group(3) == 'sendto':
                continue
            # the resumed line's time stamp is the end of the call
            tid, t, call, rest, dur = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4), 0.0
        if call == 'sendto' and 'execute' in rest:
            cm = re.search(r'\\"execute\\": *\\"([\w-]+)\\"', rest)
            label = cm.group(1) if cm else '?'
            hm = re.search(r'\\"command-line\\": *\\"(.*?)\\"', rest)
            if hm:   # json-c escapes '/' as '\/'
                label = 'hmp ' + re.sub(r'0x[0-9a-f]+', 'ADDR', re.sub(r'\\+/', '/', hm.group(1)))
            if label == 'memsave':
                vm = re.search(r'\\"val\\": *(-?\d+)', rest)
                zm = re.search(r'\\"size\\": *(\d+)', rest)
                if zm and int(zm.group(1)) == 8:
                    label = 'memsave 8 B (TSS.sp0 probe)'
                elif vm:
                    label = 'memsave kernel stack' if int(vm.group(1)) < 0 or int(vm.group(1)) >= 0xc0000000 \
                        else 'memsave user stack/code'
            sends.append((tid, t, label))
        elif call == 'recvfrom':
            recvs.setdefault(tid, []).append(t + dur)
    if not sends:
        return {'groups': {}, 'rounds': 0}
    # the sampler thread is the one that sends "stop"
    stids = [s[0] for s in sends if s[2] == 'stop']
    tid = max(set(stids), key=stids.count) if stids else sends[0][0]
    ss = [s for s in sends if s[0] == tid]
    rv = recvs.get(tid, [])
    groups = {}
    i = 0
    rounds = 0
    # a group: consecutive sends with no reply read between them (pipelined).
    # Its latency runs from its first send to the end of the last read before
    # the next send; the rest, up to the next send, is the client's own time
    # after it (memsave file reads, parsing, ring push, pacing sleep).
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and not any(ss[j][1] < r <= ss[j + 1][1] for r in rv):
            j += 1
        label = ss[i][2] if j == i else '%s x%d (pipelined)' % (ss[i][2], j - i + 1) \
            if all(s[2] == ss[i][2] for s in ss[i:j + 1]) else ss[i][2] + ' +pipelined'
        if ss[i][2] == 'stop':
            rounds += 1
        if j + 1 < len(ss):
            t_next = ss[j + 1][1]
            reads = [r for r in rv if ss[j][1] < r <= t_next]
            t_reply = max(reads) if reads else t_next
            groups.setdefault(label, []).append((t_reply - ss[i][1]) * 1e6)
            groups.setdefault('  client time after ' + label, []).append((t_next - t_reply) * 1e6)
        i = j + 1
    total = sum(sum(v) for v in groups.values()) or 1
    out = {}
    for k, v in groups.items():
        out[k] = {'n': len(v), 'us_median': statistics.median(v), 'us_p99': pct(v, 0.99),
                  'us_total': sum(v), 'us_mean': statistics.mean(v), 'share': 100.0 * sum(v) / total}
    return {'groups': out, 'rounds': rounds}


# ------------------------------------------------------------ reporting ---
def fmt(v, f='%.1f'):
    return '-' if v is None or v != v else f % v


def rate_table(L, results):
    """(a, b) rows of results into L."""
    L.append('| guest | tool | samples/s | per vCPU | round latency median / p99 (µs) | CPU ms/sample (QEMU non-vCPU + profiler) | vs baseline: rate / CPU | guest runnable share | chains exact / cut / wrong % |')
    L.append('|---|---|---|---|---|---|---|---|---|')
    for r in results:
        rates = r.get('rates', {})
        base = rates.get('baseline (x/1gx per word)', {})
        for name, t in rates.items():
            if t.get('failed'):
                L.append('| %s | %s | failed | | | | | | |' % (guest_label(r), name))
                continue
            rel = ''
            if name.startswith('qtop') and base and not base.get('failed'):
                rel = '%.1f× / %.1f×' % (t['samples_per_s'] / base['samples_per_s'],
                                         base['cpu_ms_per_sample'] / t['cpu_ms_per_sample'])
            extra = ''
            if 'x_per_sample' in t:
                extra = ' (%.1f frames, %.1f x/sample%s)' % (
                    t['frames_per_sample'], t['x_per_sample'],
                    ', registers + walk %.0f µs/sample' % t['sample_us_median'] if t.get('sample_us_median') else '')
            ch = t.get('chains_pct')
            chains = '%.1f / %.1f / %.1f' % (ch['exact'], ch['cut'], ch['wrong']) if ch else ''
            if t.get('stop_rounds_pct') is not None:
                extra += ' (rounds read again: %.0f %%, paused: %.1f %%)' % (
                    t['retry_rounds_pct'], t['stop_rounds_pct'])
            L.append('| %s | %s%s | %.0f (runs %s) | %.0f | %.0f / %.0f | %.2f (%.2f + %.2f) | %s | %.2f | %s |' % (
                guest_label(r), name, extra, t['samples_per_s'],
                ' '.join('%.0f' % x for x in t['samples_per_s_runs']), t['per_vcpu_per_s'],
                t['round_us_median'], t['round_us_p99'], t['cpu_ms_per_sample'],
                t['cpu_ms_per_sample_qemu'], t['cpu_ms_per_sample_prof'], rel, t['vcpu_runnable'], chains))


def chain_section(L, results):
    """(d) paragraphs and tables of results into L."""
    for r in results:
        c = r.get('chains')
        if not c:
            continue
        L.append('')
        L.append('%s: samples whose whole chain is the same for the same leaf function: '
                 'qtop-prof/baseline **%.1f %%**, qtop-prof/truth.json **%.1f %%**, baseline/truth.json %.1f %%. '
                 'Plain overlap of the chain shares (also counts how much time each tool happened to see in each '
                 'phase of the guest loop): qtop-prof/baseline %.1f %%, qtop-prof/truth %.1f %%, baseline/truth %.1f %%; '
                 'leaf (flat) overlap qtop-prof/baseline %.1f %%.' % (
                     guest_label(r), c['chain_given_leaf_qtop_baseline'], c['chain_given_leaf_qtop_truth'],
                     c['chain_given_leaf_baseline_truth'], c['overlap_qtop_baseline'], c['overlap_qtop_truth'],
                     c['overlap_baseline_truth'], c['leaf_overlap_qtop_baseline']))
        L.append('')
        L.append('| chain | truth | qtop-prof | baseline |')
        L.append('|---|---|---|---|')
        for k, t, q, bb in c['rows']:
            L.append('| %s | %.1f | %.1f | %.1f |' % (show_chain(k), t, q, bb))


def markdown(b, args):
    L = []
    L.append('Run: %s, host %s, %d CPUs, load average before the run %s.' % (
        time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(b.t_start)), os.uname().nodename,
        os.cpu_count(), b.load0))
    normal = [r for r in b.results if not r.get('deep')]
    if normal:
        L.append('')
        L.append('### (a, b) Rate, latency and CPU per sample (max rate, full stacks, %.0f s each)' % args.rate_secs)
        L.append('')
        rate_table(L, normal)
    if any(r.get('disturbance') for r in b.results):
        L.append('')
        L.append('### (c) Disturbance (%d × [none, 100 Hz, none, 1 kHz] windows of %.1f s per mode, modes taking turns; medians)' % (
            args.reps, args.window))
        L.append('')
        L.append('| guest | profiler | achieved Hz/vCPU | vCPU runnable share (windows) | relative | vCPU thread CPU share (windows) | relative | guest rounds/s (host clock) | relative |')
        L.append('|---|---|---|---|---|---|---|---|---|')
        for r in b.results:
            d = r.get('disturbance')
            if not d:
                continue
            for mode, o in d.items():
                L.append('| %s %d vCPU | %s | %s | %.3f (%s) | %s | %.3f (%s) | %s | %s | %s |' % (
                    r['arch'], r['smp'], 'none' if mode == 'none' else '--' + mode + ' Hz',
                    fmt(o['achieved_hz'], '%.0f') if mode != 'none' else '-',
                    o['vcpu_runnable_median'], ' '.join('%.2f' % x for x in o['vcpu_runnables']),
                    fmt(o.get('vcpu_runnable_rel'), '%.2f') if mode != 'none' else '1',
                    o['vcpu_share_median'], ' '.join('%.2f' % x for x in o['vcpu_shares']),
                    fmt(o.get('vcpu_share_rel'), '%.2f') if mode != 'none' else '1',
                    fmt(o['rounds_per_s']) + ('' if not o.get('ap_rounds_per_s') or r['smp'] < 2 else ' (AP %.1f)' % o['ap_rounds_per_s']),
                    fmt(o.get('work_rate_rel'), '%.2f') if mode != 'none' else '1'))
    if normal:
        L.append('')
        L.append('### (d) Chain agreement (qtop-prof --stop vs baseline, same guest, % of samples; frames root→leaf)')
        chain_section(L, normal)
    for r in b.results:
        for name, st in (r.get('strace') or {}).items():
            rounds = st['rounds'] or 1
            L.append('')
            L.append('### Where a round goes: %s, %s %d vCPU, max rate, under strace (%s samples/s under strace)' % (
                name, r['arch'], r['smp'], fmt(st.get('samples_per_s_under_strace'), '%.0f')))
            L.append('')
            L.append('| command: send → its reply read (client time after it: → next send) | per round | median µs | mean µs | p99 µs | share of all time |')
            L.append('|---|---|---|---|---|---|')
            g = st['groups']
            cmds = sorted((k for k in g if not k.startswith('  ')), key=lambda k: -g[k]['us_total'])
            for k in cmds:
                for kk in (k, '  client time after ' + k):
                    v = g.get(kk)
                    if not v or v['n'] / rounds < 0.01:
                        continue
                    L.append('| %s | %.2f | %.0f | %.0f | %.0f | %.1f %% |' % (
                        kk.replace('  client time after ', '↳ client time after '), v['n'] / rounds,
                        v['us_median'], v['us_mean'], v['us_p99'], v['share']))
    for r in b.results:
        rc = r.get('read_cost')
        if not rc:
            continue
        L.append('')
        L.append('### Reading guest memory: HMP `x/Ngx` vs `memsave` (%s %d vCPU, guest stopped, '
                 'Python client, medians of %d interleaved pairs)' % (r['arch'], r['smp'], args.read_reps))
        L.append('')
        L.append('| bytes | `x/Ngx` µs | `memsave` + open/read/unlink µs |')
        L.append('|---|---|---|')
        for n, v in sorted(rc.items(), key=lambda kv: int(kv[0])):
            L.append('| %s | %.0f | %.0f |' % (n, v['x_us'], v['memsave_us']))
    deep = [r for r in b.results if r.get('deep')]
    if deep:
        L.append('')
        L.append('### Deep stacks (x86_64 1 vCPU booted with `-append deep`: every kernel chain %d `%s` '
                 'frames deeper; max rate, %.0f s each)' % (DEEP_PAD_N, DEEP_PAD_FN, args.rate_secs))
        L.append('')
        rate_table(L, deep)
        for r in deep:
            c = r.get('chains')
            if c:
                L.append('')
                L.append('Mean frames per sample: truth %.1f, qtop-prof %.1f, baseline %.1f.' % (
                    c['depth_truth'], c['depth_qtop'], c['depth_baseline']))
        chain_section(L, deep)
    return '\n'.join(L) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('QTOP_BUILD', os.path.join(ROOT, 'build-bench')))
    ap.add_argument('--smp', default='1,2')
    ap.add_argument('--i386', action='store_true', help='also the i386 guest, 1 vCPU (rate, CPU, chains)')
    ap.add_argument('--rate-secs', type=float, default=6.0, help='seconds per tool, split in --rate-reps runs')
    ap.add_argument('--rate-reps', type=int, default=3)
    ap.add_argument('--window', type=float, default=3.5)
    ap.add_argument('--lead', type=float, default=0.8, help='profiler start-up before a window')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--disturb-modes', default='auto-stop,stop',
                    help='qtop-prof modes measured in (c), taking turns')
    ap.add_argument('--strace', action='store_true', help='per-command time of a qtop-prof round')
    ap.add_argument('--strace-secs', type=float, default=3.0)
    ap.add_argument('--read-reps', type=int, default=100,
                    help='x/Ngx vs memsave comparisons per size (0: skip)')
    ap.add_argument('--deep', action='store_true',
                    help='also x86_64 1 vCPU booted with -append deep (24-28-frame kernel chains): '
                         'rate, CPU, chains')
    ap.add_argument('--md', help='write the tables as markdown here')
    ap.add_argument('--json', help='write the raw results here')
    args = ap.parse_args()

    b = Bench(args)
    for exe in (b.qtop, b.base):
        if not os.access(exe, os.X_OK):
            sys.exit('bench_sampling: %s not built (ninja -C %s)' % (exe, args.build))
    b.t_start = time.time()
    b.load0 = '%.1f' % os.getloadavg()[0]
    for smp in [int(x) for x in args.smp.split(',') if x]:
        b.guest_config('x86_64', smp)
    if args.i386:
        b.guest_config('i386', 1)
    if args.deep:
        b.guest_config('x86_64', 1, full=False, deep=True)
    b.log('total %.0f s' % (time.time() - b.t_start))
    md = markdown(b, args)
    print(md)
    if args.md:
        with open(args.md, 'w') as f:
            f.write(md)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(b.results, f, indent=1, default=str)


if __name__ == '__main__':
    main()

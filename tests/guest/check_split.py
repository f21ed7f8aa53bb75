#!/usr/bin/env python3
"""Independent check of the test guest's time split (the acceptance test).

Uses only a raw QMP client (tests/lib/qmp.py) and `nm`: no qtop-prof code.
Boots the guest, samples HMP "info registers" for every vCPU (cpu-index),
maps the pc to a function with the symbols of the right ELF (kernel for
CPL 0; for CPL 3 the program of the task whose CR3 it is, found by reading
current_task->name while the guest is stopped in that address space), and
asserts every vCPU's leaf shares match truth.json within tolerance.

    check_split.py --build BUILD --arch x86_64 --smp 2 [--samples 2500]
Exit status 0 when all shares match, 1 otherwise, 77 (skip) when the guest
is not built.
"""
import argparse
import bisect
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from guest import Guest, check_args, load_truth  # noqa: E402
from qmp import QMP, parse_registers  # noqa: E402


class Symbols:
    """Function symbols of one ELF from `nm -S -n`, plus all symbol
    addresses by name."""

    def __init__(self, path):
        out = subprocess.run(['nm', '-S', '-n', '--defined-only', path],
                             check=True, capture_output=True, text=True).stdout
        self.addr = {}
        funcs = []
        for line in out.splitlines():
            f = line.split()
            if len(f) == 4:
                a, size, typ, name = int(f[0], 16), int(f[1], 16), f[2], f[3]
            elif len(f) == 3:
                a, size, typ, name = int(f[0], 16), 0, f[1], f[2]
            else:
                continue
            self.addr.setdefault(name, a)
            if typ in 'TtWw':
                funcs.append((a, size, name))
        funcs.sort()
        self.starts = [f[0] for f in funcs]
        self.funcs = funcs

    def lookup(self, pc):
        i = bisect.bisect_right(self.starts, pc) - 1
        if i < 0:
            return None
        a, size, name = self.funcs[i]
        if size and pc >= a + size:
            return None
        return name


def identify_cr3(q, truth, ksyms, cr3, cpu, tmpdir, attempts=400):
    """Name of the task running in address space cr3: stop the guest when
    vCPU `cpu` is in ring 3 with that CR3 and read current_task->name."""
    ct = truth['current_task']
    psize = truth['pointer_size']
    sym = ksyms.addr[ct['symbol']]
    path = os.path.join(tmpdir, 'mem.bin')
    for _ in range(attempts):
        q.execute('stop')
        try:
            r = parse_registers(q.hmp('info registers', cpu=cpu))
            if r.get('CR3') == cr3 and r.get('CPL') == 3:
                ptr = int.from_bytes(q.memsave(sym, psize, path, cpu), 'little')
                raw = q.memsave(ptr + ct['offset'], ct['size'], path, cpu)
                return raw.split(b'\0', 1)[0].decode('ascii', 'replace')
        finally:
            q.execute('cont')
        time.sleep(0.003)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--samples', type=int, default=2500,
                    help='samples per vCPU (each one showing progress)')
    ap.add_argument('--min-samples', type=int, default=None,
                    help='fewer than this per vCPU within --max-seconds fails')
    ap.add_argument('--max-seconds', type=float, default=60)
    ap.add_argument('--interval', type=float, default=0.005,
                    help='seconds between sample rounds (spreads the samples over many workload rounds)')
    ap.add_argument('--json', help='write the measured shares here')
    r = check_args(ap)
    if r is None:
        return 77
    a, truth, kernel = r
    if a.min_samples is None:
        a.min_samples = min(1500, a.samples)
    truth_all = load_truth()
    tol = truth_all['tolerance_pp']
    max_other = truth_all['max_other_pp']
    ksyms = Symbols(kernel)
    progs = {}
    for tname, t in truth['tasks'].items():
        if t['program']:
            progs[tname] = Symbols(os.path.join(a.build, truth['sysroot'], t['program']))
    cpus = [c for c in truth['cpus'] if c['smp_min'] <= a.smp]

    raw = []        # (cpu, cpl, pc, cr3, halted)
    t0 = time.monotonic()
    with Guest(a.build, arch=a.arch, smp=a.smp) as g, \
            tempfile.TemporaryDirectory(prefix='qtop-split-') as tmp:
        q = QMP(g.qmp_path)
        boot_s = time.monotonic() - t0
        # A dump identical to the previous one of the same vCPU means the
        # vCPU made no progress in between (its host thread was descheduled
        # or blocked): such samples measure the host, not the guest's split,
        # so they are counted apart.  The spin loops change a register on
        # every iteration, so a running vCPU never repeats a dump.
        last = {}
        stalled = collections.Counter()
        valid = collections.Counter()
        deadline = time.monotonic() + a.max_seconds
        while (min(valid[c['cpu']] for c in cpus) < a.samples and
               time.monotonic() < deadline):
            for c in cpus:
                text = q.hmp('info registers', cpu=c['cpu'])
                if last.get(c['cpu']) == text:
                    stalled[c['cpu']] += 1
                    continue
                last[c['cpu']] = text
                valid[c['cpu']] += 1
                r = parse_registers(text)
                raw.append((c['cpu'], r.get('CPL', 0), r.get('PC'),
                            r.get('CR3'), r.get('HLT', 0)))
            time.sleep(a.interval)
        sample_s = time.monotonic() - t0 - boot_s
        # Address spaces -> task names, read from the guest while stopped.
        cr3_task = {}
        for cpu, cpl, pc, cr3, _ in raw:
            if cpl == 3 and cr3 not in cr3_task:
                cr3_task[cr3] = identify_cr3(q, truth, ksyms, cr3, cpu, tmp)
        q.close()
        serial = g.serial_text()

    ok = True
    result = {'arch': a.arch, 'smp': a.smp, 'boot_s': round(boot_s, 2),
              'sample_s': round(sample_s, 2), 'cpus': {}}
    print('%s smp=%d: boot %.1f s, %d samples in %.1f s, address spaces %s' % (
        a.arch, a.smp, boot_s, len(raw), sample_s,
        {hex(k): v for k, v in cr3_task.items()}))
    for c in cpus:
        counts = collections.Counter()
        leaf_cr3 = collections.defaultdict(collections.Counter)
        rows = [x for x in raw if x[0] == c['cpu']]
        for cpu, cpl, pc, cr3, hlt in rows:
            if pc is None or hlt:
                name = '[halted]' if hlt else '[no pc]'
            elif cpl == 3:
                task = cr3_task.get(cr3)
                syms = progs.get(task)
                fn = syms.lookup(pc) if syms else None
                name = '%s:%s' % (task, fn)
            else:
                name = 'kernel:%s' % ksyms.lookup(pc)
            counts[name] += 1
            leaf_cr3[name][cr3_task.get(cr3, 'kernel-as')] += 1
        n = len(rows)
        measured = {}
        print('vCPU %d: %d samples (%d more without progress, not counted)' % (
            c['cpu'], n, stalled[c['cpu']]))
        if n < a.min_samples:
            print('  FAIL: only %d samples saw the vCPU progress in %d s (host '
                  'too busy?), need %d' % (n, a.max_seconds, a.min_samples))
            ok = False
        print('  %-24s %8s %8s %8s' % ('leaf', 'truth', 'measured', 'diff'))
        expected_keys = set()
        for leaf in c['leaves']:
            key = ('%s:%s' % (leaf['task'], leaf['leaf']) if leaf['mode'] == 'user'
                   else 'kernel:%s' % leaf['leaf'])
            expected_keys.add(key)
            share = 100.0 * counts[key] / n if n else 0.0
            diff = share - leaf['share']
            bad = abs(diff) > tol
            # kernel time on behalf of a user task must be in its address space
            as_note = ''
            want_as = truth['tasks'][leaf['task']]['address_space']
            if leaf['mode'] == 'kernel' and want_as != 'kernel' and counts[key]:
                in_as = leaf_cr3[key][want_as] / counts[key]
                as_note = ' (%.0f%% in %s\'s address space)' % (100 * in_as, want_as)
                if in_as < 0.95:
                    bad = True
            ok &= not bad
            measured[leaf['leaf']] = round(share, 2)
            print('  %-24s %8.1f %8.1f %+8.1f%s%s' % (
                leaf['leaf'], leaf['share'], share, diff, as_note,
                '  <-- FAIL' if bad else ''))
        other = collections.Counter({k: v for k, v in counts.items() if k not in expected_keys})
        other_pp = 100.0 * sum(other.values()) / n if n else 100.0
        print('  %-24s %8s %8.1f   %s' % ('(other)', '', other_pp,
              ', '.join('%s=%d' % kv for kv in other.most_common(6))))
        if other_pp > max_other:
            print('  FAIL: %.1f pp of samples outside the listed leaves' % other_pp)
            ok = False
        result['cpus'][str(c['cpu'])] = {'samples': n, 'stalled': stalled[c['cpu']],
                                         'shares': measured,
                                         'other': round(other_pp, 2)}
    if 'workload running cpus=%d' % a.smp not in serial:
        print('FAIL: serial log lacks "workload running cpus=%d"' % a.smp)
        ok = False
    # The guest's own TSC view of the same run (last progress line).
    perm = [l for l in serial.splitlines() if 'permille=' in l]
    if perm:
        print('guest TSC view: %s' % perm[-1].split('permille=', 1)[1])
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(result, f, indent=1)
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Independent check that CFI alone reconstructs every chain of truth.json,
including the frames a frame-pointer walk loses (the caller of work_b) and
the step from the int $0x80 stub's trap frame into user mode.

Uses gdb (its DWARF CFI unwinder, .eh_frame of the kernel and the program)
through QEMU's gdbstub, no qtop-prof code.  gdb cannot hold two programs at
the same address, so it runs one pass per user program: kernel + that
program, checking the samples of the kernel-only tasks and of that program's
task.  SKIPs (77) when gdb is not installed.

    check_cfi.py --build BUILD --arch x86_64 --smp 2 [--stops 60]
"""
import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from guest import Guest, check_args  # noqa: E402

GDB_SCRIPT = r'''
import gdb, json, random, time
rnd = random.Random(%(seed)d)
out = []
gdb.execute('set pagination off')
gdb.execute('set confirm off')
gdb.execute('set backtrace past-main on')
gdb.execute('set backtrace past-entry on')
for i in range(%(stops)d):
    time.sleep(rnd.uniform(0.005, 0.04))
    gdb.execute('target remote %(addr)s', to_string=True)
    for th in gdb.selected_inferior().threads():
        th.switch()
        cpu = th.num - 1
        var = %(vars)r.get(str(cpu))
        try:
            task = gdb.parse_and_eval('%%s->%%s' %% (var[0], var[1])).string()
        except Exception as e:
            task = None
        frames = []
        f = gdb.newest_frame()
        while f is not None and len(frames) < 64:
            if f.pc() == 0:
                break
            frames.append(f.name() or hex(f.pc()))
            try:
                f = f.older()
            except gdb.error:
                frames.append('[unwind error]')
                break
        out.append({'cpu': cpu, 'task': task, 'frames': frames[::-1]})
    gdb.execute('detach', to_string=True)
json.dump(out, open(%(out)r, 'w'))
'''


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--stops', type=int, default=60, help='stops per pass')
    r = check_args(ap)
    if r is None:
        return 77
    a, truth, kernel = r
    if truth['pointer_size'] != 8:
        # qemu-system-x86_64's gdbstub always sends the 64-bit register set;
        # gdb refuses it for an ELF32 guest ("'g' packet reply is too long").
        print('SKIP: gdb cannot debug a 32-bit guest through qemu-system-x86_64')
        return 77
    if not shutil.which('gdb'):
        print('SKIP: gdb not installed')
        return 77
    cpus = [c['cpu'] for c in truth['cpus'] if c['smp_min'] <= a.smp]
    expected = collections.defaultdict(dict)
    for ch in truth['chains']:
        if ch['cpu'] in cpus:
            expected[ch['cpu']][ch['frames'][-1]['fn']] = (
                ch['task'], [f['fn'] for f in ch['frames']])
    vars_ = {str(truth['current_task']['cpu']): (truth['current_task']['symbol'],
                                                truth['current_task']['field'])}
    if 'current_task_ap' in truth:
        ct = truth['current_task_ap']
        vars_[str(ct['cpu'])] = (ct['symbol'], ct['field'])
    user_tasks = {t: v['program'] for t, v in truth['tasks'].items() if v['program']}

    seen = collections.Counter()
    good = collections.Counter()
    bad = collections.Counter()
    port = free_port()
    with Guest(a.build, arch=a.arch, smp=a.smp,
               extra_args=['-gdb', 'tcp:127.0.0.1:%d' % port]) as g, \
            tempfile.TemporaryDirectory(prefix='qtop-cfi-') as tmp:
        for n, (task_u, prog) in enumerate(sorted(user_tasks.items())):
            out = os.path.join(tmp, 'out-%s.json' % prog)
            script = os.path.join(tmp, 'pass-%s.py' % prog)
            with open(script, 'w') as f:
                f.write(GDB_SCRIPT % {'seed': n, 'stops': a.stops,
                                      'addr': '127.0.0.1:%d' % port,
                                      'vars': vars_, 'out': out})
            r = subprocess.run(
                ['gdb', '-nx', '-batch', '-ex', 'set auto-load no',
                 '-ex', 'file %s' % kernel,
                 '-ex', 'add-symbol-file %s' % os.path.join(a.build, truth['sysroot'], prog),
                 '-x', script], capture_output=True, text=True, timeout=300,
                env=dict(os.environ, DEBUGINFOD_URLS=''))
            if r.returncode != 0 or not os.path.exists(out):
                print('FAIL: gdb pass for %s: %s' % (prog, r.stderr[-800:]))
                return 1
            for s in json.load(open(out)):
                if not s['frames']:
                    continue
                leaf = s['frames'][-1]
                if leaf not in expected[s['cpu']]:
                    continue            # between leaves
                want_task, want = expected[s['cpu']][leaf]
                if want_task in user_tasks and want_task != task_u:
                    continue            # the other program's pass checks it
                if s['task'] in user_tasks and s['task'] != task_u:
                    continue
                key = (s['cpu'], leaf)
                seen[key] += 1
                if s['frames'] == want and s['task'] == want_task:
                    good[key] += 1
                else:
                    bad[key] += 1
                    if bad[key] <= 3:
                        print('  mismatch cpu%d task=%s: %s' % (
                            s['cpu'], s['task'], ' > '.join(s['frames'])))
    ok = True
    for cpu in cpus:
        for leaf, (task, want) in sorted(expected[cpu].items()):
            n, k = seen[(cpu, leaf)], good[(cpu, leaf)]
            fail = n < 2 or k < 0.9 * n
            ok &= not fail
            print('cpu%d %-13s %-7s %3d/%3d  %s%s' % (
                cpu, leaf, task, k, n, ' > '.join(want), '  <-- FAIL' if fail else ''))
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

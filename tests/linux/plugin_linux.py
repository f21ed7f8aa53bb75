#!/usr/bin/env python3
"""qtop-plugin.so on the Debian 6.1 Linux guest (QEMU 10.0 only, TCG).

    plugin_linux.py BUILD_DIR [SECONDS] [--report]

Boots the cached Debian kernel + busybox workload (tests/linux/linux_boot.py)
with 2 vCPUs and -plugin BUILD/plugin/qtop-plugin.so, runs
qtop-prof --batch --engine plugin --hz 1000 for SECONDS (default 10) and
checks:
  - qtop-prof exits 0 and says it used the plugin engine;
  - whole kernel chains >= 97 % of kernel samples (the outermost kernel
    frame is an entry point: syscall / interrupt / exception entry,
    ret_from_fork, the idle and boot roots; bench/bench_linux.py's
    classify()).  Why 97 %: measured 98.5-98.6 % with the task stack
    behind the IRQ stack copied (stack2), 93.3-94.3 % without it (timer
    interrupts on the IRQ stack end there: ~4 % of kernel samples); the
    rest (~1.4 %) are retpoline thunks and syscall_return_via_sysret,
    which the unwinder or this classification do not follow.  At 5,000-
    10,000 kernel samples the binomial sigma is <= 0.2 pp; 97 % sits ~7
    sigma below the measured value and ~3 pp above what a plugin that
    loses the task stack behind an interrupt gets: it fails when chains
    across the IRQ stack break again, not on noise;
  - kernel symbols are named (no bare addresses among the top kernel
    leaves; a handful of known kernel functions appear);
  - the guest still runs.
The sampling rate is printed, not asserted (no timed assertions).
--report prints the outermost frames of the chains that are not whole.
Exit 77 (skip) without QEMU 10.0 or without the Linux fixture.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench'))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import linux_fixture  # noqa: E402
import qemus  # noqa: E402
from linux_boot import LinuxGuest  # noqa: E402
from bench_linux import ENTRY_RE  # noqa: E402

SKIP = 77
BAR = 97.0
failures = []


def check(cond, msg):
    print(('ok   ' if cond else 'FAIL ') + msg, flush=True)
    if not cond:
        failures.append(msg)


def analyse(folded):
    kern = whole = user = 0
    roots = collections.Counter()
    cut = collections.Counter()
    leaves = collections.Counter()
    for line in open(folded):
        stack, n = line.rstrip('\n').rsplit(' ', 1)
        n = int(n)
        fr = stack.split(';')[1:]
        kf = [f[:-4] for f in fr if f.endswith('_[k]')]
        if not kf:
            user += n
            continue
        kern += n
        leaves[kf[-1]] += n
        if ENTRY_RE.match(kf[0]):
            whole += n
        else:
            roots[kf[0]] += n
            cut[';'.join(fr)] += n
    return kern, whole, user, roots, leaves, cut


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    report = '--report' in sys.argv
    build = os.path.abspath(args[0])
    secs = float(args[1]) if len(args) > 1 else 10.0
    try:
        q = qemus.resolve('10.0', 'qemu-system-x86_64')
    except Exception as ex:     # qemus.Unavailable
        print('SKIP: no QEMU 10.0 (%s)' % ex)
        return SKIP
    try:
        linux_fixture.ensure()
    except Exception as ex:
        print('SKIP: no Linux guest fixture (%s)' % ex)
        return SKIP
    qtop = os.path.join(build, 'src', 'qtop-prof')
    so = os.path.join(build, 'plugin', 'qtop-plugin.so')
    with LinuxGuest(smp=2, kaslr=True, qemu=q, extra_args=['-plugin', so]) as g, \
            tempfile.TemporaryDirectory() as d:
        sysroot = os.path.join(d, 'sysroot')
        os.mkdir(sysroot)
        os.symlink(g.paths['busybox'], os.path.join(sysroot, 'busybox'))
        out = os.path.join(d, 'plugin.folded')
        cmd = [qtop, '--qmp', g.qmp_path, '--kernel', g.paths['vmlinux'],
               '--symbols', g.paths['sysmap'], '--kernel-offset', 'auto',
               '--comm', 'linux', '--sysroot', sysroot, '--batch',
               '--engine', 'plugin', '--hz', '1000', '--duration', str(secs),
               '-o', out, '--top', '15']
        print('+', ' '.join(cmd), flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 240)
        print(p.stdout[-3000:] + p.stderr, flush=True)
        check(p.returncode == 0, 'qtop-prof --engine plugin exits 0')
        check('engine plugin' in p.stderr, 'stderr names the plugin engine')
        if p.returncode or not os.path.exists(out):
            return 1
        m = re.search(r'(\d+) samples in ([\d.]+) s', p.stderr)
        if m:
            print('rate: %.1f samples/s per vCPU (asked 1000; not asserted)'
                  % (int(m.group(1)) / float(m.group(2)) / g.smp), flush=True)
        kern, whole, user, roots, leaves, cut = analyse(out)
        share = 100.0 * whole / kern if kern else 0.0
        print('kernel samples %d, user-only %d, whole kernel chains %d (%.2f %%)'
              % (kern, user, whole, share), flush=True)
        if report or share < BAR:
            for fn, n in roots.most_common(15):
                print('   not whole, outermost %-40s %5d (%.2f %%)'
                      % (fn, n, 100.0 * n / kern), flush=True)
            for st, n in cut.most_common(12):
                print('   %5d  %s' % (n, st[-200:]), flush=True)
        check(kern >= 1000, 'at least 1000 kernel samples (%d)' % kern)
        check(share >= BAR, 'whole kernel chains %.2f %% >= %.0f %%' % (share, BAR))
        top = [fn for fn, _ in leaves.most_common(20)]
        bare = [fn for fn in top if re.match(r'^(0x)?[0-9a-f]{8,}$', fn)]
        check(not bare, 'top kernel leaves are named (%s)' % ', '.join(top[:8]))
        kfr = set(re.findall(r'([^;\s]+)_\[k\]', open(out).read()))
        known = [k for k in ('entry_SYSCALL_64', 'do_syscall_64', 'asm_sysvec_apic_timer_interrupt',
                             'ksys_read', 'ksys_write', 'schedule') if k in kfr]
        check(len(known) >= 3, 'known kernel functions appear: %s' % ', '.join(known))
        r = subprocess.run([qtop, '--qmp', g.qmp_path, '--batch', '--engine', 'plugin',
                            '--hz', '100', '--samples', '50'],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, 'the guest still runs (a second short profile works)')
    print('%d failure(s)' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

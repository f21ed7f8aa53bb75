#!/usr/bin/env python3
"""Linux guest tests against a real Debian 12 kernel under TCG (suite linux).

    test_linux.py TEST LINUX_PROBE LINUX_UNIT_TEST

TEST: tables | kaslr | nokaslr | orc | comm | e2e | slide.  Exit 77 (skip) when
the kernel cannot be fetched (no Debian archive, nothing cached); e2e also
skips while qtop-prof has no --comm linux (doc/linux-wiring.patch not
applied yet).  e2e takes QTOP_PROF_BIN (default: the build dir's
src/qtop-prof next to LINUX_PROBE).
"""
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench'))
import linux_fixture  # noqa: E402
from bench_linux import ENTRY_RE  # noqa: E402

SKIP = 77


def log(*a):
    print(*a, flush=True)


def fail(msg):
    log('FAIL: ' + msg)
    sys.exit(1)


def probe_live(probe, g, sysmap, rounds, slide='auto'):
    r = subprocess.run([probe, 'live', g.qmp_path, g.paths['vmlinux'],
                        sysmap, str(rounds), slide],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=150)
    lines = [json.loads(x) for x in r.stdout.decode().splitlines() if x]
    if r.returncode not in (0, 2):
        fail('linux_probe rc=%d: %s' % (r.returncode, r.stderr.decode()))
    return r.returncode, lines


def t_tables(probe, unit):
    p = linux_fixture.ensure()
    r = subprocess.run([unit, 'real', p['vmlinux'], p['sysmap']],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log(r.stdout.decode().strip())
    if r.returncode:
        fail('linux_unit_test real failed')
    r = subprocess.run([probe, 'info', p['vmlinux'], p['sysmap']],
                       stdout=subprocess.PIPE, check=True)
    info = json.loads(r.stdout)
    log(json.dumps(info))
    if info['current_task_off'] != info['current_task_sysmap']:
        fail('BTF current_task offset differs from System.map')
    if info['comm_size'] != 16:
        fail('task_struct.comm is not 16 bytes')


def boot(**kw):
    from linux_boot import LinuxGuest
    g = LinuxGuest(**kw)
    g.__enter__()
    log('booted %s in %.1f s (kaslr=%s, cpus=%d)' % (g.paths['abi'], g.boot_s,
                                                      g.kaslr, g.cpus))
    return g


def kaslr_line(lines):
    k = [x['kaslr'] for x in lines if 'kaslr' in x]
    if not k:
        fail('no kaslr line')
    return k[0]


def t_kaslr(probe, unit, kaslr=True):
    g = boot(smp=2, kaslr=kaslr)
    try:
        rc, lines = probe_live(probe, g, g.paths['sysmap'], 0)
        k = kaslr_line(lines)
        log('detected: %s' % json.dumps(k))
        if rc != 0 or k['rc'] != 0:
            fail('slide not detected: %s' % k)
        slide = int(k['slide'], 16)
        if not k['confirmed']:
            fail('slide not confirmed by linux_banner')
        if k['votes'] != k['decoded'] or k['decoded'] < 15:
            fail('IDT votes %d of %d' % (k['votes'], k['decoded']))
        # the kernel's own word for it: _text in /proc/kallsyms
        text = g.kernel_text()
        base = sysmap_addr(g.paths['sysmap'], '_text')
        if text is None:
            fail('the guest did not print _text from /proc/kallsyms')
        log('kernel says _text=0x%x: slide 0x%x' % (text, text - base))
        if slide != text - base:
            fail('slide 0x%x, the kernel says 0x%x' % (slide, text - base))
        # KASLR may keep the link address (1 slot in a few hundred); the
        # kernel's word above settles it, and nokaslr must give 0
        if kaslr and slide == 0:
            log('KASLR kept the link address on this boot')
        if not kaslr and slide != 0:
            fail('nokaslr boot but slide 0x%x' % slide)
        if slide % 0x200000:
            fail('slide not 2 MiB aligned')
        # the same kernel with a System.map shifted by 2 MiB: the IDT
        # votes agree on a wrong (aligned) slide; the banner check must
        # catch it
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, 'System.map.shifted')
            with open(g.paths['sysmap']) as fi, open(bad, 'w') as fo:
                for line in fi:
                    a, rest = line.split(' ', 1)
                    v = int(a, 16)
                    if v >= 0xffffffff80000000:
                        v = (v + 0x200000) & 0xffffffffffffffff
                    fo.write('%016x %s' % (v, rest))
            rc, lines = probe_live(probe, g, bad, 0)
            kb = kaslr_line(lines)
            log('shifted System.map: %s' % json.dumps(kb))
            if rc == 0 or kb['rc'] != -4:
                fail('a wrong slide was not detected: %s' % kb)
    finally:
        g.stop()


def sysmap_addr(path, name):
    with open(path) as f:
        for line in f:
            a, _, n = line.split()[:3]
            if n == name:
                return int(a, 16)
    fail('%s not in %s' % (name, path))


def kernel_samples(probe, g, rounds):
    rc, lines = probe_live(probe, g, g.paths['sysmap'], rounds)
    if rc:
        fail('probe: %s' % lines)
    return [x for x in lines if 'round' in x]


def t_orc(probe, unit):
    g = boot(smp=2, kaslr=True)
    try:
        samples = kernel_samples(probe, g, 60)
    finally:
        g.stop()
    ks = [s for s in samples if s['cpl'] == 0]
    log('%d samples, %d in kernel mode, 5-level paging: %s'
        % (len(samples), len(ks), bool(samples and samples[0]['la57'])))
    if len(ks) < 20:
        fail('too few kernel-mode samples')
    ok = syscall = irq_stack = 0
    warm = []
    us = []
    for s in ks:
        chain = s['chain']
        us.append(s['unwind_us'])
        warm.append(s['unwind_warm_us'])
        unknown = [f for f in chain if f == '?']
        if unknown:
            fail('unknown frames in %s' % chain)
        if s['end'] in ('user', 'kthread'):
            ok += 1
        # linux_kernel_walk_sample (one stack copy, as in a qp_sample)
        # agrees with the walk; with one copy it is the same walk
        # except at a retpoline thunk's entry, where the sample walk goes
        # on from the return address at sp (the ORC walk stops: objtool
        # gives the thunks an "empty" entry)
        thunk = chain == ['__x86_indirect_thunk_array'] or (
            len(chain) == 1 and chain[0].startswith('__x86_indirect_thunk_'))
        if not s['sample_same'] and not thunk:
            fail('walk_sample differs: %s' % s)
        if s['copies'] == 1 and not thunk and (
                s['sample_n'] != len(chain) or
                s['sample_user'] != (s['end'] == 'user')):
            fail('walk_sample differs: %s' % s)
        if thunk and s['sample_n'] < 2:
            fail('walk_sample did not go on past a thunk: %s' % s)
        if s['copies'] > 1:
            irq_stack += 1
        if s['end'] == 'user' and chain[-1].startswith('entry_SYSCALL_64'):
            syscall += 1
            if s['comm'] not in ('dd', 'sha256sum', 'sh', 'init'):
                fail('syscall chain of %r' % s['comm'])
            if len(chain) > 1 and 'do_syscall_64' not in chain:
                fail('no do_syscall_64 in %s' % chain)
            if not (0 < int(s['user_ip'], 16) < 0x800000000000):
                fail('user ip %s' % s['user_ip'])
        log('  %-10s %-7s %s' % (s['comm'], s['end'],
                                 ';'.join(reversed(chain))))
    us.sort()
    warm.sort()
    log('complete chains: %d/%d; ending in entry_SYSCALL_64: %d; '
        'IRQ stack crossed with a 2nd copy: %d; unwind median %.1f us '
        '(first), %.2f us (warm)'
        % (ok, len(ks), syscall, irq_stack, us[len(us) // 2],
           warm[len(warm) // 2]))
    if ok < 0.8 * len(ks):
        fail('fewer than 80%% of kernel chains complete')
    if syscall < 5:
        fail('fewer than 5 chains end in entry_SYSCALL_64')


def t_comm(probe, unit):
    build = os.path.dirname(os.path.dirname(os.path.dirname(probe)))
    qp = os.environ.get('QTOP_PROF_BIN', os.path.join(build, 'src', 'qtop-prof'))
    g = boot(smp=2, kaslr=True)
    try:
        samples = kernel_samples(probe, g, 40)
        comm_explicit(qp, g)
    finally:
        g.stop()
    seen, ids = {}, {}
    for s in samples:
        c = s['comm']
        if c is None:
            fail('comm not read: %s' % s)
        seen[c] = seen.get(c, 0) + 1
        if s['cpl'] == 3 and c not in ('dd', 'sha256sum', 'sh', 'init'):
            fail('user-mode sample of %r' % c)
        # --pid linux (#15): task_struct.pid, read with the name
        if s.get('pid') is None:
            fail('pid not read: %s' % s)
        ids.setdefault(c, set()).add(s['pid'])
    log('comm seen: %s' % json.dumps(seen))
    log('pids: %s' % json.dumps({c: sorted(v) for c, v in ids.items()}))
    if 'dd' not in seen or 'sha256sum' not in seen:
        fail('dd and sha256sum not both seen')
    # two tasks, two ids: dd and sha256sum never share one, user tasks
    # have ids > 0 (the idle tasks, swapper/N, are 0)
    if ids['dd'] & ids['sha256sum'] or min(ids['dd'] | ids['sha256sum']) <= 0:
        fail('dd and sha256sum ids not distinct and > 0: %s / %s'
             % (sorted(ids['dd']), sorted(ids['sha256sum'])))


# The explicit form of --comm linux on x86_64: per-CPU current_task through
# %gs (the kernel's GS base in kernel mode), its type from the vmlinux's BTF
# (the cloud kernel has no DWARF).
COMM_EXPR = '(*(struct task_struct **)((char *)&current_task + $gs_base))->comm'
# The same through __per_cpu_offset[$cpu] (a symbol without a BTF VAR:
# indexed through its address), valid in user mode too, as --comm linux.
COMM_EXPR_PCO = ('(*(struct task_struct **)((char *)&current_task + '
                 '(&__per_cpu_offset)[$cpu]))->comm')


def folded_run(qp, g, args, seconds=5):
    """qtop-prof --batch on g; returns (rc, stderr, [(frames, n)])."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'out.folded')
        r = subprocess.run([qp, '--qmp', g.qmp_path, '--kernel', g.paths['vmlinux'],
                            '--symbols', g.paths['sysmap']] + args +
                           ['--batch', '-d', str(seconds), '-o', out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        rows = []
        if r.returncode == 0:
            for line in open(out):
                stack, n = line.rstrip('\n').rsplit(' ', 1)
                rows.append((stack.split(';'), int(n)))
    return r.returncode, r.stderr.decode(), rows


def comm_explicit(qp, g):
    """--comm COMM_EXPR (and COMM_EXPR_PCO) against --comm linux on the
    same guest (--stop: paused rounds): a sample's name is its stack's name
    under the shorthand on >= 95 % of the samples whose stack both runs saw
    (kernel-mode samples for $gs_base, all for __per_cpu_offset); a wrong
    field is refused naming the struct and its fields."""
    runs = {}
    for name, comm in (('linux', 'linux'), ('expr', COMM_EXPR),
                       ('pco', COMM_EXPR_PCO)):
        rc, err, rows = folded_run(qp, g, ['--comm', comm, '--stop'])
        log(err.strip())
        if rc:
            fail('qtop-prof --comm %s: rc=%d' % (comm, rc))
        runs[name] = rows
    # stack (without the name) -> {name: samples} under the shorthand
    ref = {}
    for fr, n in runs['linux']:
        d = ref.setdefault(tuple(fr[1:]), {})
        d[fr[0]] = d.get(fr[0], 0) + n
    for run, kernel_only in (('expr', True), ('pco', False)):
        same = compared = total = 0
        names = {}
        for fr, n in runs[run]:
            if kernel_only and not fr[-1].endswith('_[k]'):
                continue
            total += n
            names[fr[0]] = names.get(fr[0], 0) + n
            d = ref.get(tuple(fr[1:]))
            if not d:
                continue
            compared += n
            if fr[0] == max(d, key=d.get):
                same += n
        log('--comm %s: %s samples %d, names %s; %d compared with --comm '
            'linux, %d the same (%.1f %%)' %
            (run, 'kernel-mode' if kernel_only else 'all', total,
             json.dumps(names), compared, same,
             100.0 * same / compared if compared else 0))
        if compared < 50:
            fail('%s: too few samples to compare (%d)' % (run, compared))
        if same < 0.95 * compared:
            fail('--comm %s: names differ from --comm linux on %.1f %% of samples'
                 % (run, 100.0 - 100.0 * same / compared))
        if 'dd' not in names or 'sha256sum' not in names:
            fail('--comm %s: dd / sha256sum not named' % run)
    bad = COMM_EXPR.replace('->comm', '->comx')
    rc, err, _ = folded_run(qp, g, ['--comm', bad], 1)
    log('->comx: ' + err.strip())
    if rc == 0 or "struct task_struct has no field 'comx'" not in err \
            or 'fields: ' not in err or 'stack' not in err:
        fail('->comx: no error naming struct task_struct and its fields')


def t_e2e(probe, unit):
    build = os.path.dirname(os.path.dirname(os.path.dirname(probe)))
    qp = os.environ.get('QTOP_PROF_BIN', os.path.join(build, 'src', 'qtop-prof'))
    h = subprocess.run([qp, '--help'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT).stdout.decode()
    if 'linux' not in h or 'auto' not in h:
        log('SKIP: %s has no --kernel-offset auto / --comm linux yet '
            '(doc/linux-wiring.patch)' % qp)
        sys.exit(SKIP)
    g = boot(smp=2, kaslr=True)
    res = {}
    whole, below = {}, {}
    try:
        with tempfile.TemporaryDirectory() as d:
            sysroot = os.path.join(d, 'sysroot')
            os.mkdir(sysroot)
            os.symlink(g.paths['busybox'], os.path.join(sysroot, 'busybox'))
            # The default mode (read running, chains vouched for and cut
            # where the two stack copies disagree) and --stop (paused
            # rounds: exact chains) on the same guest.
            for mode in ('default', '--stop'):
                out = os.path.join(d, 'out-%s.folded' % mode.strip('-'))
                pb = os.path.join(d, 'out-%s.pb.gz' % mode.strip('-'))
                r = subprocess.run([qp, '--qmp', g.qmp_path,
                                    '--kernel', g.paths['vmlinux'],
                                    '--symbols', g.paths['sysmap'],
                                    '--kernel-offset', 'auto', '--comm', 'linux',
                                    '--sysroot', sysroot, '--batch',
                                    '--duration', '5', '-o', out, '-o', pb] +
                                   ([] if mode == 'default' else [mode, '--pid', 'linux']),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=120)
                log(r.stderr.decode())
                if r.returncode:
                    fail('qtop-prof %s rc=%d' % (mode, r.returncode))
                procs, ksys, kern = {}, 0, 0
                whole[mode] = below[mode] = 0
                for line in open(out):
                    stack, n = line.rsplit(' ', 1)
                    fr = stack.split(';')
                    procs[fr[0]] = procs.get(fr[0], 0) + int(n)
                    if any(f.startswith('entry_SYSCALL_64') for f in fr):
                        ksys += int(n)
                    kf = [f[:-4] for f in fr if f.endswith('_[k]')]
                    if kf:
                        kern += int(n)
                        if ENTRY_RE.match(kf[0]):
                            whole[mode] += int(n)
                    if fr[-1] == '[callee unknown]':
                        below[mode] += int(n)
                        if not fr[-2].endswith('_[k]'):
                            fail('%s: [callee unknown] under %s, not a kernel '
                                 'frame' % (mode, fr[-2]))
                res[mode] = (procs, ksys, kern)
            # pprof: the kernel mapping carries the vmlinux's build-id
            go = shutil.which('go')
            bid = re.search(r'Build ID:\s*([0-9a-f]+)', subprocess.run(
                ['readelf', '-n', g.paths['vmlinux']], capture_output=True,
                text=True).stdout)
            if go and bid:
                raw = subprocess.run([go, 'tool', 'pprof', '-raw', pb],
                                     capture_output=True, text=True, timeout=120,
                                     env=dict(os.environ, HOME=d, GOTOOLCHAIN='local',
                                              GOFLAGS='')).stdout
                maps = raw[raw.find('Mappings'):]
                log('pprof mappings: ' + ' | '.join(maps.splitlines()[1:4]))
                if not re.search(r'kernel\s+%s' % bid.group(1), maps):
                    fail('pprof: the kernel mapping lacks the build-id %s' % bid.group(1))
            else:
                log('pprof build-id check skipped (go %s, build-id %s)' % (go, bool(bid)))
    finally:
        g.stop()
    for mode, (procs, ksys, kern) in res.items():
        log('%s: processes: %s; kernel samples %d, through entry_SYSCALL_64 %d'
            % (mode, json.dumps(procs), kern, ksys))
        names = {p.rpartition('/')[0] if mode == '--stop' and re.search(r'/\d+$', p) else p
                 for p in procs}
        if 'dd' not in names or 'sha256sum' not in names:
            fail('%s: dd / sha256sum not named' % mode)
    # --stop ran with --pid linux (#15): dd and sha256sum as NAME/PID,
    # no id shared by the two
    ids = {}
    for p in res['--stop'][0]:
        m = re.match(r'(dd|sha256sum)/(\d+)$', p)
        if m:
            ids.setdefault(m.group(1), set()).add(int(m.group(2)))
    log('--pid linux: ids %s' % {k: sorted(v) for k, v in ids.items()})
    if set(ids) != {'dd', 'sha256sum'} or ids['dd'] & ids['sha256sum'] or \
            'dd' in res['--stop'][0] or 'sha256sum' in res['--stop'][0]:
        fail('--pid linux: dd and sha256sum not named NAME/PID with distinct ids')
    # Paused rounds: most kernel samples of this syscall loop are whole.
    # Running reads: the guest moves on between the register read and the
    # stack copies; chains are cut rather than guessed, but a working ORC
    # walk still carries a share of them to the syscall entry (a broken
    # one: ~0 %).
    procs, ksys, kern = res['--stop']
    if ksys < 0.3 * kern:
        fail('--stop: few kernel stacks reach entry_SYSCALL_64')
    procs, ksys, kern = res['default']
    if ksys < 0.1 * kern:
        fail('default mode: few kernel stacks reach entry_SYSCALL_64')
    # Whole kernel chains (outermost kernel frame an entry point, as
    # bench_linux counts them), #14: measured 99.0-99.2 % in the default
    # mode (QEMU 7.2 and 10.0, 100 Hz and 1 kHz, ~1,000-10,000 kernel
    # samples), 99.6-99.9 % with --stop; 88-91 % before a stale rip's
    # chain was taken from the stack alone.  Those samples end in
    # "[callee unknown]" under the innermost function their stack proves
    # (measured ~10 % of kernel samples; never under --stop, whose rip is
    # exact).
    for mode in ('default', '--stop'):
        kern = res[mode][2]
        log('%s: whole kernel chains %d of %d (%.1f %%), [callee unknown] %d'
            % (mode, whole[mode], kern, 100.0 * whole[mode] / max(kern, 1), below[mode]))
        if kern < 200 or whole[mode] < 0.95 * kern:
            fail('%s: whole kernel chains below 95 %% (%d of %d)' % (mode, whole[mode], kern))
    if below['--stop']:
        fail('--stop: [callee unknown] in paused (exact) reads')
    if below['default'] > 0.3 * res['default'][2]:
        fail('default: [callee unknown] on over 30 %% of kernel samples (%d)' % below['default'])


def run_batch(qp, g, args, seconds=6):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'out.folded')
        r = subprocess.run([qp, '--qmp', g.qmp_path] + args +
                           ['--batch', '-d', str(seconds), '-o', out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        err = r.stderr.decode()
        log(err)
        if r.returncode:
            fail('qtop-prof rc=%d' % r.returncode)
        kern = {}
        for line in open(out):
            stack, n = line.rsplit(' ', 1)
            for f in stack.split(';'):
                if f.endswith('_[k]'):
                    kern[f[:-4]] = kern.get(f[:-4], 0) + int(n)
    return err, kern


def t_slide(probe, unit):
    """No --kernel-offset: the KASLR slide is found without being asked and
    the kernel frames have names; the wrong kernel ELF (the test guest's in
    place of the vmlinux): one clear warning on stderr."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(probe)))
    qp = os.environ.get('QTOP_PROF_BIN', os.path.join(build, 'src', 'qtop-prof'))
    wrong = os.path.join(build, 'tests', 'guest', 'x86_64', 'sysroot', 'kernel')
    warn = 'kernel-mode samples resolve to no kernel symbol'
    g = boot(smp=2, kaslr=True)
    try:
        err, kern = run_batch(qp, g, ['--kernel', g.paths['vmlinux'],
                                      '--symbols', g.paths['sysmap']])
        if 'kernel slide 0x' not in err or 'linux_banner matches' not in err:
            fail('slide not found without --kernel-offset')
        if warn in err:
            fail('unresolved-symbol warning with the right vmlinux')
        named = sum(n for f, n in kern.items() if not f.startswith('0x'))
        total = sum(kern.values())
        entry = sum(n for f, n in kern.items() if f.startswith('entry_SYSCALL_64'))
        log('kernel frames: %d of %d named; entry_SYSCALL_64* %d, '
            'do_syscall_64 %d' % (named, total, entry, kern.get('do_syscall_64', 0)))
        if not total or named < 0.9 * total:
            fail('kernel frames not symbolized')
        if not entry or not kern.get('do_syscall_64'):
            fail('no entry_SYSCALL_64 / do_syscall_64 frames')
        if not os.path.exists(wrong):
            log('SKIP wrong-vmlinux half: no %s' % wrong)
            return
        err, kern = run_batch(qp, g, ['--kernel', wrong,
                                      '--symbols', g.paths['sysmap']], 4)
        lines = [x for x in err.splitlines() if warn in x]
        if len(lines) != 1 or not lines[0].startswith('qtop-prof: warning: '):
            fail('wrong vmlinux: expected one warning line, got %r' % lines)
        if '--kernel-offset' not in lines[0] or 'not the running kernel' not in lines[0]:
            fail('warning does not name the causes: %s' % lines[0])
    finally:
        g.stop()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    test, probe = sys.argv[1], os.path.abspath(sys.argv[2])
    unit = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    # the QEMU build: $QTOP_QEMU (7.2 = the system's, or 10.0)
    sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
    import guest as guestlib
    if test != 'tables' and not guestlib.qemu_or_exit():
        return SKIP
    try:
        linux_fixture.ensure()
    except linux_fixture.Unavailable as e:
        log('SKIP: Debian kernel not available: %s' % e)
        return SKIP
    {'tables': t_tables, 'kaslr': t_kaslr,
     'nokaslr': lambda p, u: t_kaslr(p, u, kaslr=False),
     'orc': t_orc, 'comm': t_comm, 'e2e': t_e2e,
     'slide': t_slide}[test](probe, unit)
    log('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())

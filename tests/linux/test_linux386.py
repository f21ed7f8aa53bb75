#!/usr/bin/env python3
"""i386 Linux guest (issue 15): Debian 12's 686-pae kernel (no ORC, no BTF:
frame pointers; 3G/1G split, PAE paging), i386 busybox and one workload386
per vCPU (tests/linux/workload386.c: static, with CFI and symbols) under
qemu-system-i386 TCG, 2 vCPUs, KASLR on.  qtop-prof --batch --comm linux, in
--stop mode and in the default (running) mode:

  0. the KASLR slide is found from the IDT's 32-bit gates, every gate
     agreeing, and confirmed by linux_banner;
  1. names: --comm linux (task_struct.comm through __per_cpu_offset and
     current_task, the layout taken from init_task's bytes) gives the task
     the kernel itself says: a chain through pipe_read is sha256sum's, one
     through pipe_write or read_zero is dd's; >= 95 % of those in --stop
     mode and in the default mode (read running, the current_task word
     comes with the registers), the other task's name on <= 2 %;
  2. address spaces are matched to busybox and to workload386 (the page
     matcher's lines);
  3. kernel frames named (>= 95 %);
  4. syscall samples (a chain with a syscall-path function) whose kernel
     part reaches the entry (entry_SYSENTER_32, alias
     __begin_SYSENTER_singlestep_region, or entry_INT80_32) and crosses to
     the user pc: >= 90 % in --stop mode; >= 80 % in the default mode
     (a task that leaves its call while read is cut at the entry);
  5. '[truncated]' among busybox's chains that reached the entry is printed,
     not asserted: Debian's busybox-static is stripped and its own code has
     no CFI and no frame pointers (only its libc part has .eh_frame), so the
     user walk stops one or two frames past the vDSO landing pad and those
     chains are honestly cut;
  6. workload386's chains that reached the entry (names 1. leaves them
     out: its pipe is its own; one of the two runs as a static PIE, at the
     bias the page matcher finds, its chains judged alone too), in both
     modes: '[truncated]' on <= 5 %,
     whole through the vDSO to _start on >= 95 %, and whole chains whose
     user part made another system call (read, write, getppid) than the
     kernel part serves: none in --stop mode, <= 2 % in the default mode.

    test_linux386.py QTOP_PROF
Exit 77 when the i386 kernel cannot be fetched and nothing is cached, or
qemu-system-i386 is missing.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import linux_fixture  # noqa: E402

SKIP = 77
ENTRY = ('entry_SYSENTER_32', '__begin_SYSENTER_singlestep_region',
         'entry_INT80_32')
SYSPATH = re.compile(r'^(do_SYSENTER_32|do_fast_syscall_32|__do_fast_syscall_32|'
                     r'do_int80_syscall_32|ia32_sys_call|__ia32_sys_\w+|ksys_\w+|'
                     r'vfs_read|vfs_write|pipe_read|pipe_write|read_zero|'
                     r'syscall_exit_to_user_mode|syscall_enter_from_user_mode\w*)$')
IRQ = re.compile(r'^(handle_exception|asm_\w+|sysvec_\w+|call_on_stack|'
                 r'__do_softirq|irq_exit_rcu)$')
WORKLOAD = 'workload386'
WORKLOAD_PIE = 'workload386pie'   # the same source, a static PIE
failures = []


def log(*a):
    print(*a, flush=True)


def check(cond, msg):
    log(('ok   ' if cond else 'FAIL ') + msg)
    if not cond:
        failures.append(msg)


def parse(path):
    out = []
    for line in open(path):
        stack, n = line.rstrip('\n').rsplit(' ', 1)
        fr = stack.split(';')
        trunc = '[truncated]' in fr
        body = [f for f in fr[1:] if f != '[truncated]']
        kern = [f[:-4] for f in body if f.endswith('_[k]')]
        user = [f for f in body if not f.endswith('_[k]') and not f.startswith('[')]
        out.append({'proc': fr[0], 'n': int(n), 'trunc': trunc,
                    'kern': kern, 'user': user})
    return out


def is_workload(s):
    """workload386's chain: by its task name, or by its own functions
    (a chain named after its address space in the default mode)."""
    return s['proc'] in (WORKLOAD, WORKLOAD_PIE) or \
        any(f.startswith('wl_') for f in s['user'])


def measure(samples):
    m = {}
    # 1. names by what the kernel was doing (workload386's own pipe is not
    # dd's or sha256sum's)
    truth = right = wrong = 0
    for s in samples:
        if is_workload(s):
            continue
        k = set(s['kern'])
        want = 'sha256sum' if 'pipe_read' in k else \
            'dd' if ('pipe_write' in k or 'read_zero' in k) else None
        if want:
            truth += s['n']
            right += s['n'] if s['proc'] == want else 0
            # the other task's name (not an address space's fallback name)
            wrong += s['n'] if s['proc'] in ('dd', 'sha256sum') and s['proc'] != want else 0
    m['names'] = (right, truth)
    m['wrong'] = (wrong, truth)
    # 3. kernel frames named
    kf = [f for s in samples for f in s['kern'] for _ in range(s['n'])]
    m['named'] = (sum(1 for f in kf if not f.startswith('0x')), len(kf))
    # 4. syscall samples: whole kernel part + crossing to user
    sysc = [s for s in samples if s['kern'] and
            any(SYSPATH.match(f) for f in s['kern'])]
    whole = [s for s in sysc if s['kern'][0] in ENTRY and s['user']]
    m['whole'] = (sum(s['n'] for s in whole), sum(s['n'] for s in sysc))
    # the share of all kernel samples outside interrupts (chains cut to a
    # leaf cannot be told apart: counted as not whole)
    kall = [s for s in samples if s['kern'] and
            not any(IRQ.match(f) for f in s['kern'])]
    m['whole_all'] = (m['whole'][0], sum(s['n'] for s in kall))
    # 5. [truncated] among chains that reached the entry: busybox's (cut,
    # no CFI), workload386's (CFI: whole to _start)
    bb = [s for s in whole if not is_workload(s)]
    m['trunc'] = (sum(s['n'] for s in bb if s['trunc']), sum(s['n'] for s in bb))
    wl = [s for s in whole if is_workload(s)]
    m['wl_trunc'] = (sum(s['n'] for s in wl if s['trunc']), sum(s['n'] for s in wl))
    m['wl_start'] = (sum(s['n'] for s in wl if not s['trunc'] and
                         s['user'][0] == '_start'), m['wl_trunc'][1])
    # the PIE's own: symbolized at the bias the page matcher found
    pie = [s for s in wl if s['proc'] == WORKLOAD_PIE]
    m['pie_start'] = (sum(s['n'] for s in pie if not s['trunc'] and
                          s['user'][0] == '_start'), sum(s['n'] for s in pie))
    # a whole chain whose user part called another system call than its
    # kernel part serves: a user stack read after the task had moved on
    wrongcall = [s for s in wl if not s['trunc'] and
                 (('ksys_read' in s['kern'] and '__libc_write' in s['user']) or
                  ('ksys_write' in s['kern'] and '__libc_read' in s['user']) or
                  ('ksys_read' in s['kern'] or 'ksys_write' in s['kern']) and
                  '__getppid' in s['user'])]
    m['wl_wrongcall'] = (sum(s['n'] for s in wrongcall),
                         sum(s['n'] for s in wl if not s['trunc']))
    # sampled on the entry stub's first instruction (sysenter just done, no
    # pt_regs yet): not crossed to the user, so not counted above; shown
    m['wl_stub'] = sum(s['n'] for s in samples if is_workload(s) and
                       not s['user'] and len(s['kern']) == 1 and
                       s['kern'][0] in ENTRY)
    m['procs'] = {}
    for s in samples:
        m['procs'][s['proc']] = m['procs'].get(s['proc'], 0) + s['n']
    m['total'] = sum(s['n'] for s in samples)
    return m


def pct(a):
    return 100.0 * a[0] / max(a[1], 1)


def check_workload(mode, m):
    """workload386 has CFI from _start down: its chains that reached the
    kernel entry go whole through the vDSO to _start (issue 15's done-when:
    [truncated] on <= 5 % of them)."""
    check(m['wl_trunc'][1] >= 50 and pct(m['wl_trunc']) <= 5,
          '%s: workload386: [truncated] on %.1f %% of %d chains that reached '
          'the entry (<= 5 %%)' % (mode, pct(m['wl_trunc']), m['wl_trunc'][1]))
    check(m['wl_start'][1] >= 50 and pct(m['wl_start']) >= 95,
          '%s: workload386: whole to _start on %.1f %% of %d chains that '
          'reached the entry (>= 95 %%)' % (mode, pct(m['wl_start']),
                                            m['wl_start'][1]))
    log('%s: workload386: %d more samples on the entry stub itself, no user '
        'part (not counted, not asserted)' % (mode, m['wl_stub']))
    check(m['pie_start'][1] >= 20 and pct(m['pie_start']) >= 95,
          '%s: workload386pie (static PIE, ASLR): whole to _start on %.1f %% of '
          '%d chains that reached the entry (>= 95 %%)'
          % (mode, pct(m['pie_start']), m['pie_start'][1]))
    # read running, a user stack read late showed the next call's callers
    # on 8 % of them (before the trap frame check and the user stack read
    # with the registers); 0-0.7 % measured since
    bar = 0.0 if mode == '--stop' else 2.0
    check(pct(m['wl_wrongcall']) <= bar,
          '%s: workload386: whole chains whose user part made another system '
          'call than the kernel part serves: %.1f %% of %d (<= %.1f %%)'
          % (mode, pct(m['wl_wrongcall']), m['wl_wrongcall'][1], bar))


def main():
    qp = os.path.abspath(sys.argv[1])
    import guest as guestlib
    os.environ.pop('DEBUGINFOD_URLS', None)
    if not guestlib.qemu_or_exit('qemu-system-i386'):
        return SKIP
    try:
        paths = linux_fixture.ensure('i386')
    except linux_fixture.Unavailable as e:
        log('SKIP: Debian i386 kernel not available: %s' % e)
        return SKIP
    from linux_boot import LinuxGuest
    res = {}
    with LinuxGuest(smp=2, kaslr=True, arch='i386') as g, \
            tempfile.TemporaryDirectory() as d:
        log('booted %s in %.1f s (cpus=%d)' % (g.paths['abi'], g.boot_s, g.cpus))
        check(g.cpus == 2, 'guest sees 2 CPUs')
        sysroot = os.path.join(d, 'sysroot')
        os.mkdir(sysroot)
        os.symlink(paths['busybox'], os.path.join(sysroot, 'busybox'))
        os.symlink(paths['workload'], os.path.join(sysroot, WORKLOAD))
        os.symlink(paths['workload_pie'], os.path.join(sysroot, WORKLOAD_PIE))
        for mode in ('--stop', 'default'):
            out = os.path.join(d, 'out-%s.folded' % mode.strip('-'))
            cmd = [qp, '--qmp', g.qmp_path, '--kernel', paths['vmlinux'],
                   '--symbols', paths['sysmap'],
                   '--comm', 'linux', '--sysroot', sysroot, '--batch',
                   '-d', '8', '-o', out] + ([mode] if mode != 'default' else [])
            log('+ ' + ' '.join(cmd))
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120, text=True)
            log('\n'.join(l for l in r.stderr.splitlines()
                          if l.startswith('qtop-prof')))
            check(r.returncode == 0, '%s: qtop-prof rc %d' % (mode, r.returncode))
            sl = re.search(r'kernel slide (0x[0-9a-f]+) \((\d+) of (\d+) IDT gates, '
                           r'linux_banner matches\)', r.stderr)
            check(sl is not None and sl.group(2) == sl.group(3) and int(sl.group(2)) >= 10,
                  '%s: KASLR slide found, every IDT gate agreeing (%s)'
                  % (mode, sl.group(0) if sl else 'no slide line'))
            if r.returncode:
                continue
            if os.environ.get('QTOP_KEEP_FOLDED'):   # a folder to keep them in
                import shutil
                shutil.copy(out, os.environ['QTOP_KEEP_FOLDED'])
            res[mode] = m = measure(parse(out))
            log('%s: %d samples, processes %s' % (mode, m['total'], m['procs']))
            check(re.search(r'qtop-prof: as-[0-9a-f]+: busybox \(', r.stderr)
                  is not None, '%s: an address space matched to busybox' % mode)
            check(re.search(r'qtop-prof: as-[0-9a-f]+: workload386 \(', r.stderr)
                  is not None, '%s: an address space matched to workload386' % mode)
            check(re.search(r'qtop-prof: as-[0-9a-f]+: workload386pie ', r.stderr)
                  is not None, '%s: an address space matched to workload386pie' % mode)
    for mode in res:
        check_workload(mode, res[mode])
    if '--stop' in res:
        m = res['--stop']
        check(m['names'][1] >= 50 and pct(m['names']) >= 95,
              '--stop: right task name on %.1f %% of %d samples the kernel '
              'attributes (>= 95 %%)' % (pct(m['names']), m['names'][1]))
        check(pct(m['named']) >= 95, '--stop: kernel frames named %.1f %% of %d'
              % (pct(m['named']), m['named'][1]))
        check(m['whole'][1] >= 50 and pct(m['whole']) >= 90,
              '--stop: whole user->kernel chains on %.1f %% of %d syscall '
              'samples (>= 90 %%)' % (pct(m['whole']), m['whole'][1]))
        log('--stop: reaching the entry among all non-interrupt kernel samples '
            '%.1f %% of %d' % (pct(m['whole_all']), m['whole_all'][1]))
        log('--stop: [truncated] on %.1f %% of %d busybox chains that reached the '
            'entry (user part: busybox has no CFI past its libc)' % (pct(m['trunc']),
                                                                    m['trunc'][1]))
    if 'default' in res:
        m = res['default']
        # read running: the running-task word (current_task) comes in the
        # same read as the registers, so the name is that task's however
        # late it is read (99.2-100 % right measured; 72-88 % when the
        # word was read after the registers, the other task's name on up
        # to 20 %)
        check(m['names'][1] >= 50 and pct(m['names']) >= 95,
              'default: right task name on %.1f %% of %d samples (>= 95 %%)'
              % (pct(m['names']), m['names'][1]))
        check(pct(m['wrong']) <= 2,
              'default: the other task\'s name on %.1f %% of %d samples (<= 2 %%)'
              % (pct(m['wrong']), m['wrong'][1]))
        # a task that leaves its system call while it is read has its
        # chain cut at the entry, not joined to the next call's callers
        # (88.8-92.6 % whole measured; --stop 98.7-98.9 %)
        check(m['whole'][1] >= 50 and pct(m['whole']) >= 80,
              'default: whole user->kernel chains on %.1f %% of %d syscall '
              'samples (>= 80 %%)' % (pct(m['whole']), m['whole'][1]))
        log('default: [truncated] on %.1f %% of %d busybox chains that reached the '
            'entry' % (pct(m['trunc']), m['trunc'][1]))
    log('%d failure(s)' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

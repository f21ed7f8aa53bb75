#!/usr/bin/env python3
"""Each kernel file, and each program ELF of the --sysroot, is opened once
per run (the guest model, include/guest.h).

    kernel_opens.py QTOP_PROF debian   # the Debian 12 vmlinux + System.map
    kernel_opens.py QTOP_PROF KERNEL [SYSROOT]   # an ELF kernel (test guest)

Runs `qtop-prof --batch` against the fake QMP server of the fault tests
(tests/fault/fakeqmp_log.py, mode log: a running 1-vCPU x86_64 QEMU), so no
guest boots, under `strace -f -e trace=openat,open`, and checks that every
kernel file path (--kernel, --symbols) was opened successfully exactly once,
across everything that reads them: the Linux set-up (ORC, BTF, System.map,
linux_banner for KASLR), --comm, the symbolizer (bin, symbols, libdwfl and
its search for separate debug info) and the build-ids of the exports'
mappings.  (Not --json: its QEMU version query is a second QMP client,
which the fake server does not serve; the report's build-id is the same
guest_build_id.)  With a SYSROOT, every program ELF in it (the test
guest's alpha and beta: every ELF file there but the kernel) must be opened
exactly once too, by the guest model's scan, shared by the symbolizer and
progmatch (the page matcher); the file names are printed with their counts.

debian: two runs, --comm linux with --kernel-offset 0 (libdwfl's ET_DYN-like
report), and --comm *SYMBOL with a non-zero --kernel-offset (the slid
ET_EXEC module handed over in find_elf).  Exit 77 (skip) without strace or
when the Debian kernel cannot be fetched.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, '..', 'fault', 'fakeqmp_log.py')
SKIP = 77


def log(*a):
    print(*a, flush=True)


def sysroot_programs(sysroot, kernel):
    """The program ELFs of sysroot (4 levels deep, no dot files): every
    regular ELF file but the kernel."""
    progs = []
    kreal = os.path.realpath(kernel)
    for d, dirs, files in os.walk(sysroot):
        depth = os.path.relpath(d, sysroot).count(os.sep) + (d != sysroot)
        dirs[:] = [x for x in dirs if not x.startswith('.') and depth < 4]
        for f in sorted(files):
            p = os.path.join(d, f)
            if f.startswith('.') or not os.path.isfile(p) or \
                    os.path.realpath(p) == kreal:
                continue
            with open(p, 'rb') as fh:
                if fh.read(4) == b'\x7fELF':
                    progs.append(p)
    return progs


def run(qtop, kernel_files, args, tmp, name, what='kernel file'):
    sock = os.path.join(tmp, 'qmp.sock')
    if os.path.exists(sock):
        os.unlink(sock)
    fake = subprocess.Popen([sys.executable, FAKE, 'log', 'unix:' + sock,
                             os.path.join(tmp, 'commands.log')])
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            if fake.poll() is not None or time.monotonic() > end:
                raise SystemExit('FAIL: fake QMP server did not start')
            time.sleep(0.02)
        trace = os.path.join(tmp, name + '.strace')
        # a private engine choice: the plugin probe of --engine auto would
        # take the fake's one connection when another QEMU left a segment
        cmd = ['strace', '-f', '-qq', '-e', 'trace=openat,open', '-o', trace,
               qtop, '--qmp', sock, '--engine', 'qmp', '--batch',
               '--samples', '10', '-o', os.path.join(tmp, name + '.folded')] + args
        log('$', ' '.join(cmd))
        # LeakSanitizer cannot run under ptrace (an ASan build would exit
        # 1 at the end): leaks are the ASan run's other tests' business
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120, env=env)
        log(p.stderr.rstrip())
        if p.returncode != 0:
            raise SystemExit('FAIL: qtop-prof exit %d' % p.returncode)
    finally:
        fake.kill()
        fake.wait()
    opened = {f: 0 for f in kernel_files}
    pat = re.compile(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)".*\) = (-?\d+)')
    with open(trace) as f:
        for line in f:
            m = pat.search(line)
            if m and int(m.group(2)) >= 0:
                path = os.path.realpath(m.group(1))
                for k in kernel_files:
                    if path == os.path.realpath(k):
                        opened[k] += 1
    bad = False
    for k, n in opened.items():
        log('%s: opened %d time%s' % (k, n, '' if n == 1 else 's'))
        bad |= n != 1
    if bad:
        raise SystemExit('FAIL: every %s must be opened exactly once' % what)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    qtop, what = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not shutil.which('strace'):
        log('SKIP: no strace (scripts/setup.sh installs it)')
        return SKIP
    with tempfile.TemporaryDirectory(prefix='qtop-opens-') as tmp:
        if what == 'debian':
            sys.path.insert(0, HERE)
            import linux_fixture
            try:
                p = linux_fixture.ensure()
            except linux_fixture.Unavailable as e:
                log('SKIP: Debian kernel not available: %s' % e)
                return SKIP
            files = [p['vmlinux'], p['sysmap']]
            base = ['--kernel', p['vmlinux'], '--symbols', p['sysmap']]
            run(qtop, files, base + ['--comm', 'linux',
                                     '--kernel-offset', '0'], tmp, 'linux')
            run(qtop, files, base + ['--comm', '*current_task+0',
                                     '--kernel-offset', '0x1000000'], tmp,
                'slid')
        else:
            args = ['--kernel', what]
            files = [what]
            if len(sys.argv) > 3:
                args += ['--sysroot', sys.argv[3]]
                progs = sysroot_programs(sys.argv[3], what)
                if not progs:
                    raise SystemExit('FAIL: no program ELF in %s' % sys.argv[3])
                files += progs
            run(qtop, files, args + ['--comm', 'current_task->name'], tmp,
                'elf', 'kernel file and sysroot program')
    log('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""The ways qtop-prof reads guest memory, and what it says about each, on
the real test guest (x86_64, 2 vCPUs, TCG):

  remote    QMP over TCP (as for a QEMU on another host): QEMU's pid is
            unknown, so no direct reads; auto says so and reads through the
            monitor; the profile is still made and names the guest's code.
  ramfile   a shared RAM file (-object memory-backend-file,share=on):
            --mem file:PATH maps it read-only; direct reads, named as such.
  noperm    qtop-prof as another user (nobody) than QEMU's (root): reading
            QEMU's memory is refused (EPERM); the message names the fixes
            (start QEMU from qtop-prof, a RAM file, cap_sys_ptrace, Yama)
            and auto falls back to the monitor; --mem direct refuses to
            start instead of falling back.

    mem_paths.py BUILD_DIR CASE
"""
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from guest import Guest, load_truth, qemu_or_exit  # noqa: E402

failures = []


def check(cond, msg):
    print(('ok   ' if cond else 'FAIL ') + msg, flush=True)
    if not cond:
        failures.append(msg)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def profile_ok(folded, what):
    """The profile names the guest's own code (its hot leaves)."""
    if not os.path.exists(folded):
        check(False, '%s: no folded file' % what)
        return
    text = open(folded).read()
    n = sum(int(l.rsplit(' ', 1)[1]) for l in text.splitlines() if l.strip())
    check(n >= 20, '%s: %d samples' % (what, n))
    hot = [f for f in ('a_inner', 'b_inner', 'k_spin_inner', 'rec_leaf', 'ap_x', 'ap_y',
                       'alpha_hot', 'beta_hot') if ';%s_[k] ' % f in text or ';%s ' % f in text]
    check(len(hot) >= 3, "%s: the guest's hot functions are named (%s)" % (what, ', '.join(hot)))


def run(cmd, user=None, timeout=60):
    if user:
        pw = pwd.getpwnam(user)
        cmd = ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid,
               '--clear-groups'] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def qtop_args(build, g, qmp, folded, extra=()):
    return [os.path.join(build, 'src', 'qtop-prof'), '--qmp', qmp, '--kernel', g.kernel,
            '--sysroot', g.sysroot, '--batch', '--duration', '3', '--hz', '100',
            '-o', folded] + list(extra)


def case_remote(build, tmp):
    port = free_port()
    with Guest(build, arch='x86_64', smp=2,
               extra_args=['-qmp', 'tcp:127.0.0.1:%d,server=on,wait=off' % port]) as g:
        folded = os.path.join(tmp, 'remote.folded')
        p = run(qtop_args(build, g, 'tcp:127.0.0.1:%d' % port, folded))
        print(p.stderr[-1500:])
        check(p.returncode == 0, 'remote: qtop-prof exits 0 (%d)' % p.returncode)
        m = re.search(r'guest memory: .*', p.stderr)
        check(m and 'through the monitor' in m.group(0) and 'not the local peer' in m.group(0),
              'remote: auto reads through the monitor and says why: %s'
              % (m.group(0) if m else '-'))
        profile_ok(folded, 'remote')
        # asked for direct reads: a clear refusal, not a silent fallback
        p = run(qtop_args(build, g, 'tcp:127.0.0.1:%d' % port,
                          os.path.join(tmp, 'remote2.folded'), ['--mem', 'direct']))
        check(p.returncode != 0 and 'pid is unknown' in p.stderr,
              'remote: --mem direct refuses with the reason (%d: %s)'
              % (p.returncode, p.stderr.strip().splitlines()[-1:] or ''))


def case_ramfile(build, tmp):
    ram = os.path.join(tmp, 'guest-ram')
    with Guest(build, arch='x86_64', smp=2,
               extra_args=['-object', 'memory-backend-file,id=ram0,size=128M,mem-path=%s,share=on' % ram,
                           '-machine', 'memory-backend=ram0']) as g:
        folded = os.path.join(tmp, 'ramfile.folded')
        size0 = os.path.getsize(ram)
        with open(ram, 'rb') as f:
            head0 = f.read(4096)
        p = run(qtop_args(build, g, g.qmp_path, folded, ['--mem', 'file:' + ram]))
        print(p.stderr[-1500:])
        check(p.returncode == 0, 'ramfile: qtop-prof exits 0 (%d)' % p.returncode)
        m = re.search(r'guest memory: .*', p.stderr)
        check(m and "QEMU's RAM file" in m.group(0),
              'ramfile: direct reads from the RAM file: %s' % (m.group(0) if m else '-'))
        profile_ok(folded, 'ramfile')
        check(os.path.getsize(ram) == size0, 'ramfile: the RAM file keeps its size')
        # a file that is not this guest's RAM: refused, with the reason
        bogus = os.path.join(tmp, 'not-ram')
        with open(bogus, 'wb') as f:
            f.truncate(128 << 20)
        p = run(qtop_args(build, g, g.qmp_path, os.path.join(tmp, 'bogus.folded'),
                          ['--mem', 'file:' + bogus]))
        check(p.returncode != 0 and 'not-ram' in p.stderr,
              'ramfile: a file that is not the guest RAM is refused (%d: %s)'
              % (p.returncode, (p.stderr.strip().splitlines() or [''])[-1]))
        del head0


def case_noperm(build, tmp):
    if os.geteuid() != 0 or not shutil.which('setpriv'):
        print('SKIP: needs root and setpriv (util-linux) to run qtop-prof as another user')
        return 77
    try:
        pwd.getpwnam('nobody')
    except KeyError:
        print('SKIP: no user nobody')
        return 77
    os.chmod(tmp, 0o777)
    with Guest(build, arch='x86_64', smp=2, workdir=os.path.join(tmp, 'g')) as g:
        os.chmod(g.dir, 0o755)
        os.chmod(g.qmp_path, 0o777)
        # the program, the guest ELFs: readable by nobody along their path?
        probe = run(['test', '-x', os.path.join(build, 'src', 'qtop-prof'), '-a', '-r', g.kernel],
                    user='nobody')
        if probe.returncode != 0:
            print('SKIP: the build directory is not readable by nobody')
            return 77
        folded = os.path.join(tmp, 'noperm.folded')
        p = run(qtop_args(build, g, g.qmp_path, folded), user='nobody')
        print(p.stderr[-1500:])
        check(p.returncode == 0, 'noperm: qtop-prof exits 0 (%d)' % p.returncode)
        m = re.search(r'guest memory: .*', p.stderr)
        line = m.group(0) if m else ''
        check('through the monitor' in line and 'not allowed to read' in line,
              'noperm: auto falls back to the monitor and says why: %s' % line)
        check(all(w in line for w in ('qtop-prof', '--mem file:', 'cap_sys_ptrace', 'ptrace_scope')),
              'noperm: the message names the ways to get direct reads')
        profile_ok(folded, 'noperm')
        p = run(qtop_args(build, g, g.qmp_path, os.path.join(tmp, 'noperm2.folded'),
                          ['--mem', 'direct']), user='nobody')
        check(p.returncode != 0 and 'not allowed to read' in p.stderr,
              'noperm: --mem direct refuses to start (%d)' % p.returncode)
    return 0


def main():
    build, case = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not qemu_or_exit(load_truth('x86_64').get('qemu', 'qemu-system-x86_64')):
        return 77
    tmp = tempfile.mkdtemp(prefix='qtop-mem-')
    try:
        rc = {'remote': case_remote, 'ramfile': case_ramfile,
              'noperm': case_noperm}[case](build, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc == 77:
        return 77
    if failures:
        print('%d checks failed' % len(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

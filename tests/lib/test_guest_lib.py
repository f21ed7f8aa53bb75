#!/usr/bin/env python3
"""The guest helpers never leave a QEMU behind and hand out a working QMP
socket: scripts/guest.sh start/stop, and tests/lib/guest.py on normal exit,
on an exception, on SIGTERM and on SIGKILL of the test.

    test_guest_lib.py --build BUILD [--arch x86_64]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from guest import Guest, load_truth  # noqa: E402
from qmp import QMP  # noqa: E402


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def wait_gone(pid, secs=10):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def check(cond, what):
    print('%s: %s' % ('ok' if cond else 'FAIL', what))
    return bool(cond)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--arch', default='x86_64')
    a = ap.parse_args()
    truth = load_truth(a.arch)
    if not os.path.exists(os.path.join(a.build, truth['kernel'])):
        print('SKIP: guest kernel not built')
        return 77
    if not shutil.which(truth.get('qemu', 'qemu-system-x86_64')):
        print('SKIP: %s not installed' % truth.get('qemu'))
        return 77
    ok = True

    # 1. guest.sh: start prints a live QMP socket, stop kills exactly that pid
    with tempfile.TemporaryDirectory(prefix='qtop-gsh-') as d:
        env = dict(os.environ, QTOP_BUILD=os.path.abspath(a.build))
        r = subprocess.run([os.path.join(ROOT, 'scripts', 'guest.sh'), 'start',
                            a.arch, '--smp', '2', '--dir', d],
                           env=env, capture_output=True, text=True, timeout=120)
        ok &= check(r.returncode == 0, 'guest.sh start exits 0 (%s)' % r.stderr.strip())
        if r.returncode == 0:
            pid = int(open(os.path.join(d, 'qemu.pid')).read())
            qmp_path = r.stdout.strip()
            with QMP(qmp_path) as q:
                st = q.execute('query-status')
                ok &= check(st.get('status') == 'running', 'guest.sh guest is running')
                regs1 = q.hmp('info registers', cpu=1)
                ok &= check('RIP=' in regs1, 'vCPU 1 exists with --smp 2')
            ok &= check('cpus=2' in open(os.path.join(d, 'serial.log')).read(),
                        'serial log reports cpus=2')
            r = subprocess.run([os.path.join(ROOT, 'scripts', 'guest.sh'), 'stop', d],
                               capture_output=True, text=True, timeout=30)
            ok &= check(r.returncode == 0 and wait_gone(pid), 'guest.sh stop kills pid %d' % pid)

    # 2. Guest context manager: normal exit and exception
    with Guest(a.build, arch=a.arch) as g:
        pid = g.pid
        with QMP(g.qmp_path) as q:
            ok &= check(q.execute('query-status')['running'], 'Guest() boots a running guest')
        workdir = g.dir
    ok &= check(wait_gone(pid), 'Guest() kills QEMU on normal exit')
    ok &= check(not os.path.exists(workdir), 'Guest() removes its temp dir')
    try:
        with Guest(a.build, arch=a.arch) as g:
            pid = g.pid
            raise RuntimeError('boom')
    except RuntimeError:
        pass
    ok &= check(wait_gone(pid), 'Guest() kills QEMU when the test raises')

    # 3. SIGTERM to a test process inside "with Guest(...)"
    child = subprocess.Popen([sys.executable, '-c', '''
import sys, time
sys.path.insert(0, %r)
from guest import Guest
with Guest(%r, arch=%r) as g:
    print(g.pid, flush=True)
    time.sleep(120)
''' % (HERE, os.path.abspath(a.build), a.arch)], stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    ok &= check(line.isdigit(), 'child test booted a guest')
    if line.isdigit():
        pid = int(line)
        child.send_signal(signal.SIGTERM)
        child.wait(30)
        ok &= check(wait_gone(pid), 'Guest() kills QEMU when the test gets SIGTERM')
    else:
        child.kill()
        child.wait()

    # 4. SIGKILL (no handler runs): QEMU still dies with its parent.  The
    # child cannot clean up, so its work dir is ours.
    kill_dir = tempfile.TemporaryDirectory(prefix='qtop-gkill-')
    child = subprocess.Popen([sys.executable, '-c', '''
import sys, time
sys.path.insert(0, %r)
from guest import Guest
with Guest(%r, arch=%r, workdir=%r) as g:
    print(g.pid, flush=True)
    time.sleep(120)
''' % (HERE, os.path.abspath(a.build), a.arch, kill_dir.name)],
        stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    if line.isdigit():
        pid = int(line)
        child.kill()
        child.wait(30)
        ok &= check(wait_gone(pid), 'QEMU dies when the test is SIGKILLed')
    else:
        ok &= check(False, 'child test booted a guest')
        child.kill()
        child.wait()
    kill_dir.cleanup()
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""qtop-prof --launch on the real Linux guest: boot profiling from the reset.

    linux_launch.py QTOP_PROF          ($QTOP_QEMU: 7.2 or 10.0)

Boots the Debian 12 cloud kernel + busybox initramfs of linux_fixture.py
(the QEMU command line of LinuxGuest.qemu_argv(), 2 vCPUs, TCG, nokaslr:
before the kernel runs there is no slide to find, so the vmlinux addresses
must hold from the reset on) under

    qtop-prof --launch --batch --kernel VMLINUX --symbols SYSTEM.MAP
        --comm linux --mark running='workload running'
        --until 'workload running' --json REPORT -o FOLDED -- QEMU ...

and checks what a user would see:
  - the first sample is taken before `cont`, at the reset vector
    (0xfffffff0) or in the firmware (below 1 MiB);
  - start_kernel is in the profile with chains: samples with its callees
    below it (>= 2 kernel frames from start_kernel to the leaf), and at
    most 20 % of its chains marked [truncated];
  - the `running` marker is within 50 ms of when this test reads the echoed
    serial line (both CLOCK_MONOTONIC: the marker as meta.t0_monotonic_ns +
    t, the line as time.monotonic() when its newline arrives on qtop-prof's
    stderr; as in tests/integration/boot_guest.py case_launch), --until ended
    the run there (exit 0 soon after, boot.reset_to.running set, no sample
    after it), no warning about unresolved kernel symbols;
  - the JSON report validates against doc/report.schema.json;
  - no QEMU process and no qtop-launch-* directory is left behind.
Exit 77 (skip) when the kernel cannot be fetched or the QEMU is missing.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest as guestlib  # noqa: E402
import linux_fixture  # noqa: E402
from linux_boot import LinuxGuest  # noqa: E402

SKIP = 77
MARK = 'qtop-linux: workload running'
failures = []


def check(cond, msg):
    print(('ok   ' if cond else 'FAIL ') + msg, flush=True)
    if not cond:
        failures.append(msg)


class Run:
    """qtop-prof in the background; its stderr lines timestamped."""

    def __init__(self, cmd, env):
        print('+ ' + ' '.join(cmd), flush=True)
        self.lines = []           # (time.monotonic(), line)
        self.t_start = time.monotonic()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, preexec_fn=guestlib._die_with_parent)
        self.out = b''
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()
        self.to = threading.Thread(target=self._readout, daemon=True)
        self.to.start()

    def _read(self):
        buf = b''
        while True:
            b = os.read(self.p.stderr.fileno(), 4096)
            now = time.monotonic()
            if not b:
                break
            buf += b
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                self.lines.append((now, line.decode('utf-8', 'replace')))

    def _readout(self):
        self.out = self.p.stdout.read()

    def line(self, pat):
        for t, l in list(self.lines):
            if re.search(pat, l):
                return t, l
        return None, None

    def finish(self, timeout):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            print('qtop-prof still running after %.0f s: SIGINT' % timeout, flush=True)
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.t_end = time.monotonic()
        self.th.join(5)
        self.to.join(5)
        self.stderr = '\n'.join(l for _, l in self.lines)
        print('\n'.join(l for _, l in self.lines if l.startswith('qtop-prof:')), flush=True)
        print(self.out.decode(errors='replace')[:2500], flush=True)
        return self.p.returncode

    def qemu_pid(self):
        for _, l in self.lines:
            m = re.search(r'launched .* \(pid (\d+)\), paused, QMP (\S+)', l)
            if m:
                return int(m.group(1)), os.path.dirname(m.group(2))
        return None, None


def gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] == 'Z'
    except OSError:
        return True


def check_clean(r, tmp):
    pid, d = r.qemu_pid()
    check(pid is not None, 'QEMU was launched')
    if pid:
        for _ in range(50):
            if gone(pid):
                break
            time.sleep(0.1)
        check(gone(pid), 'QEMU pid %d is gone' % pid)
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    check(d is not None and not os.path.exists(d), 'socket directory removed')
    left = [x for x in os.listdir(tmp) if x.startswith('qtop-launch-')]
    check(left == [], 'no qtop-launch-* directory left (%s)' % left)


def run(qp, qemu, tmp):
    g = LinuxGuest(smp=2, kaslr=False, qemu=qemu)
    p = g.paths
    js = os.path.join(tmp, 'boot.json')
    folded = os.path.join(tmp, 'boot.folded')
    cmd = [qp, '--launch', '--batch', '-d', '90',
           '--kernel', p['vmlinux'], '--symbols', p['sysmap'], '--comm', 'linux',
           '--mark', 'running=workload running', '--until', 'workload running',
           '--json', js, '-o', folded, '--top', '12', '--'] + g.qemu_argv()
    env = dict(qemu.env, TMPDIR=tmp)
    env.pop('DEBUGINFOD_URLS', None)
    r = Run(cmd, env)
    rc = r.finish(120)
    el = r.t_end - r.t_start
    t_seen, _ = r.line(re.escape(MARK))
    check(rc == 0, 'qtop-prof --launch --batch exits 0 (%s) after %.1f s' % (rc, el))
    check_clean(r, tmp)
    check(t_seen is not None, 'the serial line "%s" was echoed on stderr' % MARK)
    check('--until reached' in r.stderr, 'stderr says --until was reached')
    if t_seen is not None:
        check(r.t_end - t_seen < 10, '--until ended the run: qtop-prof exited %.2f s after '
              'the line (of -d 90)' % (r.t_end - t_seen))
    check('resolve to no kernel symbol' not in r.stderr and
          'have no symbol' not in r.stderr, 'no warning about unresolved kernel symbols')
    if rc != 0 or not os.path.exists(js):
        return
    rep = json.load(open(js))
    try:
        import jsonschema
        schema = json.load(open(os.path.join(SRC, 'doc', 'report.schema.json')))
        try:
            jsonschema.validate(rep, schema)
            check(True, 'the JSON report validates against doc/report.schema.json')
        except jsonschema.ValidationError as e:
            check(False, 'schema: %s' % e.message)
    except ImportError:
        print('SKIP schema check: python3-jsonschema not installed (scripts/setup.sh)')
    m = rep['meta']
    check(m['boot'] is True and m['accelerator'] == 'tcg' and m['vcpus'] == 2
          and m['qemu_version'], 'meta: boot, tcg, 2 vCPUs, QEMU %s' % m['qemu_version'])
    F = rep['frames']

    def chain(s):
        return [F[i] for i in s['stack']]

    s0 = rep['samples'][0]
    leaf0 = chain(s0)[-1]
    a0 = int(leaf0.get('addr') or '0x0', 16)
    check(s0['t'] <= 0 and (leaf0['name'] == '[reset vector]' and a0 == 0xfffffff0
                            or leaf0.get('module') == 'firmware' or 0 < a0 < 1 << 20),
          'first sample before cont, at the reset vector or in the firmware: '
          't=%.6f %s %s (%s)' % (s0['t'], leaf0['name'], leaf0.get('addr'), leaf0.get('module')))
    # start_kernel with its callees below it
    sk, deep, ex = 0, 0, None
    for s in rep['samples']:
        names = [f['name'] for f in chain(s)]
        if 'start_kernel' in names:
            sk += 1
            below = names[names.index('start_kernel'):]
            if len(below) >= 2 and all(f.get('kind') == 'kernel'
                                       for f in chain(s)[-len(below):]):
                deep += 1
                if ex is None or len(below) > len(ex):
                    ex = below
    check(sk > 0, 'start_kernel in %d samples' % sk)
    check(deep >= 3, 'start_kernel with callees below it in %d samples (>= 3), e.g. %s'
          % (deep, ' > '.join(ex) if ex else '-'))
    fl = [l for l in open(folded) if ';start_kernel_[k];' in l]
    check(fl, 'the folded file has start_kernel chains (%d lines)' % len(fl))
    # and they are whole: the walk gets past start_kernel to the boot
    # entry (secondary_startup_64 pushes a return address for unwinders
    # and far-returns into start_kernel).  Measured 100 % of 135 in a
    # replay; running reads (QMP engine) may cut a few: 80 % is the bar.
    n_sk = sum(int(l.rsplit(' ', 1)[1]) for l in fl)
    n_cut = sum(int(l.rsplit(' ', 1)[1]) for l in fl if '[truncated]' in l)
    check(n_sk and n_cut <= 0.2 * n_sk, 'start_kernel chains whole: %d of %d samples cut '
          '(<= 20 %%)' % (n_cut, n_sk))
    mk = {x['name']: x['t'] for x in rep['markers']}
    check('running' in mk and 'until' in mk, 'markers reached: %s' % mk)
    check(rep.get('boot', {}).get('reset_to', {}).get('running') == mk.get('running'),
          "the report's boot.reset_to.running is set (%s)" % rep.get('boot'))
    d = None
    if 'running' in mk and t_seen:
        t_mark = m['t0_monotonic_ns'] / 1e9 + mk['running']
        d = (t_seen - t_mark) * 1000
        print("marker 'running' at %.3f s after the reset; the test read the echoed line "
              "%.1f ms after the marker's time" % (mk['running'], d))
        check(abs(d) <= 50, 'marker within 50 ms of the echoed line (%.1f ms)' % d)
    if 'until' in mk:
        last = max(s['t'] for s in rep['samples'])
        check(last <= mk['until'] + 0.05, 'no sample after the --until marker '
              '(last %.3f s, marker %.3f s)' % (last, mk['until']))
    print('MEASURED qemu %s: first sample %s %s t=%.6f; start_kernel %d samples, %d with '
          'callees; marker delta %s ms; running %.3f s after the reset; runtime %.1f s'
          % (m['qemu_version'], leaf0['name'], leaf0.get('addr'), s0['t'], sk, deep,
             '%.1f' % d if d is not None else '-', mk.get('running', -1), el), flush=True)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    qp = os.path.abspath(sys.argv[1])
    qemu = guestlib.qemu_or_exit()
    if not qemu:
        return SKIP
    try:
        linux_fixture.ensure()
    except linux_fixture.Unavailable as e:
        print('SKIP: Debian kernel not available: %s' % e)
        return SKIP
    with tempfile.TemporaryDirectory(prefix='qtop-linux-launch-') as tmp:
        run(qp, qemu, tmp)
    print('%d failure(s)' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

"""Boot the test guest for a test (stdlib only).

    from guest import Guest
    with Guest(build_dir, arch='x86_64', smp=1) as g:
        g.qmp_path      # QMP unix socket (server=on, wait=off)
        g.truth         # truth.json section of this arch
        g.kernel, g.sysroot, g.serial_log, g.pid, g.cpus
        g.qemu          # the QEMU build (qemus.Qemu), g.qemu_version

The QEMU build: Guest(..., qemu='10.0'), else $QTOP_QEMU, else the system's
7.2 (tests/lib/qemus.py).  After boot the version QEMU reports over QMP
(query-version) is printed: every test log says which QEMU it ran.

Boots once under TCG, waits for "qtop-guest: workload running cpus=N", and
always kills that QEMU (its pid only) on exit: normal exit, exceptions,
SIGTERM (turned into SystemExit while the guest is up), interpreter exit, and
(PR_SET_PDEATHSIG) even when the test process is SIGKILLed.
"""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import qemus
from qmp import QMP

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH_PATH = os.path.join(HERE, '..', 'guest', 'truth.json')
RUNNING_RE = re.compile(rb'qtop-guest: workload running cpus=(\d+)')


def load_truth(arch=None):
    with open(TRUTH_PATH) as f:
        t = json.load(f)
    return t['arches'][arch] if arch else t


def check_args(ap):
    """The guest checks' common start: --build/--arch/--smp plus ap's own
    options parsed; returns (args, truth of the arch, kernel path), or None
    after printing why the check is skipped (kernel not built, QEMU not
    installed: exit 77).  A QEMU asked for ($QTOP_QEMU) that must be there
    but is not exits 1 here."""
    ap.add_argument('--build', required=True)
    ap.add_argument('--arch', default='x86_64')
    ap.add_argument('--smp', type=int, default=1)
    a = ap.parse_args()
    truth = load_truth(a.arch)
    kernel = os.path.join(a.build, truth['kernel'])
    if not os.path.exists(kernel):
        print('SKIP: %s not built' % kernel)
        return None
    if not qemu_or_exit(truth.get('qemu', 'qemu-system-x86_64')):
        return None
    return a, truth, kernel


def qemu_or_exit(binary='qemu-system-x86_64', version=None):
    """The QEMU build a test asked for ($QTOP_QEMU), or None after printing
    SKIP (the caller exits 77); exits 1 itself when it must be there (QEMU
    10.0 without QTOP_NO_QEMU10=1)."""
    try:
        return qemus.resolve(version, binary)
    except qemus.Unavailable as e:
        if e.skip:
            print('SKIP: %s' % e, flush=True)
            return None
        print('FAIL: %s' % e, flush=True)
        raise SystemExit(1)


def _die_with_parent():
    """In the QEMU child: get SIGKILL when the test process dies, even by
    SIGKILL (which no handler sees)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class GuestError(Exception):
    pass


class Guest:
    def __init__(self, build_dir, arch='x86_64', smp=1, boot_timeout=60.0,
                 extra_args=(), workdir=None, keep=None, qemu=None,
                 qemu_argv=None, env=None):
        self.build_dir = os.path.abspath(build_dir)
        self.arch = arch
        self.smp = int(smp)
        self.boot_timeout = boot_timeout
        self.extra_args = list(extra_args)
        # Another QEMU build (e.g. 10.0 for the plugin): its program and
        # data-dir options in place of truth.json's binary, and its env.
        self.qemu_argv = list(qemu_argv) if qemu_argv else None
        self.given_argv = self.qemu_argv
        self.env = env
        self.truth_all = load_truth()
        if arch not in self.truth_all['arches']:
            raise GuestError('truth.json has no arch %r' % arch)
        self.truth = self.truth_all['arches'][arch]
        self.kernel = os.path.join(self.build_dir, self.truth['kernel'])
        self.sysroot = os.path.join(self.build_dir, self.truth['sysroot'])
        self.qemu = qemu if isinstance(qemu, qemus.Qemu) else qemus.resolve(
            qemu, self.truth.get('qemu', 'qemu-system-x86_64'))
        self.qemu_version = None
        self._own_dir = workdir is None
        self.dir = workdir
        self.keep = keep if keep is not None else bool(os.environ.get('QTOP_KEEP_GUEST_DIR'))
        self.proc = None
        self.pid = None
        self.cpus = None
        self._old_sigterm = None

    # -- lifecycle --
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if not os.path.exists(self.kernel):
            raise GuestError('guest kernel not built: %s' % self.kernel)
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix='qtop-guest-')
        os.makedirs(self.dir, exist_ok=True)
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.serial_log = os.path.join(self.dir, 'serial.log')
        self.qemu_log = os.path.join(self.dir, 'qemu.log')
        for p in (self.qmp_path, self.serial_log):
            if os.path.exists(p):
                os.unlink(p)
        # qemu_argv/env (e.g. the plugin tests): that program and data-dir
        # options and env in place of the resolved build's
        cmd = (self.qemu_argv or self.qemu.argv) + ['-accel', 'tcg',
               '-kernel', self.kernel, '-smp', str(self.smp), '-m', '128',
               '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
               '-display', 'none', '-nodefaults', '-no-reboot',
               '-monitor', 'none', '-serial', 'file:%s' % self.serial_log
               ] + self.extra_args
        self._install_sigterm()
        with open(self.qemu_log, 'wb') as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env if self.env is not None else self.qemu.env,
                                         preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        atexit.register(self.stop)
        self.cpus = self.wait_running()
        self.report_version()

    def report_version(self):
        """Ask the running QEMU its version (QMP query-version, one short
        connection: the socket serves one client at a time) and print it."""
        q = QMP(self.qmp_path)
        try:
            self.qemu_version = qemus.query_version(q)
        finally:
            q.close()
        # stderr: some tests read the first line of a child's stdout
        given = getattr(self, 'given_argv', None)
        if given:
            # a command line given whole (the plugin tests): its program
            print('qemu: running %s (%s)' % (self.qemu_version, given[0]),
                  file=sys.stderr, flush=True)
        else:
            print('qemu: asked %s, running %s (%s)' % (
                self.qemu.label, self.qemu_version, self.qemu.binary),
                file=sys.stderr, flush=True)

    def wait_running(self):
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GuestError('QEMU exited (%d) during boot: %s' % (
                    self.proc.returncode, self._tail(self.qemu_log)))
            m = RUNNING_RE.search(self.serial_bytes())
            if m and os.path.exists(self.qmp_path):
                cpus = int(m.group(1))
                if cpus != self.smp:
                    raise GuestError('guest reports cpus=%d, asked for %d' % (cpus, self.smp))
                return cpus
            time.sleep(0.05)
        raise GuestError('no "workload running" line after %.0f s: %s' % (
            self.boot_timeout, self._tail(self.serial_log)))

    def stop(self):
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._restore_sigterm()
        if self._own_dir and self.dir and not self.keep and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers --
    def serial_bytes(self):
        try:
            with open(self.serial_log, 'rb') as f:
                return f.read()
        except OSError:
            return b''

    def serial_text(self):
        return self.serial_bytes().decode('utf-8', 'replace')

    def phase_kcycles(self, newer_than=None, timeout=5.0):
        """vCPU 0's time per phase (kilo-cycles of the guest's TSC since
        boot) from its latest progress line, waiting up to timeout for a
        line newer than `newer_than` (a previous result).  Under TCG the
        TSC follows the host clock and stops while the guest is paused, so
        the difference of two readings is the split of that window in the
        guest's own time: what a time-sampling profiler must measure."""
        deadline = time.time() + timeout
        while True:
            # complete lines only: the guest may be half-way through one
            text = self.serial_text()
            text = text[:text.rfind('\n') + 1]
            lines = [l for l in text.splitlines() if ' kcycles=' in l]
            cur = None
            # the newest line that parses (one the other vCPU's output
            # broke into is skipped)
            for n in range(len(lines), 0, -1):
                phases = self._parse_kcycles(lines[n - 1])
                if phases is not None:
                    cur = (n, phases)
                    break
            if cur and (newer_than is None or cur[0] > newer_than[0]):
                return cur
            if time.time() > deadline:
                return cur
            time.sleep(0.1)

    @staticmethod
    def _parse_kcycles(line):
        """{phase: kilo-cycles} of one progress line, None if malformed.
        " kcycles=a_inner:N,...": vCPU 0's phases; " apkcycles=ap_x:N,
        ap_y:N": vCPU 1's (keys ap_*)."""
        cur = {}
        for tok in (' kcycles=', ' apkcycles='):
            i = line.find(tok)
            if i < 0:
                continue
            body = line[i + len(tok):].split(' ', 1)[0]
            for kv in body.split(','):
                k, _, v = kv.partition(':')
                if not k or not v.isdigit():
                    return None
                cur[k] = int(v)
        return cur or None

    @staticmethod
    def window_split(k0, k1, keys=None):
        """Shares (%) of each phase between two phase_kcycles() results:
        vCPU 0's phases, or those named in keys (e.g. ('ap_x', 'ap_y'))."""
        d = {k: k1[1][k] - k0[1].get(k, 0) for k in k1[1]
             if (k in keys if keys else not k.startswith('ap_'))}
        tot = sum(d.values())
        return {k: 100.0 * v / tot for k, v in d.items()} if tot > 0 else {}

    def path(self, rel):
        """A file of the build dir, e.g. g.path(g.truth['kernel'])."""
        return os.path.join(self.build_dir, rel)

    @staticmethod
    def _tail(path, n=600):
        try:
            with open(path, 'rb') as f:
                return f.read()[-n:].decode('utf-8', 'replace')
        except OSError:
            return '(no %s)' % path

    def _install_sigterm(self):
        def on_term(signum, frame):
            raise SystemExit(128 + signum)
        try:
            self._old_sigterm = signal.signal(signal.SIGTERM, on_term)
        except ValueError:          # not the main thread
            self._old_sigterm = None

    def _restore_sigterm(self):
        if self._old_sigterm is not None:
            try:
                signal.signal(signal.SIGTERM, self._old_sigterm)
            except ValueError:
                pass
            self._old_sigterm = None

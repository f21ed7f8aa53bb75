"""Boot the cached Debian kernel + busybox initramfs under TCG (stdlib only).

    from linux_boot import LinuxGuest
    with LinuxGuest(smp=2, kaslr=True) as g:
        g.qmp_path, g.paths['vmlinux'], g.paths['sysmap'], g.pid

A Guest (tests/lib/guest.py) subclass: same lifecycle guarantees (its QEMU,
by pid only, is killed on exit, on SIGTERM and when the test process dies).
Waits for the initramfs' "qtop-linux: workload running cpus=N" line: two
`dd if=/dev/zero bs=64k | sha256sum` loops are running then.
LinuxGuest(arch='i386'): the i386 fixture (686-pae kernel, i386 busybox,
and one workload386 per vCPU running too) on qemu-system-i386.
The QEMU build: LinuxGuest(qemu='10.0'), else $QTOP_QEMU, else the system's
(tests/lib/qemus.py); its QMP query-version is printed after boot.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import atexit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest as guestlib  # noqa: E402
import linux_fixture  # noqa: E402

RUNNING_RE = re.compile(rb'qtop-linux: workload running cpus=(\d+)')
TEXT_RE = re.compile(rb'qtop-linux: _text=([0-9a-f]+)')


class LinuxGuest(guestlib.Guest):
    def __init__(self, smp=2, kaslr=True, mem_mb=256, boot_timeout=120.0,
                 cpu='max', extra_append='', qemu=None, extra_args=(),
                 arch='x86_64'):
        # not Guest.__init__: no truth.json, no build dir
        self.smp = int(smp)
        self.kaslr = kaslr
        self.mem_mb = mem_mb
        self.cpu = cpu
        self.boot_timeout = boot_timeout
        self.extra_append = extra_append
        self.extra_args = list(extra_args)    # e.g. ['-plugin', SO]
        self.arch = arch
        self.paths = linux_fixture.ensure(arch)
        self.kernel = self.paths['vmlinuz']
        self._own_dir = True
        self.dir = None
        self.keep = bool(os.environ.get('QTOP_KEEP_GUEST_DIR'))
        self.proc = None
        self.pid = None
        self.cpus = None
        self._old_sigterm = None
        self.boot_s = None
        self.qemu = qemu if isinstance(qemu, guestlib.qemus.Qemu) else \
            guestlib.qemus.resolve(qemu, self.paths['qemu'])
        self.qemu_version = None

    def qemu_argv(self):
        """The QEMU command line without its QMP socket and serial port
        (start() adds both; qtop-prof --launch adds its own)."""
        append = 'console=ttyS0 panic=-1 loglevel=4 ' + (
            '' if self.kaslr else 'nokaslr ') + self.extra_append
        return self.qemu.argv + [
               '-accel', 'tcg', '-cpu', self.cpu,
               '-kernel', self.paths['vmlinuz'],
               '-initrd', self.paths['initramfs'], '-append', append,
               '-smp', str(self.smp), '-m', str(self.mem_mb),
               '-name', 'qtop-linux,debug-threads=on',   # "CPU n/TCG" threads
               '-display', 'none', '-nodefaults', '-no-reboot',
               '-monitor', 'none']

    def start(self):
        self.dir = tempfile.mkdtemp(prefix='qtop-linux-')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.serial_log = os.path.join(self.dir, 'serial.log')
        self.qemu_log = os.path.join(self.dir, 'qemu.log')
        cmd = self.qemu_argv() + [
               '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
               '-serial', 'file:%s' % self.serial_log] + self.extra_args
        self._install_sigterm()
        t0 = time.monotonic()
        with open(self.qemu_log, 'wb') as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=self.qemu.env,
                                         preexec_fn=guestlib._die_with_parent)
        self.pid = self.proc.pid
        atexit.register(self.stop)
        self.cpus = self.wait_running()
        self.boot_s = time.monotonic() - t0
        self.report_version()

    def kernel_text(self):
        """_text's address as the booted kernel reports it (its KASLR slide
        is this minus System.map's), None when it did not say."""
        m = TEXT_RE.search(self.serial_bytes())
        v = int(m.group(1), 16) if m else 0
        return v or None     # all zeros: kallsyms hides addresses

    def wait_running(self):
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise guestlib.GuestError('QEMU exited (%d) during boot: %s' % (
                    self.proc.returncode, self._tail(self.qemu_log)))
            m = RUNNING_RE.search(self.serial_bytes())
            if m and os.path.exists(self.qmp_path):
                return int(m.group(1))
            time.sleep(0.1)
        raise guestlib.GuestError('no "workload running" line after %.0f s: %s'
                                  % (self.boot_timeout,
                                     self._tail(self.serial_log, 2000)))

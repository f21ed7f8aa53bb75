"""Which QEMU build a test boots (stdlib only).

    from qemus import resolve
    q = resolve()                        # $QTOP_QEMU, default '7.2'
    q = resolve('10.0', 'qemu-system-i386')
    subprocess.Popen(q.argv + ['-kernel', ...], env=q.env)
    q.label                              # '7.2' / '10.0': what was asked

Versions:
  7.2   the system's QEMU (Debian 12's qemu-system-x86, on PATH)
  10.0  Debian bookworm-backports' QEMU 10.0, unpacked by scripts/qemu10.sh
        (scripts/setup.sh runs it) into $QTOP_QEMU10_DIR, default
        ~/.cache/qtop-prof/qemu-10.0; run as DIR/usr/bin/BINARY
        -L DIR/usr/share/qemu -L DIR/usr/share/seabios, with its own module
        folder (and library folder, if setup had to fetch libraries).

A missing QEMU raises Unavailable; .skip says whether the test should skip
(exit 77) rather than fail: the system QEMU not installed, or 10.0 missing
while QTOP_NO_QEMU10=1.  Without that variable a missing 10.0 is a failure,
so a CI that lost its QEMU 10 does not look green.

    python3 tests/lib/qemus.py           # lists the QEMUs available
"""
import os
import shutil
import subprocess
import sys

VERSIONS = ('7.2', '10.0')
DEFAULT = '7.2'
QEMU10_DIR = os.environ.get('QTOP_QEMU10_DIR',
                            os.path.expanduser('~/.cache/qtop-prof/qemu-10.0'))


class Unavailable(Exception):
    def __init__(self, msg, skip):
        super().__init__(msg)
        self.skip = skip


class Qemu:
    def __init__(self, label, binary, argv, env):
        self.label = label      # the version asked for
        self.binary = binary    # absolute path
        self.argv = argv        # binary + data-dir options
        self.env = env          # environment for the QEMU process

    def version(self):
        """The '--version' first line, e.g. 'QEMU emulator version 10.0.2 (...)'."""
        r = subprocess.run(self.argv + ['--version'], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        return r.stdout.decode(errors='replace').splitlines()[0].strip()

    def __repr__(self):
        return 'Qemu(%s, %s)' % (self.label, ' '.join(self.argv))


def resolve(version=None, binary='qemu-system-x86_64'):
    version = version or os.environ.get('QTOP_QEMU') or DEFAULT
    if version not in VERSIONS:
        raise Unavailable('QTOP_QEMU=%s: unknown (known: %s)'
                          % (version, ', '.join(VERSIONS)), skip=False)
    if version == '7.2':
        path = shutil.which(binary)
        if not path:
            raise Unavailable('%s not installed' % binary, skip=True)
        return Qemu(version, path, [path], dict(os.environ))
    d = QEMU10_DIR
    path = os.path.join(d, 'usr', 'bin', binary)
    if not os.access(path, os.X_OK):
        skip = os.environ.get('QTOP_NO_QEMU10') == '1'
        raise Unavailable(
            'QEMU 10.0 not found (%s): run scripts/setup.sh (it fetches it '
            'with scripts/qemu10.sh), or set QTOP_NO_QEMU10=1 to skip the '
            '10.0 tests%s' % (path, ' (set: skipping)' if skip else ''),
            skip=skip)
    env = dict(os.environ)
    env['QEMU_MODULE_DIR'] = os.path.join(d, 'usr', 'lib', 'x86_64-linux-gnu', 'qemu')
    libs = [x for x in (os.path.join(d, 'usr', 'lib', 'x86_64-linux-gnu'),
                        os.path.join(d, 'lib', 'x86_64-linux-gnu'))
            if os.path.isdir(x) and any('.so' in f for f in os.listdir(x))]
    if libs:
        env['LD_LIBRARY_PATH'] = ':'.join(
            libs + ([env['LD_LIBRARY_PATH']] if env.get('LD_LIBRARY_PATH') else []))
    argv = [path, '-L', os.path.join(d, 'usr', 'share', 'qemu'),
            '-L', os.path.join(d, 'usr', 'share', 'seabios')]
    return Qemu(version, path, argv, env)


def query_version(qmp):
    """'X.Y.Z' from QMP query-version of a connected qmp.QMP."""
    v = qmp.execute('query-version')
    q = v['qemu']
    return '%d.%d.%d%s' % (q['major'], q['minor'], q['micro'],
                           (' ' + v['package'].strip()) if v.get('package', '').strip() else '')


def main():
    ok = 0
    for v in VERSIONS:
        for b in ('qemu-system-x86_64', 'qemu-system-i386'):
            try:
                q = resolve(v, b)
                print('  QEMU %-5s %-19s %s: %s' % (v, b, q.binary, q.version()))
                ok += 1
            except (Unavailable, OSError, subprocess.SubprocessError, IndexError) as e:
                print('  QEMU %-5s %-19s MISSING: %s' % (v, b, e))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

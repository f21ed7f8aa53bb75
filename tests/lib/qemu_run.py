#!/usr/bin/env python3
"""Run the QEMU build $QTOP_QEMU names (7.2: the system's, 10.0: the unpacked
bookworm-backports one, tests/lib/qemus.py) with its data dirs, in place of
qemu-system-x86_64 (exec: same pid):

    QTOP_QEMU=10.0 tests/lib/qemu_run.py -accel tcg ...

For a test that takes a QEMU program path.  Exits 77 when that QEMU is
missing and may be skipped (QTOP_NO_QEMU10=1), 1 when it must be there.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemus  # noqa: E402

try:
    q = qemus.resolve(None, os.environ.get('QTOP_QEMU_BINARY', 'qemu-system-x86_64'))
except qemus.Unavailable as e:
    print('%s: %s' % ('SKIP' if e.skip else 'FAIL', e), file=sys.stderr, flush=True)
    sys.exit(77 if e.skip else 1)
print('qemu: %s' % q.version(), file=sys.stderr, flush=True)
os.execve(q.binary, q.argv + sys.argv[1:], q.env)

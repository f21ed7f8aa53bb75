"""Direct guest-memory reads (guestmem + pagewalk) against memsave and HMP x
on the real test guest: boots it (ARCH, SMP) and runs direct_mem, which
compares the bytes of stacks, code, TSS and kernel pages read every way.

    direct_mem.py BUILD_DIR DIRECT_MEM_BINARY ARCH SMP

The QEMU build: $QTOP_QEMU (7.2, the system's, or 10.0 from
bookworm-backports; tests/lib/qemus.py).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from guest import Guest, load_truth, qemu_or_exit  # noqa: E402


def main():
    build, tool, arch, smp = sys.argv[1:5]
    if not qemu_or_exit(load_truth(arch).get('qemu', 'qemu-system-x86_64')):
        return 77
    g = Guest(build, arch=arch, smp=int(smp))
    if not os.path.exists(g.kernel):
        print('SKIP: %s not built' % g.kernel)
        return 77
    with g:
        p = subprocess.run([tool, g.qmp_path], capture_output=True, text=True, timeout=120)
        print(p.stdout, end='')
        print(p.stderr, end='', file=sys.stderr)
        return p.returncode


if __name__ == '__main__':
    sys.exit(main())

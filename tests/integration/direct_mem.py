"""Direct guest-memory reads (guestmem + pagewalk) against memsave and HMP x
on the real test guest: boots it (ARCH, SMP) and runs direct_mem, which
compares the bytes of stacks, code, TSS and kernel pages read every way.

    direct_mem.py BUILD_DIR DIRECT_MEM_BINARY ARCH SMP [QEMU_DIR]

QEMU_DIR: an unpacked QEMU (e.g. Debian's 10.0 from bookworm-backports,
DIR/usr/bin/qemu-system-*) to run instead of the system's; skipped (77)
when it is not there.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from guest import Guest  # noqa: E402


def main():
    build, tool, arch, smp = sys.argv[1:5]
    qemu_dir = sys.argv[5] if len(sys.argv) > 5 else None
    g = Guest(build, arch=arch, smp=int(smp),
              extra_args=['-L', qemu_dir + '/usr/share/qemu'] if qemu_dir else ())
    if not os.path.exists(g.kernel):
        print('SKIP: %s not built' % g.kernel)
        return 77
    if qemu_dir:
        exe = os.path.join(qemu_dir, 'usr', 'bin',
                           os.path.basename(g.truth.get('qemu', 'qemu-system-x86_64')))
        if not os.path.exists(exe):
            print('SKIP: %s not there' % exe)
            return 77
        g.truth = dict(g.truth, qemu=exe)
    with g:
        p = subprocess.run([tool, g.qmp_path], capture_output=True, text=True, timeout=120)
        print(p.stdout, end='')
        print(p.stderr, end='', file=sys.stderr)
        return p.returncode


if __name__ == '__main__':
    sys.exit(main())

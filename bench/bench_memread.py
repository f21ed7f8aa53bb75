"""Boot the test guest and run bench_memread once (direct vs memsave vs HMP x).

    python3 bench/bench_memread.py --build BUILD [--arch x86_64] [--smp 1] [--reps 200] [--qemu-dir DIR]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'lib'))
from guest import Guest  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('--build', required=True)
ap.add_argument('--arch', default='x86_64')
ap.add_argument('--smp', type=int, default=1)
ap.add_argument('--reps', type=int, default=200)
ap.add_argument('--qemu-dir', help='an unpacked QEMU (DIR/usr/bin/qemu-system-*)')
a = ap.parse_args()
g = Guest(a.build, arch=a.arch, smp=a.smp,
          extra_args=['-L', a.qemu_dir + '/usr/share/qemu'] if a.qemu_dir else ())
if a.qemu_dir:
    g.truth = dict(g.truth, qemu=os.path.join(a.qemu_dir, 'usr', 'bin',
                                              os.path.basename(g.truth.get('qemu', 'qemu-system-x86_64'))))
with g:
    sys.exit(subprocess.run([os.path.join(a.build, 'bench', 'bench_memread'), g.qmp_path,
                             str(a.reps)]).returncode)

#!/usr/bin/env python3
"""Fetch and cache a Debian 12 kernel + busybox, build the test initramfs.

    python3 tests/linux/linux_fixture.py          # prints the paths (JSON)
    python3 tests/linux/linux_fixture.py i386     # the i386 variant
    python3 tests/linux/linux_fixture.py extract-vmlinux BZIMAGE OUT

Idempotent: everything lives in $QTOP_LINUX_CACHE (default
~/.cache/qtop-prof/linux), never in the repository.  Downloads only with
`apt-get download` from the configured Debian archive:

  linux-image-<abi>-cloud-amd64-unsigned   /boot/vmlinuz (bzImage, LZ4)
  linux-image-<abi>-cloud-amd64-dbg        only its System.map is kept (the
                                           image package ships a stub)
  busybox-static                           /bin/busybox for the initramfs

ensure('i386') (cache subfolder i386/): Debian 12's 32-bit PAE kernel,
linux-image-<abi>-686-pae-unsigned / -dbg, and busybox-static for i386,
fetched with `apt-get download` over apt lists of its own (i386/apt/: an
`apt-get update` for architecture i386 with Dir::State::Lists there and no
dpkg status), so the host's dpkg architectures and apt lists are untouched.
Its -dbg package is 765 MB (kept only while System.map is taken out).
Its initramfs also runs one workload386 per vCPU: tests/linux/workload386.c
compiled here with gcc -m32 -static (gcc-multilib), CFI and symbols kept,
into i386/workload386, and on every second vCPU the same as a static PIE
(-static-pie) into i386/workload386pie (rebuilt when the source or the
command changes).

The vmlinux ELF is extracted from the bzImage the way the kernel's
scripts/extract-vmlinux does (find the compressed payload's magic, decompress
with Debian's tool); it keeps .orc_unwind*, .BTF and .rodata.

Raises Unavailable (tests turn it into a skip, exit 77) when the archive
cannot be reached and nothing is cached.
"""
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

CACHE = os.environ.get('QTOP_LINUX_CACHE',
                       os.path.expanduser('~/.cache/qtop-prof/linux'))
# Pinned ABI (the one measured in doc/linux.md); another bookworm cloud ABI
# is used when the archive no longer has it.
DEFAULT_ABI = os.environ.get('QTOP_LINUX_ABI', '6.1.0-50-cloud-amd64')
INIT_MARK = 'qtop-linux: workload running'


class Unavailable(Exception):
    pass


def _run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# Per architecture: the cache subfolder, the kernel flavour, the QEMU binary.
ARCHS = {
    'x86_64': {'sub': '', 'flavour': 'cloud-amd64', 'default_abi': DEFAULT_ABI,
               'qemu': 'qemu-system-x86_64'},
    'i386': {'sub': 'i386', 'flavour': '686-pae',
             'default_abi': os.environ.get('QTOP_LINUX386_ABI',
                                           '6.1.0-50-686-pae'),
             'qemu': 'qemu-system-i386'},
}


def _apt_opts(arch, cache):
    """apt options for a foreign architecture: lists and package cache of
    our own under cache/apt, no dpkg status (nothing is installed)."""
    if arch == 'x86_64':
        return []
    d = os.path.join(cache, 'apt')
    for sub in ('lists/partial', 'archives/partial'):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return ['-o', 'APT::Architecture=' + arch,
            '-o', 'APT::Architectures::=' + arch,
            '-o', 'Dir::State::Lists=' + os.path.join(d, 'lists'),
            '-o', 'Dir::Cache=' + d,
            '-o', 'Dir::Cache::archives=' + os.path.join(d, 'archives'),
            '-o', 'Dir::State::status=/dev/null',
            '-o', 'APT::Sandbox::User=root', '-o', 'Debug::NoLocking=1',
            '-o', 'Acquire::Retries=2']


def _apt_update(opts):
    """apt-get update into our own lists, once (no Packages file yet)."""
    ldir = [o.split('=', 1)[1] for o in opts if o.startswith('Dir::State::Lists=')][0]
    if glob.glob(os.path.join(ldir, '*_Packages*')):
        return
    r = subprocess.run(['apt-get'] + opts + ['update'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0 or not glob.glob(os.path.join(ldir, '*_Packages*')):
        raise Unavailable('apt-get update (%s) failed: %s' % (
            opts[1], r.stdout.decode(errors='replace')[-400:]))


def _apt_download(pkg, dest, opts=()):
    """apt-get download pkg into dest; returns the .deb path."""
    have = glob.glob(os.path.join(dest, pkg + '_*.deb'))
    if have:
        return have[0]
    r = subprocess.run(['apt-get'] + list(opts) + ['download', pkg], cwd=dest,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    have = glob.glob(os.path.join(dest, pkg + '_*.deb'))
    if r.returncode != 0 or not have:
        raise Unavailable('apt-get download %s failed: %s' %
                          (pkg, r.stdout.decode(errors='replace')[-400:]))
    return have[0]


def _pick_abi(cache=None, arch='x86_64', opts=()):
    cache = cache or CACHE
    a = ARCHS[arch]
    fl = re.escape(a['flavour'])
    have = [x for x in glob.glob(os.path.join(cache, 'vmlinuz-*'))
            if re.search(r'-%s$' % fl, x)]
    if have:
        return os.path.basename(sorted(have)[-1])[len('vmlinuz-'):]
    if opts:
        _apt_update(list(opts))
    r = subprocess.run(['apt-cache'] + list(opts) +
                       ['show', 'linux-image-%s-unsigned' % a['default_abi']],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.returncode == 0 and r.stdout.strip():
        return a['default_abi']
    r = subprocess.run(['apt-cache'] + list(opts) +
                       ['search', '--names-only',
                        r'^linux-image-6\.1\.0-[0-9]+-%s-unsigned$' % fl],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    abis = re.findall(r'linux-image-(6\.1\.0-(\d+)-%s)-unsigned' % fl,
                      r.stdout.decode())
    if not abis:
        raise Unavailable('no linux-image-6.1.0-*-%s-unsigned in '
                          'the apt lists (run apt-get update?)' % a['flavour'])
    return max(abis, key=lambda a: int(a[1]))[0]


# extract-vmlinux: magic -> decompressor reading stdin
MAGICS = [
    (b'\x02!L\x18', ['lz4', '-dc']),
    (b'\xfd7zXZ\x00', ['xz', '-dc']),
    (b'\x1f\x8b\x08', ['gzip', '-dc']),
    (b'(\xb5/\xfd', ['zstd', '-dc']),
    (b'\x5d\x00\x00\x00', ['xz', '--format=lzma', '-dc']),
]


def extract_vmlinux(bzimage, out):
    data = open(bzimage, 'rb').read()
    for magic, cmd in MAGICS:
        pos = data.find(magic)
        while pos >= 0:
            if shutil.which(cmd[0]):
                r = subprocess.run(cmd, input=data[pos:],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
                # trailing bytes after the payload make the tools complain;
                # what counts is an ELF on stdout
                if r.stdout[:4] == b'\x7fELF':
                    tmp = out + '.tmp'
                    with open(tmp, 'wb') as f:
                        f.write(r.stdout)
                    os.replace(tmp, out)
                    return cmd[0]
            pos = data.find(magic, pos + 1)
    raise Unavailable('no decompressible ELF payload in %s' % bzimage)


def _newc(entries):
    """entries: (name, mode, data_bytes, rdev_major, rdev_minor)"""
    out = bytearray()
    ino = 1
    for name, mode, data, maj, mnr in entries + [('TRAILER!!!', 0, b'', 0, 0)]:
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, maj, mnr, len(nb), 0))
        out += hdr.encode() + nb
        out += b'\0' * ((4 - len(out) % 4) % 4)
        out += data
        out += b'\0' * ((4 - len(out) % 4) % 4)
        ino += 1
    return bytes(out)


# The guest's /init; %(more)s: what an architecture adds (x86_64 nothing).
# It prints where the kernel put _text (root reads /proc/kallsyms), the
# ground truth for the KASLR slide.
INIT_TMPL = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo "qtop-linux: init"
echo "qtop-linux: _text=$(grep ' _text$' /proc/kallsyms | cut -d' ' -f1)"
work() {
    while true; do
        dd if=/dev/zero bs=64k count=400 2>/dev/null | sha256sum >/dev/null
    done
}
work &
work &
%(more)secho "%(mark)s cpus=$(grep -c ^processor /proc/cpuinfo)"
while true; do sleep 1000; done
'''
INIT = INIT_TMPL % {'mark': INIT_MARK, 'more': ''}
# i386: one workload386 (user code with CFI, tests/linux/workload386.c)
# per vCPU beside the busybox pipes, whose user chains are cut (no CFI):
# linked static at its address, and (every second vCPU) the same source as
# a static PIE, loaded wherever the kernel's ASLR puts it.
INIT386 = INIT_TMPL % {'mark': INIT_MARK, 'more': r'''i=$(grep -c ^processor /proc/cpuinfo)
while [ $i -gt 0 ]; do
  if [ $((i % 2)) -eq 0 ]; then /bin/workload386pie & else /bin/workload386 & fi
  i=$((i - 1))
done
'''}


# workload386: compiled on the host (only compiled: some hosts cannot run
# 32-bit programs), run in the i386 guest.  Static (the initramfs has no
# libc), CFI and symbols kept, frame pointers, no sibling calls (each
# function stays on the stack).  Needs gcc-multilib (scripts/setup.sh).
WORKLOAD386_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'workload386.c')
WORKLOAD386_CMD = ['gcc', '-m32', '-static', '-O2', '-g',
                   '-fasynchronous-unwind-tables', '-fno-omit-frame-pointer',
                   '-fno-optimize-sibling-calls']
WORKLOAD386_PIE_CMD = ['gcc', '-m32', '-static-pie', '-fPIE', '-O2', '-g',
                       '-fasynchronous-unwind-tables', '-fno-omit-frame-pointer',
                       '-fno-optimize-sibling-calls']


def build_workload386(out, cmd=WORKLOAD386_CMD):
    """Compile workload386.c into out when the source or the command
    changed (stamp out.src); returns the binary's sha256."""
    stamp = out + '.src'
    key = ' '.join(cmd) + '\n' + open(WORKLOAD386_SRC).read()
    if not (os.path.exists(out) and os.path.exists(stamp) and
            open(stamp).read() == key):
        r = subprocess.run(cmd + [WORKLOAD386_SRC, '-o', out + '.tmp'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode:
            raise RuntimeError('building %s failed (gcc-multilib missing? '
                               'scripts/setup.sh installs it): %s' % (
                                   out, r.stdout.decode(errors='replace')[-600:]))
        os.replace(out + '.tmp', out)
        with open(stamp, 'w') as f:
            f.write(key)
    return hashlib.sha256(open(out, 'rb').read()).hexdigest()


def build_initramfs(busybox, out, init=INIT, extra=()):
    """extra: (path in the guest, host file) added as executables."""
    bb = open(busybox, 'rb').read()
    d = 0o040755
    entries = [
        ('bin', d, b'', 0, 0), ('dev', d, b'', 0, 0), ('proc', d, b'', 0, 0),
        ('sys', d, b'', 0, 0), ('tmp', d, b'', 0, 0),
        ('dev/console', stat.S_IFCHR | 0o600, b'', 5, 1),
        ('dev/null', stat.S_IFCHR | 0o666, b'', 1, 3),
        ('dev/zero', stat.S_IFCHR | 0o666, b'', 1, 5),
        ('bin/busybox', 0o100755, bb, 0, 0),
        ('bin/sh', 0o120777, b'busybox', 0, 0),
        ('init', 0o100755, init.encode(), 0, 0),
    ] + [(name, 0o100755, open(f, 'rb').read(), 0, 0) for name, f in extra]
    tmp = out + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(gzip.compress(_newc(entries), 6))
    os.replace(tmp, out)


def ensure(arch='x86_64'):
    """Returns {'abi','vmlinuz','vmlinux','sysmap','initramfs','busybox',
    'arch','qemu'}; arch 'x86_64' (cache dir) or 'i386' (its i386/, and
    'workload': workload386, 'workload_pie': its static PIE build, both
    in its initramfs)."""
    if arch not in ARCHS:
        raise ValueError('arch %r: one of %s' % (arch, ', '.join(ARCHS)))
    cache = os.path.join(CACHE, ARCHS[arch]['sub']) if ARCHS[arch]['sub'] \
        else CACHE
    os.makedirs(cache, exist_ok=True)
    opts = _apt_opts(arch, cache)
    abi = _pick_abi(cache, arch, opts)
    p = {
        'abi': abi,
        'arch': arch,
        'qemu': ARCHS[arch]['qemu'],
        'vmlinuz': os.path.join(cache, 'vmlinuz-' + abi),
        'vmlinux': os.path.join(cache, 'vmlinux-' + abi),
        'sysmap': os.path.join(cache, 'System.map-' + abi),
        'initramfs': os.path.join(cache, 'initramfs.cpio.gz'),
        'busybox': os.path.join(cache, 'busybox'),
    }
    need = [k for k in ('vmlinuz', 'sysmap', 'busybox')
            if not os.path.exists(p[k])]
    if need and opts:
        _apt_update(opts)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        os.chmod(tmp, 0o755)   # apt-get download drops privileges to _apt
        if not os.path.exists(p['vmlinuz']):
            deb = _apt_download('linux-image-%s-unsigned' % abi, tmp, opts)
            x = os.path.join(tmp, 'x')
            _run(['dpkg-deb', '-x', deb, x])
            shutil.copyfile(os.path.join(x, 'boot', 'vmlinuz-' + abi),
                            p['vmlinuz'] + '.tmp')
            os.replace(p['vmlinuz'] + '.tmp', p['vmlinuz'])
        if not os.path.exists(p['vmlinux']):
            extract_vmlinux(p['vmlinuz'], p['vmlinux'])
        if not os.path.exists(p['sysmap']):
            deb = _apt_download('linux-image-%s-dbg' % abi, tmp, opts)
            member = './usr/lib/debug/boot/System.map-' + abi
            with open(p['sysmap'] + '.tmp', 'wb') as f:
                fsys = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', deb],
                                        stdout=subprocess.PIPE)
                _run(['tar', '-xO', member], stdin=fsys.stdout, stdout=f)
                fsys.stdout.close()
                fsys.wait()
            os.replace(p['sysmap'] + '.tmp', p['sysmap'])
            os.unlink(deb)   # 280 MB (i386: 765 MB); only System.map is needed
        if not os.path.exists(p['busybox']):
            deb = _apt_download('busybox-static', tmp, opts)
            x = os.path.join(tmp, 'bb')
            _run(['dpkg-deb', '-x', deb, x])
            shutil.copyfile(os.path.join(x, 'bin', 'busybox'),
                            p['busybox'] + '.tmp')
            os.replace(p['busybox'] + '.tmp', p['busybox'])
    init, extra, key = INIT, (), INIT
    if arch == 'i386':
        p['workload'] = os.path.join(cache, 'workload386')
        p['workload_pie'] = os.path.join(cache, 'workload386pie')
        # the stamp names the binaries too: a rebuilt one makes a new initramfs
        key = INIT386 + '# workload386 sha256 %s\n' % build_workload386(
            p['workload'])
        key += '# workload386pie sha256 %s\n' % build_workload386(
            p['workload_pie'], WORKLOAD386_PIE_CMD)
        init, extra = INIT386, (('bin/workload386', p['workload']),
                                ('bin/workload386pie', p['workload_pie']))
    stamp = p['initramfs'] + '.init'
    if (not os.path.exists(p['initramfs']) or not os.path.exists(stamp) or
            open(stamp).read() != key):
        build_initramfs(p['busybox'], p['initramfs'], init, extra)
        with open(stamp, 'w') as f:
            f.write(key)
    return p


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'extract-vmlinux':
        # for your own kernel: the ELF inside a bzImage
        try:
            print('decompressed with %s' % extract_vmlinux(sys.argv[2],
                                                           sys.argv[3]))
        except Unavailable as e:
            print(e, file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    try:
        print(json.dumps(ensure(*sys.argv[1:2]), indent=1))
    except Unavailable as e:
        print('SKIP: %s' % e, file=sys.stderr)
        sys.exit(77)

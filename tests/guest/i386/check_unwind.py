#!/usr/bin/env python3
"""The i386 guest's call chains are what truth.json says, for a CFI unwinder.

Independent of qtop-prof: raw QMP (tests/lib), `nm`, and the libdwfl helper
unwind_cfi.  Boots the i386 guest, stops it when a vCPU is in one of the
leaves of truth.json's chains, copies the kernel stack (sp .. TSS.esp0) and,
when a ring-3 trap frame sits under TSS.esp0, the user stack; then unwinds
with libdwfl and compares the chain, root -> leaf, with truth.json.  This
checks the compiler CFI, work_b's CFI-only frame, and the hand-written
trap-frame CFI of syscall_entry / irq0_entry (kernel -> user crossing).
A timer-interrupt sample, when one is caught, must unwind to a root too.

    check_unwind.py --build BUILD --helper UNWIND_CFI [--smp 2]
Exit 0 when every chain matches, 1 otherwise, 77 when the guest is not built.
"""
import argparse
import bisect
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'lib'))
from guest import Guest, load_truth  # noqa: E402
from qmp import QMP, QMPError, parse_registers  # noqa: E402

ARCH = 'i386'
IRQ_FUNCS = {'irq0_entry', 'i386_timer_irq', 'qg_timer_tick'}
TRAP_STUBS = {'syscall_entry', 'irq0_entry'}


def functions(path):
    out = subprocess.run(['nm', '-n', '--defined-only', path], check=True,
                         capture_output=True, text=True).stdout
    funcs, addr = [], {}
    for line in out.splitlines():
        f = line.split()
        if len(f) != 3:
            continue
        a = int(f[0], 16)
        addr.setdefault(f[2], a)
        if f[1] in 'TtWw':
            funcs.append((a, f[2]))
    funcs.sort()
    return funcs, addr


def lookup(funcs, pc):
    i = bisect.bisect_right([a for a, _ in funcs], pc) - 1
    return funcs[i][1] if i >= 0 else None


class Capture:
    def __init__(self, q, tmp):
        self.q, self.tmp, self.n = q, tmp, 0

    def read(self, addr, size, cpu):
        self.n += 1
        path = os.path.join(self.tmp, 'm%d.bin' % self.n)
        return self.q.memsave(addr, size, path, cpu), path

    def read_pages(self, addr, cpu, max_bytes=64 * 1024):
        """From addr to the end of its page and on, page by page, until an
        unmapped page (the top of a user stack)."""
        data = b''
        end = (addr | 0xFFF) + 1
        size = end - addr
        while len(data) < max_bytes:
            try:
                chunk, _ = self.read(addr + len(data), size, cpu)
            except QMPError:
                break
            data += chunk
            size = 4096
        self.n += 1
        path = os.path.join(self.tmp, 'm%d.bin' % self.n)
        with open(path, 'wb') as f:
            f.write(data)
        return data, path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--helper', required=True)
    ap.add_argument('--smp', type=int, default=2)
    ap.add_argument('--fp', action='store_true',
                    help='also require the frame-pointer chains to match')
    ap.add_argument('--max-seconds', type=float, default=90)
    a = ap.parse_args()

    truth = load_truth(ARCH)
    kernel = os.path.join(a.build, truth['kernel'])
    if not os.path.exists(kernel) or not os.path.exists(a.helper):
        print('SKIP: %s or %s not built' % (kernel, a.helper))
        return 77
    kfuncs, kaddr = functions(kernel)
    progs = {}
    for tname, t in truth['tasks'].items():
        if t['program']:
            path = os.path.join(a.build, truth['sysroot'], t['program'])
            progs[tname] = (path, functions(path)[0])

    # (cpu, task, leaf) -> expected chain, root -> leaf
    want = {}
    for ch in truth['chains']:
        if ch['cpu'] < a.smp:
            fns = [f['fn'] for f in ch['frames']]
            want[(ch['cpu'], ch['task'], fns[-1])] = fns
    ptr = {0: kaddr[truth['current_task']['symbol']],
           1: kaddr[truth['current_task_ap']['symbol']]}
    name_off = truth['current_task']['offset']
    name_len = truth['current_task']['size']

    cfi_only = set(truth['cfi_required'])
    frameless = set(truth.get('frameless', ()))
    got, ok, irq_seen = {}, True, False
    with Guest(a.build, arch=ARCH, smp=a.smp) as g, \
            tempfile.TemporaryDirectory(prefix='qtop-unw-') as tmp:
        q = QMP(g.qmp_path)
        cap = Capture(q, tmp)
        deadline = time.monotonic() + a.max_seconds
        # keep going a while for a timer-interrupt sample (rare: ~0.5 %)
        while (len(got) < len(want) or not irq_seen) and \
                time.monotonic() < deadline:
            for cpu in range(a.smp):
                q.execute('stop')
                try:
                    res = sample(q, cap, cpu, kernel, kfuncs, progs, ptr,
                                 name_off, name_len, a.helper)
                finally:
                    q.execute('cont')
                if not res:
                    continue
                task, leaf, chain, end, fpchain = res
                if leaf in IRQ_FUNCS:
                    if not irq_seen:
                        irq_seen = True
                        good = end == 'OK' and chain[0] in ('kmain', '_start')
                        print('timer interrupt in %s (task %s): %s  [%s]%s' % (
                            leaf, task, ' > '.join(chain), end,
                            '' if good else '  <-- FAIL'))
                        ok &= good
                    continue
                key = (cpu, task, leaf)
                if key in want and key not in got:
                    got[key] = (chain, end, fpchain)
            time.sleep(0.002)
        q.close()

    for key, fns in sorted(want.items()):
        cpu, task, leaf = key
        if key not in got:
            print('vCPU %d %-6s %-14s never caught  <-- FAIL' % (cpu, task, leaf))
            ok = False
            continue
        chain, end, fpchain = got[key]
        # a frameless stub without CFI (truth "frameless"): libdwfl falls
        # back to the frame pointer there and loses the stub's caller
        want_cfi = [f for i, f in enumerate(fns)
                    if i + 1 >= len(fns) or fns[i + 1] not in frameless]
        good = chain == want_cfi and end == 'OK'
        ok &= good
        print('vCPU %d %-6s %-14s %s  [%s]%s' % (
            cpu, task, leaf, ' > '.join(chain), end,
            '' if good else '  <-- FAIL, want ' + ' > '.join(want_cfi)))
        # frame pointers: a walk through a function without a frame
        # pointer (cfi_required: work_b) loses that function's caller
        # (and so does one through a frameless stub: truth "frameless")
        want_fp = [f for i, f in enumerate(fns)
                   if i + 1 >= len(fns) or fns[i + 1] not in cfi_only | frameless]
        good = fpchain == want_fp
        if a.fp:
            ok &= good
        print('      frame pointers: %s%s' % (
            ' > '.join(str(f) for f in fpchain),
            '' if good else '  <-- %s, want %s' % (
                'FAIL' if a.fp else 'differs', ' > '.join(want_fp))))
    if not irq_seen:
        print('(no timer-interrupt sample caught this run)')
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


def sample(q, cap, cpu, kernel, kfuncs, progs, ptr, name_off, name_len,
           helper):
    """With the guest stopped: registers, task, leaf; for every sample the
    stacks and the helper's unwind.  Returns (task, leaf, chain, end)."""
    text = q.hmp('info registers', cpu=cpu)
    r = parse_registers(text)
    m = re.search(r'^TR\s*=\s*\S+\s+([0-9a-fA-F]+)', text, re.M)
    if 'PC' not in r or not m:
        return None
    pc, esp, cpl = r['PC'], r['ESP'], r.get('CPL', 0)
    tp = struct.unpack('<I', cap.read(ptr[min(cpu, 1)], 4, cpu)[0])[0]
    raw = cap.read(tp + name_off, name_len, cpu)[0]
    task = raw.split(b'\0', 1)[0].decode('ascii', 'replace')
    user = progs.get(task)
    if cpl == 3:
        leaf = lookup(user[1], pc) if user else None
    else:
        leaf = lookup(kfuncs, pc)
    if leaf is None:
        return None

    segs = []
    if cpl == 3:
        segs.append((esp, cap.read_pages(esp, cpu)[1]))
    else:
        esp0 = struct.unpack('<I', cap.read(int(m.group(1), 16) + 4, 4, cpu)[0])[0]
        if not 0 < esp0 - esp <= 64 * 1024:
            return None
        kdata, kpath = cap.read(esp, esp0 - esp, cpu)
        segs.append((esp, kpath))
        if len(kdata) >= 20:
            _, cs, _, uesp, _ = struct.unpack('<5I', kdata[-20:])
            if cs & 3 == 3:
                segs.append((uesp, cap.read_pages(uesp, cpu)[1]))
    args = [helper, kernel, user[0] if user else '-']
    args += ['%#x' % r.get(k, 0) for k in
             ('EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI', 'EIP')]
    for base, path in segs:
        args += ['%#x' % base, path]
    out = subprocess.run(args, capture_output=True, text=True,
                         env=dict(os.environ, DEBUGINFOD_URLS='')).stdout
    frames, end = [], 'no output'
    for line in out.splitlines():
        if line.startswith('end '):
            end = line[4:]
        else:
            frames.append(line.split(' ', 1)[1])
    fp = fp_walk(r, segs, kfuncs, user[1] if user else [])
    return task, leaf, frames[::-1], end, fp


def fp_walk(r, segs, kfuncs, ufuncs):
    """Frame-pointer walk (what a profiler does on i386), root -> leaf.
    The entry stubs keep ebp, so the frame under the first kernel frame is
    the user's; the user pc there comes from the trap frame at the top of
    the kernel stack."""
    mem = []
    for base, path in segs:
        with open(path, 'rb') as f:
            mem.append((base, f.read()))

    def rd(addr):
        for base, data in mem:
            if base <= addr and addr + 4 <= base + len(data):
                return struct.unpack_from('<I', data, addr - base)[0]
        return None

    def name(pc, ret):
        look = pc - 1 if ret else pc
        return lookup(kfuncs if look >= 0xC0000000 else ufuncs, look)

    chain = [name(r['PC'], False)]
    fp = r['EBP']
    for _ in range(64):
        if not fp:
            break
        ret, nfp = rd(fp + 4), rd(fp)
        if ret is None or nfp is None:
            chain.append('[unreadable]')
            break
        if not ret:
            break
        chain.append(name(ret, True))
        if chain[-1] in TRAP_STUBS:
            # the trap frame sits at the top of the kernel stack copy
            base, data = mem[0]
            chain.append(name(struct.unpack('<I', data[-20:-16])[0], False))
        fp = nfp
    return chain[::-1]


if __name__ == '__main__':
    sys.exit(main())

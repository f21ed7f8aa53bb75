#!/usr/bin/env python3
"""Independent check of the guest's call chains and unwinding contract.

Raw QMP and `nm` only (no qtop-prof code).  Stops the guest at random
moments, reads each vCPU's registers, walks the frame pointers through the
kernel stack, crosses into user mode through the hardware trap frame below
TSS.sp0 when a return address lies in an entry stub, and compares the chain
(root -> leaf) with truth.json.  For a function listed in cfi_required
(compiled without frame pointers) a frame-pointer walk loses the function's
caller (work_b keeps sched_round's rbp), so that caller is dropped from the
expected chain: kmain > work_b > b_inner.  It also checks the task name read from
current_task->name.  This catches a stub that clobbers the frame pointer,
a missing frame, a wrong TSS.sp0 or trap frame, or a wrong task name.

    check_chains.py --build BUILD --arch x86_64 --smp 2 [--samples 300]
"""
import argparse
import collections
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
from guest import Guest, check_args  # noqa: E402
from qmp import QMP, QMPError, parse_registers  # noqa: E402
from check_split import Symbols  # noqa: E402

# Kernel entry stubs whose caller is a hardware trap frame (truth.json
# entry_stubs; this default matches both kernels' syscall/IRQ0 stubs).
DEFAULT_ENTRY_STUBS = ('syscall_entry', 'irq0_entry')


class Mem:
    """Guest virtual memory of one vCPU, read page by page via memsave."""

    def __init__(self, q, cpu, tmp, psize):
        self.q, self.cpu, self.psize = q, cpu, psize
        self.path = os.path.join(tmp, 'page.bin')
        self.pages = {}

    def word(self, addr):
        page = addr & ~0xfff
        if page not in self.pages:
            try:
                self.pages[page] = self.q.memsave(page, 4096, self.path, self.cpu)
            except QMPError:
                self.pages[page] = None
        data = self.pages[page]
        off = addr - page
        if data is None or off + self.psize > len(data):
            return None
        return int.from_bytes(data[off:off + self.psize], 'little')


def walk(regs, mem, truth, ksyms, usyms, kbase):
    """Frame-pointer walk; returns [(fn, mode)] root -> leaf, or None."""
    ps = truth['pointer_size']
    pc, fp = regs['PC'], regs.get('RBP', regs.get('EBP'))
    user = regs.get('CPL') == 3
    frames = []
    first = True
    for _ in range(64):
        syms = usyms if user else ksyms
        # return addresses point after the call: look up pc - 1
        fn = syms.lookup(pc if first else pc - 1) if syms else None
        frames.append((fn or '?%x' % pc, 'user' if user else 'kernel'))
        first = False
        if not user and fn in truth.get('entry_stubs', DEFAULT_ENTRY_STUBS):
            # hardware trap frame to ring 3 right below TSS.sp0:
            # ip, cs, flags, sp, ss
            sp0 = mem.word(regs['TR_BASE'] + truth.get('tss_sp0_offset', 4))
            if sp0 is None:
                return None
            tf = sp0 - 5 * ps
            cs = mem.word(tf + ps)
            if cs is None or cs & 3 != 3:
                return None
            pc = mem.word(tf)
            user = True
            first = True          # an interrupted pc, not a return address
            continue              # fp already is the user's frame pointer
        if not fp:
            break
        nfp, ret = mem.word(fp), mem.word(fp + ps)
        if ret is None or nfp is None:
            return None
        if ret == 0:
            break
        if user and ret >= kbase:
            return None
        pc, fp = ret, nfp
    return frames[::-1]


def tr_base(text):
    for line in text.splitlines():
        if line.startswith('TR'):
            f = line.split('=', 1)[1].split()
            return int(f[1], 16)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--samples', type=int, default=300, help='stops')
    r = check_args(ap)
    if r is None:
        return 77
    a, truth, kernel = r
    ksyms = Symbols(kernel)
    kbase = int(truth['kernel_base'], 16)
    progs = {t: Symbols(os.path.join(a.build, truth['sysroot'], v['program']))
             for t, v in truth['tasks'].items() if v['program']}
    cfi_only = set(truth['cfi_required'])
    frameless = set(truth.get('frameless', ()))
    cpus = [c['cpu'] for c in truth['cpus'] if c['smp_min'] <= a.smp]
    expected = collections.defaultdict(dict)   # cpu -> leaf -> (task, chain)
    for ch in truth['chains']:
        # A function without a frame pointer leaves rbp as its caller set
        # it, so a frame-pointer walk still sees it (through the return
        # address its callee pushed) but loses its CALLER's frame.
        # A frameless stub (truth "frameless", entered from the trap
        # frame) loses its caller the same way.
        fns = [f['fn'] for f in ch['frames']]
        lost = {i - 1 for i, fn in enumerate(fns)
                if (fn in cfi_only or fn in frameless) and i > 0}
        fr = [(f['fn'], f['mode']) for i, f in enumerate(ch['frames']) if i not in lost]
        expected[ch['cpu']][fr[-1][0]] = (ch['task'], fr)
    ctvar = {0: truth['current_task']}
    if 'current_task_ap' in truth:
        ctvar[truth['current_task_ap']['cpu']] = truth['current_task_ap']

    seen = collections.Counter()
    good = collections.Counter()
    bad = collections.Counter()
    rnd = random.Random(1)
    with Guest(a.build, arch=a.arch, smp=a.smp) as g, \
            tempfile.TemporaryDirectory(prefix='qtop-chains-') as tmp:
        q = QMP(g.qmp_path)
        for _ in range(a.samples):
            time.sleep(rnd.uniform(0.002, 0.03))
            q.execute('stop')
            try:
                for cpu in cpus:
                    text = q.hmp('info registers', cpu=cpu)
                    regs = parse_registers(text)
                    regs['TR_BASE'] = tr_base(text)
                    mem = Mem(q, cpu, tmp, truth['pointer_size'])
                    ct = ctvar[cpu]
                    ptr = mem.word(ksyms.addr[ct['symbol']])
                    task = None
                    if ptr is not None:
                        raw = q.memsave(ptr + ct['offset'], ct['size'],
                                        os.path.join(tmp, 'n.bin'), cpu)
                        task = raw.split(b'\0', 1)[0].decode('ascii', 'replace')
                    chain = walk(regs, mem, truth, ksyms, progs.get(task), kbase)
                    if not chain or chain[-1][0] not in expected[cpu]:
                        continue          # between leaves (calls, switches, IRQs)
                    leaf = chain[-1][0]
                    seen[(cpu, leaf)] += 1
                    want_task, want = expected[cpu][leaf]
                    if chain == want and task == want_task:
                        good[(cpu, leaf)] += 1
                    else:
                        bad[(cpu, leaf)] += 1
                        if bad[(cpu, leaf)] <= 3:
                            print('  mismatch cpu%d task=%s: %s' % (
                                cpu, task, ' > '.join('%s[%s]' % f for f in chain)))
            finally:
                q.execute('cont')
        q.close()

    ok = True
    for cpu in cpus:
        for leaf, (task, want) in sorted(expected[cpu].items()):
            n, k = seen[(cpu, leaf)], good[(cpu, leaf)]
            line = 'cpu%d %-13s %-7s %3d/%3d  %s' % (
                cpu, leaf, task, k, n, ' > '.join(f for f, _ in want))
            # every chain must show up, and (nearly) always walk completely
            fail = n < 3 or k < 0.95 * n
            ok &= not fail
            print(line + ('  <-- FAIL' if fail else ''))
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

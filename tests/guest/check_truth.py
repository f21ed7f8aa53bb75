#!/usr/bin/env python3
"""Static check that truth.json and the built guest ELFs agree, without
booting anything: shares and chain weights add up, every chain function
exists in the right ELF, cfi_required functions really have no frame pointer
but do have CFI, every other chain function does set up a frame pointer,
the sysroot holds the kernel and the programs at user_load_addr, the
shared library (shared_text) is byte-identical at the same addresses in
every program and fills their first text page (a matcher that compares the
first page, or the code at a pc in the library, cannot tell them apart),
the programs' own code differs in every 64-byte window at a shared address,
frameless stubs neither touch the frame pointer nor have CFI, and the
current-task symbols exist.  Catches a renamed function or a changed flag
before the slow tests do.

    check_truth.py --build BUILD --arch x86_64
"""
import argparse
import collections
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
from guest import load_truth  # noqa: E402
from check_split import Symbols  # noqa: E402


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def first_insns(path, fn, n=2):
    out = run('objdump', '-d', '--no-show-raw-insn', '--disassemble=' + fn, path)
    insns = []
    for line in out.splitlines():
        m = re.match(r'\s*[0-9a-f]+:\s+(.*)', line)
        if m:
            insns.append(' '.join(m.group(1).split()))
            if len(insns) == n:
                break
    return insns


def fde_ranges(path):
    out = run('readelf', '--debug-dump=frames', path)
    return [(int(a, 16), int(b, 16)) for a, b in
            re.findall(r'pc=([0-9a-f]+)\.\.([0-9a-f]+)', out)]


def load_segments(path):
    """[(vaddr, file bytes)] of the PT_LOAD segments (ELF32 or ELF64)."""
    d = open(path, 'rb').read()
    segs = []
    if d[4] == 2:
        phoff, = struct.unpack_from('<Q', d, 32)
        phentsize, phnum = struct.unpack_from('<HH', d, 54)
        for i in range(phnum):
            typ, _, off, va, _, fsz, _, _ = struct.unpack_from('<IIQQQQQQ', d, phoff + i * phentsize)
            if typ == 1:
                segs.append((va, d[off:off + fsz]))
    else:
        phoff, = struct.unpack_from('<I', d, 28)
        phentsize, phnum = struct.unpack_from('<HH', d, 42)
        for i in range(phnum):
            typ, off, va, _, fsz, _, _, _ = struct.unpack_from('<IIIIIIII', d, phoff + i * phentsize)
            if typ == 1:
                segs.append((va, d[off:off + fsz]))
    return segs


def read_at(segs, addr, n):
    for va, b in segs:
        if va <= addr < va + len(b):
            return b[addr - va:addr - va + n]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--arch', default='x86_64')
    a = ap.parse_args()
    t = load_truth()
    truth = t['arches'][a.arch]
    kernel = os.path.join(a.build, truth['kernel'])
    if not os.path.exists(kernel):
        print('SKIP: %s not built' % kernel)
        return 77
    errors = []

    def need(cond, msg):
        if not cond:
            errors.append(msg)

    bp = 'rbp' if truth['pointer_size'] == 8 else 'ebp'
    sp = 'rsp' if truth['pointer_size'] == 8 else 'esp'
    sysroot = os.path.join(a.build, truth['sysroot'])
    progs = {name: v['program'] for name, v in truth['tasks'].items() if v['program']}
    elf = {'kernel': kernel}
    for task, prog in progs.items():
        elf[task] = os.path.join(sysroot, prog)
    syms = {}
    for k, p in elf.items():
        need(os.path.exists(p), 'missing %s' % p)
        if os.path.exists(p):
            syms[k] = Symbols(p)
    if errors:
        print('\n'.join(errors))
        return 1
    need(os.path.samefile(os.path.dirname(kernel), sysroot) or
         os.path.exists(os.path.join(sysroot, os.path.basename(kernel))),
         'kernel is not in the sysroot')

    # programs are loaded where truth says
    load = int(truth['user_load_addr'], 16)
    for task, prog in progs.items():
        hdr = run('readelf', '-lW', elf[task])
        vaddrs = [int(v, 16) for v in re.findall(r'LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)', hdr)]
        need(vaddrs and min(vaddrs) == load,
             '%s: lowest PT_LOAD at %s, truth says %#x' % (prog, vaddrs and hex(min(vaddrs)), load))

    # shares and weights
    for c in truth['cpus']:
        total = sum(l['share'] for l in c['leaves'])
        need(total == 100, 'cpu%d leaf shares sum to %s' % (c['cpu'], total))
        w = collections.Counter()
        for ch in truth['chains']:
            if ch['cpu'] == c['cpu']:
                w[ch['frames'][-1]['fn']] += ch['weight']
        for l in c['leaves']:
            need(w[l['leaf']] == l['share'],
                 'cpu%d %s: chain weight %d != share %d' % (c['cpu'], l['leaf'],
                                                          w[l['leaf']], l['share']))

    # chain functions: in the right ELF, frame pointer unless CFI-only
    cfi_only = set(truth['cfi_required'])
    frameless = set(truth.get('frameless', ()))
    stubs = set(truth.get('entry_stubs', ('syscall_entry', 'irq0_entry')))
    checked = set()
    for ch in truth['chains']:
        rec = [f['fn'] for f in ch['frames']].count(truth['recursion']['function'])
        if truth['recursion']['leaf'] == ch['frames'][-1]['fn']:
            need(rec == truth['recursion']['depth'],
                 'recursion chain has %d frames of %s' % (rec, truth['recursion']['function']))
        for f in ch['frames']:
            owner = 'kernel' if f['mode'] == 'kernel' else ch['task']
            key = (owner, f['fn'])
            if key in checked:
                continue
            checked.add(key)
            s = syms.get(owner)
            need(s is not None and f['fn'] in s.addr,
                 '%s not in %s' % (f['fn'], elf.get(owner)))
            if s is None or f['fn'] not in s.addr or f['fn'] in stubs:
                continue
            ins = first_insns(elf[owner], f['fn'])
            has_fp = (len(ins) == 2 and ins[0] == 'push %' + bp and
                      ins[1] == 'mov %%%s,%%%s' % (sp, bp))
            if f['fn'] in frameless:
                # the return address at the user sp is the only way out
                need(not any(bp in i for i in first_insns(elf[owner], f['fn'], 12)),
                     '%s touches %s (must be a frameless stub)' % (f['fn'], bp))
                pc = s.addr[f['fn']]
                need(not any(lo <= pc < hi for lo, hi in fde_ranges(elf[owner])),
                     'CFI (FDE) covers the frameless stub %s' % f['fn'])
            elif f['fn'] in cfi_only:
                need(not any(bp in i for i in first_insns(elf[owner], f['fn'], 8)),
                     '%s touches %s (must be built without frame pointer)' % (f['fn'], bp))
                need(f.get('cfi'), 'chain frame %s lacks "cfi": true' % f['fn'])
            else:
                need(has_fp, '%s (%s) does not start with a frame-pointer prologue: %s' % (
                    f['fn'], owner, ins))
    # CFI covers every cfi_required function and the entry stubs
    ranges = fde_ranges(kernel)
    for fn in sorted(cfi_only | stubs):
        if fn in syms['kernel'].addr:
            pc = syms['kernel'].addr[fn]
            need(any(lo <= pc < hi for lo, hi in ranges), 'no CFI (FDE) covers %s' % fn)
        else:
            need(False, '%s not in the kernel' % fn)
    # Programs share addresses.  The shared library: same bytes at the same
    # addresses in every program, and its page(s) -- the first text page --
    # identical as a whole: only the programs' own code tells them apart.
    images = {task: load_segments(elf[task]) for task in progs}
    tasks = sorted(progs)
    shared = set(truth.get('shared_text', ()))
    for fn in sorted(shared):
        where = {syms[t].addr.get(fn) for t in tasks}
        need(len(where) == 1 and None not in where,
             'shared %s not at one address in every program: %s' % (fn, where))
        if len(where) == 1 and None not in where:
            pc = where.pop()
            page = pc & ~0xfff
            pages = {read_at(images[t], page, 4096) for t in tasks}
            need(len(pages) == 1 and None not in pages,
                 'the page %#x of shared %s differs between programs' % (page, fn))
    if shared:
        first_text = min(min(a0 for a0, _, _ in syms[t].funcs) for t in tasks)
        need(any(syms[tasks[0]].addr[fn] & ~0xfff == first_text & ~0xfff
                 for fn in shared if fn in syms[tasks[0]].addr),
             'the shared library is not on the first text page %#x' % first_text)
    # Their own code: no 64-byte window at any function address of one
    # program may equal the other's (QP_CODE_BYTES = 64 in include/sample.h).
    for i, t1 in enumerate(tasks):
        for t2 in tasks[i + 1:]:
            same = 0
            for a0, size, fname in syms[t1].funcs:
                if fname in shared:
                    continue
                for pc in range(a0, a0 + max(size, 1)):
                    w1, w2 = read_at(images[t1], pc, 64), read_at(images[t2], pc, 64)
                    if w1 is not None and w1 == w2:
                        same += 1
            need(same == 0, '%s and %s have %d identical 64-byte code windows'
                 % (progs[t1], progs[t2], same))
    for key in ('current_task', 'current_task_ap'):
        if key in truth:
            need(truth[key]['symbol'] in syms['kernel'].addr,
                 'kernel lacks symbol %s' % truth[key]['symbol'])

    for e in errors:
        print('FAIL: ' + e)
    print('%d chain functions checked, %d problems' % (len(checked), len(errors)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())

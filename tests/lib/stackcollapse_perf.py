"""stackcollapse_perf.py - the parsing rules of FlameGraph's
stackcollapse-perf.pl (default options plus --kernel), reimplemented for the
tests: Debian 12 packages no FlameGraph.  Reads `perf script` text, returns
{folded stack: count}.

Rules kept: an event header is "comm pid[/tid] ..." (comm may hold spaces,
turned into '_'); a frame line is "<hex addr> <sym>[+0x<off>] (<module>)";
"[unknown]" symbols take the module's base name in brackets; generic tidy
(';' -> ':', text from '(' cut); with --kernel a frame whose module starts
with '[' or ends in 'vmlinux' (and is not [unknown]) gets "_[k]"; a blank
line ends the event, the comm becomes the root frame; each event counts 1.
"""
import re
import sys

HEADER = re.compile(r'^(\S.+?)\s+(\d+)/*(\d+)*\s+')
FRAME = re.compile(r'^\s*(\w+)\s*(.+) \((\S*)\)')


def collapse(text, annotate_kernel=True):
    out = {}
    stack, pname = [], None

    def flush():
        nonlocal stack, pname
        if pname is not None:
            key = ';'.join([pname] + stack)
            out[key] = out.get(key, 0) + 1
        stack, pname = [], None

    for line in text.splitlines():
        if line.startswith('#'):
            continue
        if not line.strip():
            flush()
            continue
        m = FRAME.match(line)
        if m and pname is not None:
            pc, rawfunc, mod = m.groups()
            rawfunc = re.sub(r'\+0x[\da-f]+$', '', rawfunc)
            func = rawfunc
            if func == '[unknown]':
                func = '[' + mod.rsplit('/', 1)[-1] + ']' if mod != '[unknown]' else '[unknown]'
            func = func.replace(';', ':')
            if not re.search(r'\.\(.*\)\.', func):
                func = re.sub(r'\((?!anonymous namespace\)).*', '', func)
            if annotate_kernel and re.search(r'(^\[|vmlinux$)', mod) and 'unknown' not in mod:
                func += '_[k]'
            stack.insert(0, func)
            continue
        m = HEADER.match(line)
        if m:
            flush()
            pname = m.group(1).replace(' ', '_')
    flush()
    return out


if __name__ == '__main__':
    for k, v in sorted(collapse(sys.stdin.read()).items()):
        print(k, v)

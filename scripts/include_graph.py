#!/usr/bin/env python3
"""include_graph.py - the module include graph of src/ and include/.

A module is a .c and its .h (same base name); an edge m -> t means a file of
m includes "t.h".  Prints every module's edges, then the problems, and exits
1 when there is one:

  - a cycle between modules;
  - a forbidden edge: see ALLOWED below.

Usage: include_graph.py [SOURCE_ROOT] [--quiet]
"""
import collections
import os
import re
import sys

# The stage of a module is the folder of its .c under src/ (src/main.c:
# "app").  A header in include/ without a .c is a plain types header
# ("types": sample.h, capture.h, frontend.h, ...): anyone may include it.
#
# Direction: acquire is the producer; everything after it (unwind, symbols,
# guest, profile, tui) consumes what it produced through the types headers
# and the ring (common), never through an acquire header.  Only acquire
# itself and the program (app) include acquire headers.  tui headers are
# included only by tui and the program.  common depends on nothing.
# Headers without a .c that belong to a stage all the same:
HEADER_STAGE = {'tui_view': 'tui', 'unwind': 'unwind',
                # the segment qtop-plugin.so and the plugin engine share
                'plugin_shm': 'acquire'}
ALLOWED_INTO = {
    'acquire': {'acquire', 'app'},
    'tui': {'tui', 'app'},
    'common': None,                 # None: anyone
    'types': None,
}
ALLOWED_FROM = {
    'common': {'common', 'types'},  # common includes only common and types
}


def scan(root):
    files = collections.defaultdict(list)   # module -> its files
    stage = {}
    for d, _, fs in os.walk(os.path.join(root, 'src')):
        for f in fs:
            if f.endswith(('.c', '.h')):
                m = f[:-2]
                files[m].append(os.path.join(d, f))
                if f.endswith('.c'):
                    rel = os.path.relpath(d, os.path.join(root, 'src'))
                    stage[m] = 'app' if rel == '.' else rel.split(os.sep)[0]
    for d, _, fs in os.walk(os.path.join(root, 'include')):
        for f in fs:
            if f.endswith('.h'):
                files[f[:-2]].append(os.path.join(d, f))
    for m in files:
        if m not in stage:
            # a header beside its stage's .c files (src/profile/export_int.h)
            here = [p for p in files[m] if os.sep + 'src' + os.sep in p]
            if m in HEADER_STAGE:
                stage[m] = HEADER_STAGE[m]
            elif here:
                rel = os.path.relpath(os.path.dirname(here[0]),
                                      os.path.join(root, 'src'))
                stage[m] = rel.split(os.sep)[0]
            else:
                stage[m] = 'types'
    edges = collections.defaultdict(set)
    inc = re.compile(r'\s*#\s*include\s+"([^"]+)\.h"')
    for m, paths in files.items():
        for p in paths:
            with open(p, encoding='utf-8') as fh:
                for line in fh:
                    r = inc.match(line)
                    if r:
                        t = os.path.basename(r.group(1))
                        if t != m and t in files:
                            edges[m].add(t)
    return files, stage, edges


def cycles(nodes, edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def forbidden(stage, edges):
    bad = []
    for m in sorted(edges):
        for t in sorted(edges[m]):
            src, dst = stage[m], stage[t]
            into = ALLOWED_INTO.get(dst, None)
            if dst in ALLOWED_INTO and into is not None and src not in into:
                bad.append((m, src, t, dst))
            frm = ALLOWED_FROM.get(src)
            if frm is not None and dst not in frm:
                bad.append((m, src, t, dst))
    return bad


def main(argv):
    quiet = '--quiet' in argv
    args = [a for a in argv[1:] if a != '--quiet']
    root = args[0] if args else os.path.join(os.path.dirname(__file__), '..')
    files, stage, edges = scan(root)
    if not quiet:
        for m in sorted(files):
            print('%-18s %-8s -> %s' % (m, stage[m], ' '.join(sorted(edges[m]))))
    problems = 0
    for c in cycles(files, edges):
        print('CYCLE:', ' '.join(c))
        problems += 1
    for m, src, t, dst in forbidden(stage, edges):
        print('FORBIDDEN: %s (%s) includes %s.h (%s)' % (m, src, t, dst))
        problems += 1
    print('include graph: %d modules, %d edges, %d problems'
          % (len(files), sum(len(e) for e in edges.values()), problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""export_test.py - the exports against the tools that read them, offline.

Input: the recorded guest samples (tests/data/unwind/guest-x86_64) replayed,
and a folded file loaded (aggregated exports).  Checks:
  - several -o at once, the format from the extension, --format, .json refused
  - pprof: `go tool pprof -top` flat/cum counts equal ours; -traces shows the
    vcpu, process and mode labels (skipped without Debian's golang-go)
  - speedscope: valid against speedscope's own file-format schema with ajv
    (npm packages from scripts/setup.sh's cache; without them, the schema's
    required structure checked here); per-vCPU profiles, weights, times
  - perf script: stackcollapse-perf's rules (tests/lib) give our folded file
  - --load of our pprof and speedscope files: the same top 10, shares within
    0.1 percentage points (the same stacks, in fact)
  - saves are atomic: an existing file is not overwritten, a full disk
    (small tmpfs, when mountable) leaves no file behind, bad paths say why
usage: export_test.py QTOP_PROF SRCDIR
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

QTOP, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, 'tests', 'lib'))
import stackcollapse_perf  # noqa: E402

DATA = os.path.join(SRC, 'tests', 'data', 'unwind', 'guest-x86_64')
failures = []
skipped = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print('FAIL:', what)


def run(args, cwd, ok=True):
    p = subprocess.run([QTOP] + args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if ok and p.returncode != 0:
        print(p.stderr)
        failures.append('qtop-prof ' + ' '.join(args) + ' failed')
    return p


def folded(path):
    d = {}
    for line in open(path):
        line = line.rstrip('\n')
        if line:
            k, v = line.rsplit(' ', 1)
            d[k] = d.get(k, 0) + int(v)
    return d


def table(p):
    """batch table rows in order: (name, module and mode) -> (self%, total%)"""
    rows = {}
    for line in p.stdout.splitlines()[1:]:
        m = re.match(r'\s*([\d.]+)%\s+([\d.]+)%\s+(\d+)\s+(\S+)\s*(.*)$', line)
        if m:
            rows[(m.group(4), m.group(5).strip())] = (float(m.group(1)), float(m.group(2)))
    return rows


def self_by_function(fold):
    """flat and cum per function name (no suffixes), cum once per stack"""
    flat, cum = {}, {}
    for k, v in fold.items():
        fr = [re.sub(r'(_\[[ki]\])+$', '', f) for f in k.split(';')[1:]]
        flat[fr[-1]] = flat.get(fr[-1], 0) + v
        for f in set(fr):
            cum[f] = cum.get(f, 0) + v
    return flat, cum


def check_pprof(path, fold, labels):
    go = shutil.which('go')
    if not go:
        skipped.append('go tool pprof (install golang-go)')
        return
    env = dict(os.environ, HOME=tempfile.mkdtemp(), GOTOOLCHAIN='local', GOFLAGS='')
    p = subprocess.run([go, 'tool', 'pprof', '-top', '-nodecount=1000',
                        '-sample_index=samples', path],
                       capture_output=True, text=True, timeout=300, env=env)
    check(p.returncode == 0, 'go tool pprof -top ran: ' + p.stderr[-300:])
    flat, cum = self_by_function(fold)
    got = {}
    for line in p.stdout.splitlines():
        m = re.match(r'\s*(\d+)\s+[\d.]+%\s+[\d.]+%\s+(\d+)\s+[\d.]+%\s+(.+)$', line)
        if m:
            got[m.group(3).strip()] = (int(m.group(1)), int(m.group(2)))
    check(got, 'pprof -top printed rows')
    for name, (f, c) in got.items():
        check(flat.get(name, 0) == f and cum.get(name, 0) == c,
              'pprof %s: flat/cum %d/%d, ours %d/%d' % (name, f, c, flat.get(name, 0),
                                                       cum.get(name, 0)))
    check(sum(v[0] for v in got.values()) == sum(fold.values()), 'pprof total')
    p = subprocess.run([go, 'tool', 'pprof', '-traces', path],
                       capture_output=True, text=True, timeout=300, env=env)
    for lab in labels:
        check(re.search(r'^\s*%s:' % lab, p.stdout, re.M), 'pprof -traces shows label ' + lab)


SCHEMA_REQ = {
    'file': ['$schema', 'profiles', 'shared'],
    'sampled': ['endValue', 'name', 'samples', 'startValue', 'type', 'unit', 'weights'],
}


def check_speedscope(path, per_cpu):
    doc = json.load(open(path))
    npm = os.environ.get('QTOP_NPM_DIR') or os.path.join(
        os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'qtop-prof', 'npm')
    schema = os.path.join(npm, 'node_modules', 'speedscope', 'dist', 'release',
                          'file-format-schema.json')
    node = shutil.which('node')
    if node and os.path.exists(schema) and os.path.isdir(os.path.join(npm, 'node_modules', 'ajv')):
        js = ("const Ajv=require('ajv');const a=new Ajv({strict:false});"
              "const v=a.compile(require(process.argv[1]));"
              "const ok=v(require(process.argv[2]));"
              "if(!ok){console.error(JSON.stringify(v.errors));process.exit(1)}")
        p = subprocess.run([node, '-e', js, schema, os.path.abspath(path)],
                           capture_output=True, text=True, cwd=npm, timeout=120,
                           env=dict(os.environ, NODE_PATH=os.path.join(npm, 'node_modules')))
        check(p.returncode == 0, 'speedscope schema (ajv): ' + p.stderr[-500:])
    else:
        skipped.append('ajv against the speedscope schema (scripts/setup.sh installs it): '
                       'structure checked in Python')
    for k in SCHEMA_REQ['file']:
        check(k in doc, 'speedscope: ' + k)
    check(doc['$schema'] == 'https://www.speedscope.app/file-format-schema.json', '$schema')
    nfr = len(doc['shared']['frames'])
    check(all(isinstance(f.get('name'), str) for f in doc['shared']['frames']), 'frame names')
    names = [p['name'] for p in doc['profiles']]
    check(names[0] == 'all vCPUs', 'merged profile first')
    check(all(n.startswith('vCPU ') for n in names[1:]) and (len(names) > 1) == per_cpu,
          'per-vCPU profiles: %s' % names)
    total = 0
    for pr in doc['profiles']:
        for k in SCHEMA_REQ['sampled']:
            check(k in pr, 'sampled profile: ' + k)
        check(pr['type'] == 'sampled' and pr['unit'] == 'nanoseconds', 'type/unit')
        check(len(pr['samples']) == len(pr['weights']), 'one weight per sample')
        check(all(0 <= i < nfr for s in pr['samples'] for i in s), 'frame indices')
        check(pr['endValue'] - pr['startValue'] == sum(pr['weights']), 'end = sum of weights')
        if pr['name'] != 'all vCPUs':
            total += len(pr['samples'])
    if per_cpu:
        check(total == len(doc['profiles'][0]['samples']), 'vCPU profiles add up')


def check_roundtrip(tmp, ref_path, path, ref_args=None):
    """ref_args: the run whose table is the reference (a replay keeps the
    modules, which pprof keeps too and folded files do not)"""
    a = table(run(ref_args + ['--top', '10'] if ref_args else
                  ['--load', ref_path, '--batch', '--top', '10'], tmp))
    b = table(run(['--load', path, '--batch', '--top', '10'], tmp))
    # ties may change places: the same rows, the same shares
    check(set(a) == set(b) and len(a) == 10, 'round trip %s: same top 10' % path)
    for k in a:
        check(k in b and abs(a[k][0] - b[k][0]) <= 0.1 and abs(a[k][1] - b[k][1]) <= 0.1,
              'round trip %s: %s shares' % (path, k))
    fa = run(['--load', ref_path, '--batch', '--folded'], tmp).stdout
    fb = run(['--load', path, '--batch', '--folded'], tmp).stdout
    check(sorted(fa.splitlines()) == sorted(fb.splitlines()),
          'round trip %s: the same folded stacks' % path)


def main():
    tmp = tempfile.mkdtemp(prefix='qtop-export-')
    try:
        rec = ['--replay', os.path.join(DATA, 'samples.qrec'),
               '--kernel', os.path.join(DATA, 'kernel'), '--sysroot', DATA, '--batch']
        # several -o at once, by extension; --format for the unknown one
        p = run(rec + ['-o', 'r.folded', '-o', 'r.pb.gz', '-o', 'r.speedscope.json',
                       '-o', 'r.perf-script', '-o', 'r.data', '--format', 'pprof'], tmp)
        for f in ['r.folded', 'r.pb.gz', 'r.speedscope.json', 'r.perf-script', 'r.data']:
            check(os.path.exists(os.path.join(tmp, f)), 'written: ' + f)
        check(open(os.path.join(tmp, 'r.data'), 'rb').read(2) == b'\x1f\x8b', '--format pprof')
        fold = folded(os.path.join(tmp, 'r.folded'))
        n = sum(fold.values())

        prof = gzip.decompress(open(os.path.join(tmp, 'r.pb.gz'), 'rb').read())
        check(len(prof) > 0, 'pprof is gzip')
        check_pprof(os.path.join(tmp, 'r.pb.gz'), fold, ['vcpu', 'process', 'mode'])
        check_speedscope(os.path.join(tmp, 'r.speedscope.json'), per_cpu=True)

        text = open(os.path.join(tmp, 'r.perf-script')).read()
        check(text.count('cpu-clock:') == n, 'perf script: one event per sample')
        check(stackcollapse_perf.collapse(text) == fold, 'stackcollapse-perf == our folded')

        check_roundtrip(tmp, os.path.join(tmp, 'r.folded'), os.path.join(tmp, 'r.pb.gz'), rec)
        check_roundtrip(tmp, os.path.join(tmp, 'r.folded'), os.path.join(tmp, 'r.speedscope.json'))

        # aggregated: --load of a folded file (theirs) exported and read back
        src = os.path.join(SRC, 'tests', 'data', 'folded', 'perf-stackcollapse.folded')
        run(['--load', src, '--batch', '-o', 'l.pb.gz', '-o', 'l.speedscope.json',
             '-o', 'l.perf', '-o', 'l.folded'], tmp)
        lf = folded(os.path.join(tmp, 'l.folded'))
        check_pprof(os.path.join(tmp, 'l.pb.gz'), lf, ['process', 'mode'])
        check_speedscope(os.path.join(tmp, 'l.speedscope.json'), per_cpu=False)
        check(stackcollapse_perf.collapse(open(os.path.join(tmp, 'l.perf')).read()) == lf,
              'aggregated perf script == folded')
        check_roundtrip(tmp, os.path.join(tmp, 'l.folded'), os.path.join(tmp, 'l.pb.gz'))
        check_roundtrip(tmp, os.path.join(tmp, 'l.folded'), os.path.join(tmp, 'l.speedscope.json'))

        # refusals and errors
        p = run(rec + ['-o', 'x.json'], tmp, ok=False)
        check(p.returncode != 0 and 'JSON report' in p.stderr, '.json refused: ' + p.stderr)
        p = run(rec + ['--format', 'json', '-o', 'x.out'], tmp, ok=False)
        check(p.returncode != 0 and 'JSON report' in p.stderr, '--format json refused')
        p = run(rec + ['--format', 'svg'], tmp, ok=False)
        check(p.returncode != 0, '--format svg refused')
        before = open(os.path.join(tmp, 'r.pb.gz'), 'rb').read()
        p = run(rec + ['-o', 'r.pb.gz'], tmp, ok=False)
        check(p.returncode != 0 and 'not overwriting' in p.stderr, 'existing file kept')
        check(open(os.path.join(tmp, 'r.pb.gz'), 'rb').read() == before, 'unchanged')
        p = run(rec + ['-o', 'nodir/x.speedscope.json'], tmp, ok=False)
        check(p.returncode != 0 and 'nodir' in p.stderr, 'missing directory: ' + p.stderr)
        p = run(['--load', os.path.join(DATA, 'kernel')], tmp, ok=False)
        check(p.returncode != 0, 'an ELF is not a profile')
        bad = os.path.join(tmp, 'bad.pb.gz')
        open(bad, 'wb').write(gzip.compress(b'\xff\xff\xff'))
        p = run(['--load', bad, '--batch'], tmp, ok=False)
        check(p.returncode != 0 and 'pprof' in p.stderr, 'broken pprof: ' + p.stderr)
        open(bad, 'wb').write(b'{"shared":{"frames":[]},"profiles":[{"type":"sampled"')
        p = run(['--load', bad, '--batch'], tmp, ok=False)
        check(p.returncode != 0 and 'JSON' in p.stderr, 'broken speedscope: ' + p.stderr)

        # a full disk: a 32 KiB tmpfs (root only); nothing may stay behind
        full = os.path.join(tmp, 'full')
        os.mkdir(full)
        if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', full],
                          capture_output=True).returncode == 0:
            try:
                p = run(rec + ['-o', os.path.join(full, 'big.perf-script')], tmp, ok=False)
                check(p.returncode != 0 and 'No space left' in p.stderr,
                      'full disk: ' + p.stderr)
                check(os.listdir(full) == [], 'full disk: no file left: %s' % os.listdir(full))
            finally:
                subprocess.run(['umount', full])
        else:
            skipped.append('full disk (cannot mount a tmpfs)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for s in skipped:
        print('skipped:', s)
    if failures:
        print('export_test: %d failure(s)' % len(failures))
        return 1
    print('export_test: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())

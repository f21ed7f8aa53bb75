"""Drive a TUI inside a private tmux server: start it in a detached session of
a given size, send keys, read the screen.  Each Tmux object has its own
server socket, so tests never touch the user's tmux or each other.

    with Tmux(80, 24) as tm:
        tm.start(["./qtop-prof", "--load", "x.folded"])
        tm.wait_for("Hotspots")
        tm.send("Tab")
        print(tm.screen())

Waits poll the screen until a condition holds; the timeout only bounds a
failing test, nothing asserts on time.
"""
import os
import shlex
import subprocess
import shutil
import tempfile
import time


class TmuxError(AssertionError):
    pass


class Tmux:
    def __init__(self, width=80, height=24, env=None, timeout=15.0):
        self.width, self.height = width, height
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix="qtop-tmux-")
        self.sock = os.path.join(self.dir, "sock")
        self.status_file = os.path.join(self.dir, "status")
        self.env = dict(os.environ)
        self.env.pop("TMUX", None)
        self.env.setdefault("TERM", "xterm-256color")
        self.env.update(env or {})
        self.started = False

    # -- low level ---------------------------------------------------------
    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                           capture_output=True, text=True, env=self.env)
        if check and r.returncode != 0:
            raise TmuxError("tmux %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def start(self, argv, cwd=None, env=None, before=None):
        """Run argv in a new session.  The command's exit status and the
        terminal modes afterwards are recorded (see exit_status, stty_after);
        the pane stays open afterwards so its screen can still be read."""
        envs = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in (env or {}).items())
        pre = "printf '%%s\\n' %s; " % shlex.quote(before) if before else ""
        cmd = ("%s%s%s; echo \"EXIT=$?\" > %s.tmp; stty -a >> %s.tmp 2>&1; "
               "mv %s.tmp %s; exec sleep 3600" % (
                   pre, (envs + " ") if envs else "",
                   " ".join(shlex.quote(a) for a in argv),
                   self.status_file, self.status_file, self.status_file,
                   self.status_file))
        args = ["new-session", "-d", "-s", "t", "-x", str(self.width),
                "-y", str(self.height)]
        if cwd:
            args += ["-c", cwd]
        self.tmux(*args, "sh", "-c", cmd)
        # keep the window at the size we ask for, whatever attaches
        self.tmux("set-option", "-g", "window-size", "manual", check=False)
        self.started = True

    def send(self, *keys):
        """tmux key names ("Tab", "Enter", "Escape", "BTab", "Up", "F1") or
        literal text; each argument is one send-keys call."""
        for k in keys:
            self.tmux("send-keys", "-t", "t", k)

    def send_literal(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def lines(self):
        return self.screen().split("\n")

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    # -- waiting -----------------------------------------------------------
    def wait_until(self, pred, what, timeout=None):
        end = time.monotonic() + (timeout or self.timeout)
        last = ""
        err = None
        while time.monotonic() < end:
            last = self.screen()
            # A screen caught mid-redraw (or before a key took effect) may not
            # parse yet: that is "not yet", not a failure.
            try:
                if pred(last):
                    return last
                err = None
            except (AssertionError, IndexError, ValueError, StopIteration) as e:
                err = e
            time.sleep(0.05)
        raise TmuxError("timed out waiting for %s%s; screen:\n%s"
                        % (what, " (last check: %r)" % err if err else "", last))

    def wait_for(self, text, timeout=None):
        return self.wait_until(lambda s: text in s, repr(text), timeout)

    def wait_gone(self, text, timeout=None):
        return self.wait_until(lambda s: text not in s, "%r to go" % text, timeout)

    def wait_exit(self, timeout=None):
        """Wait for the command to end; returns (exit status, stty -a text)."""
        end = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < end:
            if os.path.exists(self.status_file):
                with open(self.status_file) as f:
                    text = f.read()
                first, _, rest = text.partition("\n")
                return int(first.split("=", 1)[1]), rest
            time.sleep(0.05)
        raise TmuxError("program did not exit; screen:\n" + self.screen())

    def pane_pid(self):
        return int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def close(self):
        if self.started:
            self.tmux("kill-server", check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

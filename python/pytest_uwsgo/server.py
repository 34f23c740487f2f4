"""One uwsgo process: start it in its own process group, wait until it
serves, read its log, stop it and everything it forked."""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT = 10.0   # until the server answers
STOP_TIMEOUT = 10.0    # from the stop signal until the process group is gone

# Printed by a Go runtime that crashed; a log holding one is a uwsgo bug.
CRASH_MARKERS = ("panic:", "fatal error:", "SIGSEGV", "runtime/cgo:")

# Go's text for EADDRINUSE: another process took the free port we picked.
PORT_TAKEN = "address already in use"


class StartError(Exception):
    """The server exited, or did not answer, before it was ready."""


def find_binary(explicit=None, base=None):
    """The uwsgo to run: explicit (--uwsgo-bin), else $UWSGO_BIN, else uwsgo on
    PATH. A relative path is taken from base (default: the current directory).
    Raises LookupError saying where it looked."""
    path = explicit or os.environ.get("UWSGO_BIN")
    if path:
        path = os.path.join(str(base or os.getcwd()), os.path.expanduser(path))
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise LookupError("uwsgo binary %s is not an executable file" % path)
        return path
    found = shutil.which("uwsgo")
    if not found:
        raise LookupError("uwsgo not found: pass --uwsgo-bin, set UWSGO_BIN or put uwsgo on PATH")
    return found


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def live_processes():
    """(pid, stat fields after the command name) of every live, non-zombie
    process, from /proc: fields[0] is the state, [1] the ppid, [2] the pgid."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            yield int(d), fields


def group_members(pgid):
    """Live (non-zombie) processes of process group pgid."""
    return [pid for pid, fields in live_processes() if int(fields[2]) == pgid]


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(text, lines=150):
    parts = text.splitlines()
    if len(parts) > lines:
        parts = ["... (%d lines cut)" % (len(parts) - lines)] + parts[-lines:]
    return "\n".join(parts)


def answered(port, proc, deadline):
    """Whether the server on port serves: it accepts a connection that
    sends nothing and closes it. The kernel queues connections as soon as
    the socket is bound, before the app is loaded; only a serving worker
    reads the end of this one and closes it, with no request and no log
    line. False when the connection is refused or reset, proc exits or
    the deadline passes."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    except OSError:
        return False
    with s:
        s.shutdown(socket.SHUT_WR)
        while proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            s.settimeout(min(left, 0.1))
            try:
                if not s.recv(4096):
                    return True
            except socket.timeout:
                continue
            except OSError:
                return False
    return False


class Server:
    """A uwsgo started by the `uwsgo` fixture.

    .url      http://127.0.0.1:PORT        .port, .addr ("127.0.0.1", PORT)
    .pid      the first process (the master with --master)
    .log      everything it printed so far (stdout and stderr, in order)
    .reload() SIGHUP (a graceful reload with --master, a graceful stop without)
    .stop()   stop it and its whole process group; returns a list of problems
    """

    def __init__(self, argv, port, logpath, env=None, cwd=None, allow_crash=False):
        self.argv = [str(a) for a in argv]
        self.args = self.argv[1:]
        self.port = port
        self.addr = ("127.0.0.1", port)
        self.url = "http://127.0.0.1:%d" % port
        self.logpath = Path(logpath)
        self.allow_crash = allow_crash
        self.problems = []
        self.stopped = False
        self.reported = False   # its log is already in a failure message
        self._logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            self.argv, cwd=None if cwd is None else str(cwd), env=env,
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pid = self.pgid = self.proc.pid

    def __repr__(self):
        return "<uwsgo pid %d %s>" % (self.pid, " ".join(self.args))

    @property
    def log(self):
        try:
            return self.logpath.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=5.0):
        """Wait until text appears in the log; return the log (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError("%r not in the server log after %g s:\n%s"
                                     % (text, timeout, tail(log)))
            time.sleep(0.05)

    def describe(self):
        return "uwsgo %s\n--- server log ---\n%s\n--- end of server log ---" % (
            " ".join(self.args), tail(self.log))

    def wait_ready(self, timeout=START_TIMEOUT):
        """Wait until the server answers on its port; StartError if it exits first or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("uwsgo exited with code %s before it served on port %d"
                                 % (self.proc.returncode, self.port))
            if answered(self.port, self.proc, deadline) and self.proc.poll() is None:
                return
            time.sleep(0.05)
        raise StartError("uwsgo did not answer on port %d within %g s" % (self.port, timeout))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
        """Send sig and wait (bounded) for the process and its group to go.

        Returns the problems seen (empty when it stopped cleanly); whatever
        is still alive at the deadline is SIGKILLed. The problems are kept
        in .problems too: the fixture fails the test with them.
        """
        if self.stopped:
            return self.problems
        self.stopped = True
        problems = []
        name = signal.Signals(sig).name
        deadline = time.monotonic() + timeout
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append("uwsgo did not exit within %g s of %s" % (timeout, name))
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_members(self.pgid)
        if left:
            problems.append("processes left behind after %s: %s" % (name, left))
        kill_group(self.pgid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            problems.append("uwsgo survived SIGKILL")
        self._logf.close()
        if not self.allow_crash:
            log = self.log
            for m in CRASH_MARKERS:
                if m in log:
                    problems.append("the server log shows a crash (%r)" % m)
                    break
        self.problems = problems
        return problems

"""A throwaway PostgreSQL server for the tests (Debian's postgresql package).

    with PostgresServer() as pg:
        pg.dsn      # "host=<socket dir> port=<port> dbname=postgres user=postgres"

initdb + postgres in a new temporary directory under /tmp, listening only
on a unix socket in that directory (no TCP port to collide with), with
fsync off. As root, both run as the `postgres` user (PostgreSQL refuses
root), and the directory is theirs. Missing binaries fail, not skip.
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from helpers import free_port

START_TIMEOUT = 30.0


def pg_bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "postgres")) and os.path.exists(os.path.join(d, "initdb")):
            return d
    raise AssertionError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                         "install the postgresql package (make deps)")


class PostgresServer:
    def __init__(self, max_connections=200):
        self.bindir = pg_bindir()
        self.max_connections = max_connections
        self.dir = None
        self.proc = None
        self.port = free_port()

    def _as_pg(self):
        """Popen keyword arguments that run a child as postgres when we are root."""
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam("postgres")
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="uwsgo-pg-")
        data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        init = subprocess.run(
            [os.path.join(self.bindir, "initdb"), "-D", data, "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT, **self._as_pg())
        if init.returncode != 0:
            raise AssertionError("initdb failed (%d):\n%s"
                                 % (init.returncode, init.stdout.decode(errors="replace")))
        logf = open(os.path.join(self.dir, "server.log"), "wb")
        if os.geteuid() == 0:
            os.chown(logf.name, pwd.getpwnam("postgres").pw_uid, -1)
        self.proc = subprocess.Popen(
            [os.path.join(self.bindir, "postgres"), "-D", data, "-k", self.dir,
             "-p", str(self.port), "-c", "listen_addresses=",
             "-c", "max_connections=%d" % self.max_connections,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True, **self._as_pg())
        logf.close()
        self.dsn = "host=%s port=%d dbname=postgres user=postgres" % (self.dir, self.port)
        self._wait_ready()
        return self

    def _wait_ready(self):
        import psycopg2
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("postgres exited with code %s at start:\n%s"
                                     % (self.proc.returncode, self._log()))
            try:
                psycopg2.connect(self.dsn, connect_timeout=2).close()
                return
            except psycopg2.OperationalError as e:
                if time.monotonic() > deadline:
                    raise AssertionError("postgres not ready within %g s (%s):\n%s"
                                         % (START_TIMEOUT, e, self._log()))
            time.sleep(0.1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)   # fast shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

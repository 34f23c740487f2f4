"""Drop-in: uWSGI's socket options do what they do under uWSGI.

Each check runs against uwsgo and Debian's uWSGI 2.0.21 with the same
options (the `kind` parameter), so both are seen to give the same result.
"""
import json
import os
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from dropin_ref import KINDS, argv_for, pair, wait_until  # noqa: F401  (pair is a fixture)
from helpers import APPS, REPO, free_port, recv_until_closed, uwsgi_packet

APP = APPS / "dropin_app.py"
NOBODY = 65534  # nobody / nogroup on Debian


@pytest.fixture
def shared_dir():
    """A directory an unprivileged server can write in (pytest's tmp_path
    is private to root)."""
    d = tempfile.mkdtemp(prefix="uwsgo-dropin-")
    os.chmod(d, 0o777)
    yield d
    subprocess.run(["rm", "-rf", d], check=False)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def uwsgi_get(path_or_addr, uri="/ids", family=socket.AF_UNIX):
    """One request over the uwsgi protocol; returns the body."""
    pkt = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": uri, "QUERY_STRING": "",
                        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "x", "SERVER_PORT": "80",
                        "REQUEST_URI": uri, "HTTP_HOST": "x"})
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path_or_addr)
        s.sendall(pkt)
        data, _ = recv_until_closed(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    return body


def http_get(port, uri="/ids", host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % uri.encode())
        data, _ = recv_until_closed(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), data
    return head, body


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chmod,want", [(["--chmod-socket=660"], 0o660), (["--chmod-socket"], 0o666),
                                        ([], None)])
def test_chmod_socket(pair, tmp_path, kind, chmod, want):
    sock = tmp_path / "app.sock"
    old = os.umask(0o022)
    try:
        pair(kind, "--wsgi-file", APP, "--socket", sock, *chmod)
    finally:
        os.umask(old)
    if want is None:
        want = 0o755  # what bind(2) makes under umask 022
    assert mode_of(sock) == want, oct(mode_of(sock))
    assert json.loads(uwsgi_get(str(sock)))["pid"] > 0


@pytest.mark.parametrize("kind", KINDS)
def test_chown_socket(pair, tmp_path, kind):
    sock = tmp_path / "app.sock"
    pair(kind, "--wsgi-file", APP, "--socket", sock, "--chown-socket", "nobody:nogroup")
    st = os.lstat(sock)
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


@pytest.mark.parametrize("kind", KINDS)
def test_umask(pair, tmp_path, kind):
    sock = tmp_path / "app.sock"
    pair(kind, "--wsgi-file", APP, "--socket", sock, "--umask", "077")
    assert mode_of(sock) == 0o700, oct(mode_of(sock))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("master", [False, True])
def test_vacuum_removes_socket_and_pidfile(pair, tmp_path, kind, master):
    sock, pid = tmp_path / "app.sock", tmp_path / "app.pid"
    srv = pair(kind, "--wsgi-file", APP, "--socket", sock, "--pidfile", pid, "--vacuum",
               *(["--master"] if master else []))
    assert sock.exists() and int(pid.read_text()) == srv.proc.pid
    assert srv.stop() == []
    assert not sock.exists() and not pid.exists(), os.listdir(tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_without_vacuum_files_stay(pair, tmp_path, kind):
    sock, pid = tmp_path / "app.sock", tmp_path / "app.pid"
    srv = pair(kind, "--wsgi-file", APP, "--socket", sock, "--pidfile", pid)
    assert srv.stop() == []
    assert sock.exists() and pid.exists()


def privileged_port():
    """A free port below 1024: only root can bind it."""
    for port in range(900, 1020):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail("no free port below 1024")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("who", [("nobody", "nogroup"), ("65534", "65534")])
@pytest.mark.parametrize("master", [False, True])
def test_uid_gid_drop_before_app(pair, shared_dir, kind, who, master):
    """The process becomes nobody:nogroup before the app is imported; a
    unix socket it binds belongs to nobody:nogroup; pidfile2 is written
    after the drop."""
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges and must run as root")
    sock = os.path.join(shared_dir, "app.sock")
    srv = pair(kind, "--wsgi-file", APP, "--uid", who[0], "--gid", who[1], "--socket", sock,
               "--pidfile2", os.path.join(shared_dir, "p.pid"), *(["--master"] if master else []))
    ids = json.loads(http_get(srv.port)[1])
    assert (ids["uid"], ids["gid"], ids["import_uid"], ids["import_gid"]) == (NOBODY,) * 4, ids
    assert ids["groups"] == [NOBODY], ids
    assert json.loads(uwsgi_get(sock))["uid"] == NOBODY
    # the process the user started dropped too (the master, with --master)
    with open("/proc/%d/status" % srv.proc.pid) as f:
        uids = [line.split()[1:] for line in f if line.startswith(("Uid:", "Gid:"))]
    assert uids == [[str(NOBODY)] * 4] * 2, uids
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)
    assert os.stat(os.path.join(shared_dir, "p.pid")).st_uid == NOBODY


def test_uid_drop_comes_after_binding(uwsgo):
    """uwsgo binds its sockets as root, then drops: a port below 1024
    works with --uid. (uWSGI 2.0.21 drops first and fails to bind it:
    it needs --shared-socket for that.)"""
    port = privileged_port()
    srv = uwsgo("--wsgi-file", APP, "--uid", "nobody", "--gid", "nogroup", port=port)
    ids = json.loads(http_get(srv.port)[1])
    assert (ids["uid"], ids["import_uid"]) == (NOBODY, NOBODY), ids


@pytest.mark.parametrize("kind", KINDS)
def test_uid_alone_keeps_group(pair, kind):
    """--uid without --gid changes the user only, as in uWSGI."""
    srv = pair(kind, "--wsgi-file", APP, "--uid", "nobody")
    ids = json.loads(http_get(srv.port)[1])
    assert (ids["uid"], ids["gid"]) == (NOBODY, 0), ids


@pytest.mark.parametrize("opt", ["--uid", "--gid"])
def test_unknown_user_or_group_is_one_clear_error(opt, tmp_path):
    port = free_port()
    sock = tmp_path / "app.sock"
    for kind in KINDS:
        p = subprocess.run(argv_for(kind, ["--wsgi-file", APP, "--http-socket", "127.0.0.1:%d" % port,
                                           "--socket", sock, opt, "no-such-name-x"]),
                           cwd=str(REPO), capture_output=True, text=True, timeout=20)
        assert p.returncode != 0, (kind, p.stdout, p.stderr)
        assert "no-such-name-x" in p.stdout + p.stderr, (kind, p.stdout, p.stderr)
        if kind == "uwsgo":
            # one line, and nothing was started: no socket file left behind
            assert p.stderr.strip().count("\n") == 0, p.stderr
            assert "no-such-name-x" in p.stderr and not sock.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opt", ["--protocol", "--socket-protocol"])
def test_socket_speaks_http_with_protocol(pair, kind, opt):
    port = free_port()
    pair(kind, "--wsgi-file", APP, "--socket", "127.0.0.1:%d" % port, opt, "http", http=False,
         port=port)
    head, body = http_get(port, "/")
    assert head.split(b"\r\n")[0].endswith(b"200 OK") and body == b"hello\n"


@pytest.mark.parametrize("kind", KINDS)
def test_http11_socket_keeps_the_connection(pair, kind):
    port = free_port()
    pair(kind, "--wsgi-file", APP, "--http11-socket", "127.0.0.1:%d" % port, http=False, port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for _ in range(2):
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"hello\n"):
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("kind", KINDS)
def test_abstract_unix_socket(pair, kind):
    name = "uwsgo-test-%d-%s" % (os.getpid(), kind)
    pair(kind, "--wsgi-file", APP, "--socket", "@" + name)
    addr = "\0" + name
    if kind == "uwsgi":
        addr += "\0"  # uWSGI binds the name with its terminating NUL
    assert json.loads(uwsgi_get(addr))["pid"] > 0
    assert not os.path.exists("@" + name)

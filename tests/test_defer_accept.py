"""TCP_DEFER_ACCEPT on TCP listeners, side by side with Debian's uWSGI.

uWSGI sets TCP_DEFER_ACCEPT (for --socket-timeout seconds) on every TCP
listener unless --no-defer-accept: the kernel keeps a connection that has
sent nothing in SYN-RECV on the server's side, so no worker wakes for it,
and hands it over with its first bytes. Seen from outside with ss: the
server's end of a silent connection is SYN-RECV with it, ESTABLISHED
without it.
"""
import socket
import subprocess
import time

import pytest

from dropin_ref import KINDS, pair  # noqa: F401  (pair is a fixture)
from helpers import APPS, free_port, recv_until_closed, uwsgi_packet, until

APP = APPS / "dropin_app.py"


def server_side_states(port):
    """TCP states of the connections whose local port is port (the server's ends)."""
    out = subprocess.run(["ss", "-tanH", "sport = :%d" % port], capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] != "LISTEN")


def get(s):
    s.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "",
                            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "x", "SERVER_PORT": "80",
                            "REQUEST_URI": "/", "HTTP_HOST": "x"}))
    data, _ = recv_until_closed(s)
    return data


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("defer", [True, False], ids=["default", "no-defer-accept"])
def test_silent_connection_waits_in_the_kernel(pair, kind, defer):
    port = free_port()
    pair(kind, "--wsgi-file", APP, "--socket", "127.0.0.1:%d" % port,
         *([] if defer else ["--no-defer-accept"]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        want = "SYN-RECV" if defer else "ESTAB"
        until("the server's end of a silent connection in %s" % want,
              lambda: server_side_states(port) == [want], 5)
        if defer:
            time.sleep(0.3)
            assert server_side_states(port) == ["SYN-RECV"]  # still not handed to the server
        # the request arrives: served either way
        assert get(s).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("kind", KINDS)
def test_unix_sockets_are_untouched(pair, kind, tmp_path):
    # TCP_DEFER_ACCEPT is TCP's: a unix socket serves as before
    path = str(tmp_path / "app.sock")
    pair(kind, "--wsgi-file", APP, "--socket", path)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        assert get(s).startswith(b"HTTP/1.1 200")

"""uwsgi.opt holds the options as uWSGI fills it: bytes for a value, True
for a bare flag, a list for a repeated option; side by side with Debian's
uWSGI 2.0.21 on the same ini file and command line."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import child_env, kill_group, uwsgo_bin
from helpers import REQ_TIMEOUT, free_port, port_accepts

UWSGI = "/usr/bin/uwsgi"

APP = """\
import json
import uwsgi

def show(v):
    if v is True:
        return True
    if isinstance(v, list):
        return [show(x) for x in v]
    assert isinstance(v, bytes), (type(v), v)
    return v.decode()

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps({k: show(v) for k, v in uwsgi.opt.items()}).encode()]
"""

INI = """\
[uwsgi]
wsgi-file = %(here)s/app.py
http-socket = 127.0.0.1:%(port)d
env = A=1
env = B=2
buffer-size = 8192
master = true
"""


def serve(argv, port, cwd):
    """Start argv, GET / once it answers, stop it; return the JSON."""
    proc = subprocess.Popen([str(a) for a in argv], cwd=str(cwd), env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not port_accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
                pytest.fail("%s did not start: %s" % (argv[0], out))
            time.sleep(0.05)
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=REQ_TIMEOUT) as r:
                    return json.loads(r.read())
            except OSError as e:  # the master is up, its worker not yet
                last = e
                time.sleep(0.05)
        pytest.fail("%s never answered: %s" % (argv[0], last))
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=10)


def opt_of(binary, tmp_path, extra):
    port = free_port()
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "app.ini").write_text(INI % {"here": tmp_path, "port": port})
    got = serve([binary, "--ini", tmp_path / "app.ini", "--disable-logging", *extra], port, tmp_path)
    got.pop("plugin", None)  # uWSGI needs its python plugin named; uwsgo has it built in
    return got, port


def test_opt_holds_every_option_as_given(tmp_path):
    got, port = opt_of(uwsgo_bin(), tmp_path, [])
    assert got == {
        "ini": str(tmp_path / "app.ini"),
        "wsgi-file": "%s/app.py" % tmp_path,
        "http-socket": "127.0.0.1:%d" % port,
        "env": ["A=1", "B=2"],
        "buffer-size": "8192",
        "master": "true",
        "disable-logging": True,
    }


def test_opt_side_by_side_with_uwsgi(tmp_path):
    if not os.access(UWSGI, os.X_OK):
        pytest.fail("%s is missing: make deps installs uwsgi-core" % UWSGI, pytrace=False)
    ours, port1 = opt_of(uwsgo_bin(), tmp_path, [])
    theirs, port2 = opt_of(UWSGI, tmp_path, ["--plugin", "python3"])
    theirs["http-socket"] = theirs["http-socket"].replace(str(port2), str(port1))
    # A deliberate difference: uWSGI means a repeated option to be a list
    # (its python plugin builds one), but on Python 3 it looks the key up
    # as bytes in a dict of str keys, never finds it, and the last value
    # wins. uwsgo keeps the list.
    assert ours.pop("env") == ["A=1", "B=2"]
    assert theirs.pop("env") == "B=2"
    assert ours == theirs


def test_opt_shows_threads(tmp_path):
    got, _ = opt_of(uwsgo_bin(), tmp_path, ["--threads", "2", "--enable-threads"])
    assert got["threads"] == "2" and got["enable-threads"] is True

"""The pytest plugin (python/pytest_uwsgo) as a user's project meets it:
inner pytest runs (pytester) of test files that use the uwsgo fixture,
with nothing but the plugin and an app in their directory."""
import json
import os
import shutil
import textwrap
import time

import pytest

from helpers import APPS, EXAMPLES, REPO
from pytest_uwsgo import group_members, uwsgi_request

# Each inner run loads the plugin as the suite does (an installed copy
# must not register a second time).
PLUGIN = ("-p", "no:uwsgo", "-p", "pytest_uwsgo.plugin", "-p", "no:cacheprovider")

APP = '''\
import os, sys
print("app module loaded", flush=True)

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %d" % (environ["PATH_INFO"], os.getpid())).encode()]

def other(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"other"]
'''


def run_inner(pytester, test_source, *args, app=APP):
    """Write myapp.py and test_inner.py into a fresh directory and run pytest there."""
    pytester.makepyfile(myapp=app, test_inner=textwrap.dedent(test_source))
    return pytester.runpytest(*PLUGIN, *args)


def outcome_text(result):
    return "\n".join(result.outlines + result.errlines)


def test_fixture_starts_several_servers_and_stops_their_groups(pytester):
    result = run_inner(pytester, '''
        import os, urllib.request

        def get(url):
            return urllib.request.urlopen(url, timeout=10).read().decode()

        def test_three(uwsgo, tmp_path):
            by_module = uwsgo("myapp")              # the rootdir is on the Python path
            by_file = uwsgo("myapp.py", "--async", "2")
            by_callable = uwsgo("myapp:other")
            servers = [by_module, by_file, by_callable]
            assert len({s.port for s in servers}) == 3
            for s in servers:
                assert s.url == "http://127.0.0.1:%d" % s.port
                assert s.addr == ("127.0.0.1", s.port)
            assert get(by_module.url + "/a") == "/a %d" % by_module.pid
            assert get(by_file.url + "/b") == "/b %d" % by_file.pid
            assert get(by_callable.url + "/") == "other"
            assert by_file.args[-2:] == ["--async", "2"]
            assert "--wsgi-file" in by_file.args and "--module" in by_module.args
            assert "app module loaded" in by_module.log
            assert "GET /a" in by_module.wait_log("GET /a")
            with open(os.environ["PIDS_FILE"], "w") as f:
                f.write(" ".join(str(s.pid) for s in servers))
    ''')
    result.assert_outcomes(passed=1)
    pids = [int(p) for p in (pytester.path / "pids").read_text().split()] \
        if (pytester.path / "pids").exists() else None
    assert pids, outcome_text(result)
    for pid in pids:
        assert not group_members(pid), "process group %d outlived its test" % pid


@pytest.fixture(autouse=True)
def _pids_file(pytester, monkeypatch):
    monkeypatch.setenv("PIDS_FILE", str(pytester.path / "pids"))


def test_stop_and_reload(pytester):
    result = run_inner(pytester, '''
        import os, signal, urllib.request

        def get(url):
            return urllib.request.urlopen(url, timeout=10).read().decode()

        def test_reload_restarts_workers(uwsgo):
            srv = uwsgo("myapp", "--master")
            before = get(srv.url + "/").split()[1]
            srv.reload()
            srv.wait_log("reloaded", timeout=20)
            after = get(srv.url + "/").split()[1]
            assert after != before and int(after) != srv.pid

        def test_stop(uwsgo):
            srv = uwsgo("myapp")
            assert srv.stop() == []
            assert srv.proc.returncode is not None
            try:
                os.kill(srv.pid, 0)
                gone = False
            except ProcessLookupError:
                gone = True
            assert gone
            assert srv.stop() == []   # twice is fine
    ''')
    result.assert_outcomes(passed=2)


def test_failing_test_report_shows_the_server_log(pytester):
    app = APP.replace('print("app module loaded"', 'print("marker-7f3a in the log"')
    result = run_inner(pytester, '''
        import urllib.request

        def test_fails(uwsgo):
            srv = uwsgo("myapp")
            urllib.request.urlopen(srv.url + "/seen-by-the-app", timeout=10).read()
            srv.wait_log("GET /seen-by-the-app")   # logged after the response went out
            assert False, "the test's own failure"
    ''', app=app)
    result.assert_outcomes(failed=1)
    text = outcome_text(result)
    assert "the test's own failure" in text
    result.stdout.fnmatch_lines(["*uwsgo server 0 log (pid *): uwsgo --http-socket 127.0.0.1:* --module myapp*"])
    assert "marker-7f3a in the log" in text
    assert "GET /seen-by-the-app" in text


def test_passing_test_report_has_no_log(pytester):
    result = run_inner(pytester, '''
        def test_ok(uwsgo):
            uwsgo("myapp")
    ''', "-rA")
    result.assert_outcomes(passed=1)
    assert "uwsgo server 0 log" not in outcome_text(result)


@pytest.mark.parametrize("app,options,error", [
    ("no_such_module_4b1d", [], "No module named 'no_such_module_4b1d'"),
    ("myapp", ["--async", "lots"], "lots"),
    ("missing_file.py", [], "missing_file.py"),
], ids=["unimportable", "bad-option", "missing-file"])
def test_server_that_cannot_start_fails_with_its_error(pytester, app, options, error):
    result = run_inner(pytester, '''
        def test_start(uwsgo):
            uwsgo(%r, *%r)
    ''' % (app, options))
    result.assert_outcomes(failed=1)
    text = outcome_text(result)
    assert "uwsgo exited with code" in text, text
    assert "did not answer" not in text
    assert error in text, text


def test_binary_from_option_then_env_then_path(pytester, monkeypatch, tmp_path):
    binary = os.environ["UWSGO_BIN"]
    pytester.makepyfile(test_inner='''
        import os
        def test_bin(uwsgo_bin):
            assert uwsgo_bin == os.environ["EXPECT_BIN"]
    ''')
    link = tmp_path / "path-dir" / "uwsgo"
    link.parent.mkdir()
    link.symlink_to(binary)
    other = tmp_path / "other-uwsgo"
    other.symlink_to(binary)

    monkeypatch.setenv("EXPECT_BIN", str(other))
    pytester.runpytest(*PLUGIN, "--uwsgo-bin", str(other)).assert_outcomes(passed=1)

    monkeypatch.setenv("EXPECT_BIN", binary)
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=1)

    monkeypatch.delenv("UWSGO_BIN")
    monkeypatch.setenv("PATH", "%s:%s" % (link.parent, os.environ["PATH"]))
    monkeypatch.setenv("EXPECT_BIN", str(link))
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=1)


def test_missing_binary_fails_saying_where_it_looked(pytester, monkeypatch):
    monkeypatch.delenv("UWSGO_BIN")
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_inner(pytester, '''
        def test_start(uwsgo):
            uwsgo("myapp")
    ''')
    result.assert_outcomes(errors=1)
    assert "uwsgo not found: pass --uwsgo-bin, set UWSGO_BIN or put uwsgo on PATH" \
        in outcome_text(result)


def test_uwsgo_arg_reaches_every_server(pytester):
    result = run_inner(pytester, '''
        def test_args(uwsgo):
            for srv in (uwsgo("myapp"), uwsgo("myapp", "--disable-logging")):
                assert srv.args[-2:] == ["--async", "3"]
                assert "cores: 3" in srv.wait_log("cores: 3")
    ''', "--uwsgo-arg=--async", "--uwsgo-arg", "3")
    result.assert_outcomes(passed=1)


def test_uwsgi_request_speaks_uwsgi_to_a_socket(uwsgo, tmp_path):
    srv = uwsgo("--wsgi-file", APPS / "basic.py", proto="uwsgi")
    r = uwsgi_request(srv.port, "/echo", method="POST", body=b"payload")
    assert (r.status, r.reason, r.body) == (200, "OK", b"payload"), r.raw[:500]
    assert r.headers["content-length"] == "7"
    r = uwsgi_request(("127.0.0.1", srv.port), "/environ/x?a=1&b=2",
                      headers={"Content-Type": "text/plain", "X-Trace": "t1"},
                      vars={"REMOTE_ADDR": "10.1.2.3"})
    env = json.loads(r.body)
    assert env["REQUEST_METHOD"] == "GET" and env["PATH_INFO"] == "/environ/x", env
    assert env["QUERY_STRING"] == "a=1&b=2" and env["REQUEST_URI"] == "/environ/x?a=1&b=2"
    assert env["CONTENT_TYPE"] == "text/plain" and env["HTTP_X_TRACE"] == "t1"
    assert env["REMOTE_ADDR"] == "10.1.2.3"
    # no Content-Length: the body runs to the end of the connection, or is chunked
    assert uwsgi_request("127.0.0.1:%d" % srv.port, "/nolength").body == b"part1-part2-part3"

    sock = str(tmp_path / "app.sock")
    usrv = uwsgo("--wsgi-file", APPS / "basic.py", "--socket", sock, proto=None, port=0,
                 wait=False)
    usrv.wait_log("ready in")
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uwsgi_request(sock, "/hello").body == b"Hello World"


def readme_example():
    """The python block of README's "Testing your app under uwsgo"."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Testing your app under uwsgo\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_example_runs(pytester):
    example = readme_example()
    assert len(example.splitlines()) <= 12, example
    pytester.makepyfile(test_readme=example)
    shutil.copy(EXAMPLES / "hello.py", pytester.path / "hello.py")
    result = pytester.runpytest(*PLUGIN, "-v")
    result.assert_outcomes(passed=example.count("\ndef test_"))

"""The configuration layer through the real binary: the unknown-option
policy, --strict, the ini/yaml/json dialect (magic variables, placeholders,
includes, if/for), UWSGI_* variables, --show-config and --print, side by
side with Debian's uWSGI 2.0.21 where both can be observed, and the
realistic configurations of tests/configs serving their app."""
import getpass
import grp
import os
import re
import socket
import subprocess
import urllib.request

import pytest

from conftest import child_env, kill_group, uwsgo_bin
from helpers import EXAMPLES, REQ_TIMEOUT, TESTS, free_port, uwsgi_packet, recv_until_closed

UWSGI = "/usr/bin/uwsgi"
CONFIGS = TESTS / "configs"
HELLO = EXAMPLES / "hello.py"


def get(url, timeout=REQ_TIMEOUT):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def run(argv, cwd, env=None, timeout=20):
    """Run argv to completion in cwd; (returncode, stdout, stderr)."""
    proc = subprocess.Popen([str(a) for a in argv], cwd=str(cwd), env=child_env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate(timeout=5)
        pytest.fail("%s still running after %g s\n%s\n%s" % (argv, timeout, out.decode(), err.decode()))
    kill_group(proc.pid)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def uwsgi_bin():
    if not os.access(UWSGI, os.X_OK):
        pytest.fail("%s is missing: make deps installs uwsgi-core" % UWSGI, pytrace=False)
    return UWSGI


def both(args, cwd, env=None):
    """Run uwsgo and Debian's uWSGI with the same arguments (both are made
    to exit by the configuration). Returns {"uwsgo": (rc, out, err), "uwsgi": ...}."""
    return {"uwsgo": run([uwsgo_bin(), *args], cwd, env),
            "uwsgi": run([uwsgi_bin(), *args], cwd, env)}


def shown_config(stderr):
    """The key = value lines --show-config printed."""
    m = re.search(r"^;uWSGI instance configuration\n\[uwsgi\]\n(.*?)^;end of configuration$",
                  stderr, re.S | re.M)
    assert m, "no --show-config block in:\n" + stderr
    return m.group(1).splitlines()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one line, got:\n" + text
    return lines[0]


# ---------------------------------------------------------------- policy

def test_unknown_option_in_ini_warns_and_starts(uwsgo, tmp_path):
    ini = write(tmp_path / "app.ini", "[uwsgi]\nwsgi-file = %s\nno-such-thing = 1\nmaster = true\n" % HELLO)
    srv = uwsgo("--ini", ini)
    assert get(srv.url + "/")[0] == 200
    warn = [l for l in srv.log.splitlines() if "no-such-thing" in l]
    assert len(warn) == 1, srv.log
    assert "%s:3" % ini in warn[0] and "warning" in warn[0], warn


def test_unknown_flag_warns_and_starts(uwsgo):
    srv = uwsgo("--wsgi-file", HELLO, "--procesess", "2")
    assert get(srv.url + "/")[0] == 200
    warn = [l for l in srv.log.splitlines() if "--procesess" in l]
    assert len(warn) == 1 and "command line" in warn[0] and "--processes" in warn[0], srv.log
    assert "Usage:" not in srv.log


def test_unknown_flag_with_strict_exits_2(uwsgo_run):
    res = uwsgo_run("--wsgi-file", HELLO, "--strict", "--procesess", "2")
    assert res.returncode == 2, res
    line = one_line(res.stderr)
    assert "--procesess" in line and "--processes" in line, line
    assert "Usage" not in res.stdout + res.stderr


def test_strict_in_file_makes_unknown_fatal(uwsgo_run, tmp_path):
    ini = write(tmp_path / "s.ini", "[uwsgi]\nstrict = true\nwsgi-file = %s\nmodul = x\n" % HELLO)
    res = uwsgo_run("--ini", ini)
    assert res.returncode == 1, res
    line = one_line(res.stderr)
    assert "modul" in line and "%s:4" % ini in line, line


def test_strict_is_fatal_in_uwsgi_too(tmp_path):
    ini = write(tmp_path / "s.ini", "[uwsgi]\nstrict = true\nmodul = x\n")
    r = run([uwsgi_bin(), "--ini", ini], tmp_path)
    assert r[0] != 0 and "modul" in r[2], r


@pytest.mark.parametrize("body,wants", [
    ("processes = four\n", ["processes", "four", ":3", "whole number"]),
    ("master = perhaps\n", ["master", "perhaps", ":3"]),
    ("ini = /no/such/dir/x.ini\n", ["/no/such/dir/x.ini", ":3"]),
    ("a = %(b)\nb = %(a)\nenv = X=%(a)\n", ["loop", ":3"]),
    ("socket\n", ["socket", "needs a value", ":3"]),
], ids=["bad-int", "bad-bool", "missing-include", "placeholder-loop", "no-value"])
def test_bad_input_is_one_line(uwsgo_run, tmp_path, body, wants):
    ini = write(tmp_path / "bad.ini", "[uwsgi]\nwsgi-file = %s\n%s" % (HELLO, body))
    res = uwsgo_run("--ini", ini)
    assert res.returncode != 0, res
    line = one_line(res.stderr)
    for w in wants:
        assert w in line, (w, line)
    assert "goroutine" not in res.stderr


def test_unreadable_include_is_one_line(uwsgo_run, tmp_path):
    inc = write(tmp_path / "secret.ini", "[uwsgi]\nmaster = true\n")
    inc.chmod(0)
    ini = write(tmp_path / "main.ini", "[uwsgi]\nwsgi-file = %s\nini = %s\n" % (HELLO, inc))
    if os.geteuid() == 0:
        # root reads any file: make it a directory instead, which nobody reads as a file
        inc.unlink()
        inc.mkdir()
    res = uwsgo_run("--ini", ini)
    assert res.returncode == 1, res
    line = one_line(res.stderr)
    assert "secret.ini" in line and "main.ini:3" in line, line


def test_banner_lists_the_no_ops_with_reasons(uwsgo):
    srv = uwsgo("--wsgi-file", HELLO, "--thunder-lock", "--lazy-apps", "--enable-threads",
                "--cheaper", "1", "--cheaper-step", "1", "--offload-threads", "2")
    assert get(srv.url + "/")[0] == 200
    log = srv.log
    assert re.search(r"accepted, no effect: thunder-lock: uwsgo's workers do not share an accept lock", log), log
    assert re.search(r"accepted, no effect: lazy-apps: .*workers", log), log
    assert "enable-threads" not in log, log   # implemented: app threads run, as with uWSGI's
    assert re.search(r"accepted, no effect: offload-threads: .*event loop", log), log
    # the cheaper family is one line
    assert len([l for l in log.splitlines() if "cheaper" in l]) == 1 and "cheaper, cheaper-step" in log, log


def not_implemented_flags(uwsgo_run):
    """The flags --help marks as not implemented yet (they change as
    options get implemented)."""
    res = uwsgo_run("--help", proto=None)
    return re.findall(r"^  --([a-z0-9-]+)  +[^\n]*\(not implemented yet", res.stdout, re.M)


def test_not_implemented_is_warned(uwsgo, uwsgo_run):
    flags = not_implemented_flags(uwsgo_run)
    assert flags, "no flag is marked not implemented in --help: this test has nothing left to check; delete it"
    srv = uwsgo("--wsgi-file", HELLO, "--" + flags[0], "--" + flags[0])
    assert get(srv.url + "/")[0] == 200
    warn = [l for l in srv.log.splitlines() if "not implemented" in l]
    assert len(warn) == 1 and flags[0] in warn[0] and "(command line)" in warn[0], srv.log


def test_plugins(uwsgo):
    srv = uwsgo("--wsgi-file", HELLO, "--plugins", "python3,http,router_static", "--plugin", "gevent_python3",
                "--need-plugins", "python311,logfile", "--plugin", "php")
    assert get(srv.url + "/")[0] == 200
    warn = [l for l in srv.log.splitlines() if "plugin" in l]
    assert len(warn) == 1 and '"php"' in warn[0], srv.log


def test_short_flags(uwsgo, tmp_path):
    port = free_port()
    srv = uwsgo("-w", "hello", "--pythonpath", EXAMPLES, "-s", "127.0.0.1:%d" % port, "-M", "-p", "2",
                "-b", "8192", "-L", "-T", "-t", "30", "-z", "9")
    assert get(srv.url + "/")[0] == 200
    assert "2 worker(s)" in srv.log


def test_help_and_version(uwsgo_run):
    res = uwsgo_run("--help", proto=None)
    assert res.returncode == 0 and res.stdout.startswith("Usage: uwsgo"), res
    for line in ["\n  -w, --module, --wsgi MODULE   load a WSGI module", "\n  -s, --socket, --uwsgi-socket ADDR\n",
                 "\n  -C, --chmod-socket, --chmod[=MODE]\n", "\n  --thunder-lock  "]:
        assert line in res.stdout, line
    res = uwsgo_run("--version", proto=None)
    assert res.returncode == 0 and res.stdout.strip() == "uwsgo 0.1.0", res


# ---------------------------------------------------------------- dialect

def test_uwsgi_env_vars_are_options(uwsgo):
    port = free_port()
    srv = uwsgo(proto=None, port=port, env={"UWSGI_MODULE": "hello", "UWSGI_PYTHONPATH": str(EXAMPLES),
                                            "UWSGI_HTTP_SOCKET": "127.0.0.1:%d" % port})
    assert get(srv.url + "/")[0] == 200


def test_placeholders_side_by_side(tmp_path):
    """Every magic variable, %(var), $(ENV), @(file) and arithmetic, printed
    by --print on both servers."""
    d = tmp_path / "a" / "b"
    write(d / "value.txt", "from-a-file\n")
    ini = write(d / "magic.conf.ini", "\n".join([
        "[uwsgi]",
        "base = /srv/%n",
        "workers_wanted = 3",
        "print = d=%d",
        "print = n=%n",
        "print = s=%s",
        "print = c=%c",
        "print = p=%p",
        "print = e=%e",
        "print = o=%o",
        "print = v=%v",
        "print = h=%h",
        "print = k=%k",
        "print = x=%x",
        "print = digits=%0|%1|%2|%3",
        "print = t=%t",
        "print = T=%T",
        "print = pct=100%% sure",
        "print = var=%(base)/app",
        "print = later=%(defined_later)",
        "print = env=$(I12_TEST_VAR)",
        "print = file=@(%dvalue.txt)",
        "print = plus=%(workers_wanted + 1)",
        "print = cpus_plus=%(%k + 1)",
        "print = times=%(workers_wanted * 2)",
        "defined_later = yes",
        "chdir = /nonexistent-i12-dir",
        "",
    ]))
    rel = os.path.relpath(ini, tmp_path)
    res = both(["--ini", rel + ":uwsgi"], tmp_path, env={"I12_TEST_VAR": "hello-env"})
    outs = {}
    for name, (rc, out, err) in res.items():
        assert rc != 0, (name, out, err)   # both stop at the chdir
        outs[name] = [l for l in out.splitlines() if "=" in l]
    a, b = outs["uwsgo"], outs["uwsgi"]
    assert len(a) == len(b) == 22, (a, b)
    for la, lb in zip(a, b):
        if la.startswith(("t=", "T=")):
            ka, va = la.split("=", 1)
            kb, vb = lb.split("=", 1)
            scale = 1 if ka == "t" else 1000000
            assert ka == kb and abs(int(va) - int(vb)) <= 30 * scale, (la, lb)
        else:
            assert la == lb, (la, lb)
    assert "env=hello-env" in a and "file=from-a-file" in a and "plus=4" in a and "times=6" in a


def test_show_config_side_by_side(tmp_path):
    """A placeholder-heavy ini with includes and logic: --show-config shows
    the same configuration on both."""
    conf = tmp_path / "conf"
    write(conf / "common.ini", "\n".join([
        "[uwsgi]",
        "master = true",
        "processes = %(workers_wanted)",
        "env = COMMON_DIR=%d",
        "[extra]",
        "env = EXTRA_FROM=%n:%x",
        "harakiri = %(workers_wanted + 27)",
        "",
    ]))
    write(conf / "paths.txt", "/opt/one\n/opt/two\n")
    write(conf / "main.ini", "\n".join([
        "[uwsgi]",
        "project = demo",
        "workers_wanted = 3",
        "ini = %dcommon.ini",
        "ini = :extra",
        "ini = %dcommon.ini:extra",
        "socket = /tmp/%(project).sock",
        "if-env = I12_SET",
        "env = SEEN=%(_)",
        "endif =",
        "if-not-env = I12_NOT_SET_EVER",
        "env = NOT_SET=1",
        "endif =",
        "if-exists = %dpaths.txt",
        "env = EXISTS=1",
        "endif =",
        "if-dir = %dpaths.txt",
        "env = WRONG=1",
        "endif =",
        "for = a b c",
        "env = FOR_%(_)=1",
        "endfor =",
        "for-readline = %dpaths.txt",
        "pythonpath = %(_)",
        "endfor =",
        "show-config = true",
        "chdir = /nonexistent-i12-dir",
        "",
    ]))
    res = both(["--ini", "conf/main.ini"], tmp_path, env={"I12_SET": "yes"})
    a = shown_config(res["uwsgo"][2])
    b = shown_config(res["uwsgi"][2])
    assert a == b, "\n".join(["uwsgo:"] + a + ["uwsgi:"] + b)
    assert "env = SEEN=yes" in a and "harakiri = 30" in a and "env = EXTRA_FROM=common:extra" in a


def test_yaml_and_json_side_by_side(tmp_path):
    write(tmp_path / "app.yaml", "\n".join([
        "uwsgi:",
        "  project: demo",
        "  socket: /tmp/%(project).sock",
        "  master: true",
        "  processes: 4",
        "  env:",
        "    - A=1",
        "    - B=%n",
        "  chdir: /nonexistent-i12-dir",
        "  show-config: true",
        "",
    ]))
    write(tmp_path / "app.json", """{"uwsgi": {
  "project": "demo",
  "socket": "/tmp/%(project).sock",
  "master": true,
  "processes": 4,
  "env": ["A=1", "B=%n"],
  "chdir": "/nonexistent-i12-dir",
  "show-config": true
}}
""")
    for args in (["--yaml", "app.yaml"], ["--json", "app.json"], ["app.yaml"]):
        res = both(args, tmp_path)
        a = shown_config(res["uwsgo"][2])
        b = shown_config(res["uwsgi"][2])
        assert a == b, (args, a, b)
        assert "env = B=app" in a and "socket = /tmp/demo.sock" in a, a


def test_env_defaults_and_inline_comments(uwsgo, tmp_path):
    ini = write(tmp_path / "c.ini", "\n".join([
        "[uwsgi]",
        "wsgi-file = $(I12_APP:-%s)" % HELLO,
        "processes = 2   # two workers",
        "master = true ; and a master",
        "",
    ]))
    srv = uwsgo("--ini", ini)
    assert get(srv.url + "/")[0] == 200
    assert "2 worker(s)" in srv.log, srv.log


# ---------------------------------------------------------------- real configurations

def config_env(tmp_path, port):
    return {
        "PORT": str(port), "UPSTREAM_PORT": str(free_port()), "RUNDIR": str(tmp_path),
        "APP_USER": getpass.getuser(), "APP_GROUP": grp.getgrgid(os.getgid()).gr_name,
    }


EXPECT = {
    "django_basic.ini": "mysite cwd=%(project)s settings=mysite.settings",
    "django_docker.ini": "mysite cwd=%(project)s settings=mysite.settings",
    "django_prod.ini": "mysite cwd=%(project)s settings=mysite.settings",
    "flask_tutorial.ini": "flaskapp cwd=%(project)s mode=-",
    "flask_placeholders.ini": "flaskapp cwd=%(project)s mode=placeholders-flask_placeholders",
    "flask_dev.ini": "flaskapp cwd=%(project)s mode=quiet",
    "split.ini": "mysite cwd=%(project)s settings=mysite.settings_common",
    "static.ini": "flaskapp cwd=%(project)s mode=-",
    "logging.ini": "flaskapp cwd=%(project)s mode=-",
    "legacy_uwsgi_socket.ini": "mysite cwd=%(project)s settings=mysite.settings",
    "app.yaml": "mysite cwd=%(project)s settings=mysite.settings",
    "app.json": "flaskapp cwd=%(project)s mode=json",
}


def test_every_config_is_covered():
    files = sorted(p.name for p in CONFIGS.iterdir() if p.is_file())
    assert files == sorted(EXPECT), files


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_real_config_serves(uwsgo, tmp_path, name):
    """Each configuration starts unchanged (from its own directory, by a
    relative path, as a user runs it) and serves its app; the options
    uwsgo does not carry out yet are warnings, never refusals."""
    port = free_port()
    env = config_env(tmp_path, port)
    srv = uwsgo(name, proto=None, port=port, env=env, cwd=CONFIGS)
    status, body = get(srv.url + "/")
    want = EXPECT[name] % {"project": CONFIGS / "project"}
    assert status == 200 and body.startswith(want), (body, want, srv.log)
    log = srv.log
    assert "uwsgo: " not in log.replace("uwsgo: warning: ", ""), log
    if name == "legacy_uwsgi_socket.ini":
        with socket.create_connection(("127.0.0.1", int(env["UPSTREAM_PORT"])), timeout=REQ_TIMEOUT) as s:
            s.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_PROTOCOL": "HTTP/1.0",
                                    "SERVER_NAME": "x", "SERVER_PORT": "80", "QUERY_STRING": ""}))
            data, _ = recv_until_closed(s)
        assert b"200 OK" in data and b"mysite" in data, data


def test_env_vars_and_bare_flags_side_by_side(tmp_path):
    """UWSGI_* variables come first, then the command line; a bare flag
    shows as true: the same on both."""
    env = {"UWSGI_PROCESSES": "3", "UWSGI_SOCKET": "/tmp/i12-%(processes).sock", "UWSGI_ENABLE_THREADS": "1"}
    res = both(["--show-config", "--master", "--env", "A=$(UWSGI_PROCESSES)", "--chdir", "/nonexistent-i12-dir"],
               tmp_path, env=env)
    a = shown_config(res["uwsgo"][2])
    b = shown_config(res["uwsgi"][2])
    assert sorted(a[:3]) == sorted(b[:3]) and a[3:] == b[3:], (a, b)
    assert "socket = /tmp/i12-3.sock" in a and "master = true" in a and "env = A=3" in a, a


def test_more_logic_side_by_side(tmp_path):
    """for-glob (directories marked with a slash), for-times, if-opt,
    if-not-opt, if-file, set-placeholder and include: the same on both."""
    for n in ("b.conf", "a.conf"):
        write(tmp_path / "conf.d" / n, "")
    (tmp_path / "conf.d" / "sub.conf").mkdir()
    write(tmp_path / "extra.ini", "[uwsgi]\nenv = INCLUDED=%n\n")
    write(tmp_path / "more.ini", "\n".join([
        "[uwsgi]",
        "set-placeholder = app_root=/srv/app",
        "master = true",
        "for-glob = conf.d/*.conf",
        "env = CONF=%(_)",
        "endfor =",
        "for-times = 3",
        "env = N%(_)=%(app_root)",
        "endfor =",
        "if-opt = master",
        "env = HAS_MASTER=%(_)",
        "endif =",
        "if-opt = master=false",
        "env = WRONG=1",
        "endif =",
        "if-not-opt = processes",
        "env = NO_PROCESSES=1",
        "endif =",
        "if-file = extra.ini",
        "env = FILE=%(_)",
        "endif =",
        "include = extra.ini",
        "show-config = true",
        "chdir = /nonexistent-i12-dir",
        "",
    ]))
    res = both(["--ini", "more.ini"], tmp_path)
    a = shown_config(res["uwsgo"][2])
    b = shown_config(res["uwsgi"][2])
    assert a == b, "\n".join(["uwsgo:"] + a + ["uwsgi:"] + b)
    assert "env = CONF=conf.d/a.conf" in a and "env = CONF=conf.d/sub.conf/" in a and "env = N3=/srv/app" in a, a


def test_uwsgi_ini_variable_as_docker_images_set_it(uwsgo, tmp_path):
    """UWSGI_INI=/app/uwsgi.ini uwsgo: the file is read as if given to --ini,
    and the other UWSGI_* variables add to it (tiangolo/uwsgi-nginx style)."""
    port = free_port()
    env = config_env(tmp_path, port)
    env.update({"UWSGI_INI": str(CONFIGS / "flask_tutorial.ini"), "UWSGI_PROCESSES": "2"})
    srv = uwsgo(proto=None, port=port, env=env, cwd=tmp_path)
    status, body = get(srv.url + "/")
    assert status == 200 and body.startswith("flaskapp cwd=%s" % (CONFIGS / "project")), body
    # the variables are read in the environment's order: UWSGI_PROCESSES
    # comes after UWSGI_INI here, so it wins over the file's processes = 3
    assert "2 worker(s)" in srv.log, srv.log

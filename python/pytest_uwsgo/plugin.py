"""The pytest side: the `uwsgo` fixture, its command-line options, and the
server logs in the reports of failed tests.

pytest loads this module by itself once pytest-uwsgo is installed (its
pytest11 entry point is named "uwsgo"; `-p no:uwsgo` turns it off).
"""
import os

import pytest

from .server import START_TIMEOUT, PORT_TAKEN, Server, StartError, find_binary, free_port, tail

# How many fresh ports to try when another process takes the one picked.
PORT_TRIES = 3

_servers_key = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("uwsgo", "uwsgo servers (the uwsgo fixture)")
    group.addoption("--uwsgo-bin", metavar="PATH", default=None,
                    help="the uwsgo binary to run (default: $UWSGO_BIN, then uwsgo on PATH)")
    group.addoption("--uwsgo-arg", metavar="ARG", action="append", default=[],
                    help="one more argument for every uwsgo the fixture starts, after the "
                         "test's own (repeatable; write --uwsgo-arg=--master)")


@pytest.fixture(scope="session")
def uwsgo_bin(pytestconfig):
    """The path of the uwsgo binary the fixture runs."""
    try:
        return find_binary(pytestconfig.getoption("uwsgo_bin"),
                           pytestconfig.invocation_params.dir)
    except LookupError as e:
        pytest.fail(str(e), pytrace=False)


def _child_env(rootdir, extra):
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # the project's own modules import, as they do in its tests
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(rootdir), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


# Configuration files uwsgo (like uWSGI) loads when named alone: `uwsgo app.ini`.
CONFIG_SUFFIXES = (".ini", ".yaml", ".yml", ".json", ".xml")


def app_options(app, cwd):
    """The options that load app: -w for a module (MODULE or MODULE:CALLABLE),
    --wsgi-file for a file (a name ending .py or .wsgi, or an existing
    file), and a configuration file (app.ini, app.yaml, ...) as it is."""
    if app is None:
        return []
    text = os.fspath(app)
    if text.endswith(CONFIG_SUFFIXES):
        return [text]
    if text.endswith((".py", ".wsgi")) or os.path.isfile(os.path.join(str(cwd), text)):
        return ["--wsgi-file", text]
    return ["--module", text]


@pytest.fixture
def uwsgo(request, uwsgo_bin, tmp_path_factory):
    """Factory: uwsgo(app, *options, proto="http", port=None, wait=True,
    env=None, cwd=None, allow_crash=False, timeout=10) -> Server.

    app is what -w or --wsgi-file take: "module", "module:callable",
    "app.py" or a path; or a configuration file ("uwsgi.ini", "app.yaml")
    that loads the app. Leave it out (None, or start with an option) when
    the options load the app themselves (--ini, --mount, ...).
    proto="http" adds --http-socket 127.0.0.1:PORT on a free PORT,
    proto="uwsgi" adds --socket 127.0.0.1:PORT, proto=None adds neither
    (pass your own socket and port=, or wait=False). The call returns once
    the server answers; the server runs in cwd (default: the pytest rootdir)
    with the rootdir on PYTHONPATH, and env added to its environment.
    At the end of the test every server is stopped (SIGINT) with its whole
    process group; the test errors if one does not stop in time, leaves
    processes behind, or its log shows a crash of uwsgo itself.
    """
    servers = []
    request.node.stash[_servers_key] = servers
    config = request.config
    extra_args = config.getoption("uwsgo_arg")

    def start(app=None, *options, proto="http", port=None, wait=True, env=None, cwd=None,
              allow_crash=False, timeout=START_TIMEOUT):
        if app is not None and os.fspath(app).startswith("-"):
            options = (app,) + options
            app = None
        if proto not in ("http", "uwsgi", None):
            raise ValueError("proto must be 'http', 'uwsgi' or None")
        if cwd is None:
            cwd = config.rootpath
        chosen = port is None
        for attempt in range(PORT_TRIES if chosen else 1):
            if chosen:
                port = free_port()
            argv = [uwsgo_bin]
            if proto == "http":
                argv += ["--http-socket", "127.0.0.1:%d" % port]
            elif proto == "uwsgi":
                argv += ["--socket", "127.0.0.1:%d" % port]
            argv += app_options(app, cwd) + [str(o) for o in options] + list(extra_args)
            logdir = tmp_path_factory.mktemp("uwsgo")
            srv = Server(argv, port, logdir / "uwsgo.log", _child_env(config.rootpath, env),
                         cwd, allow_crash)
            servers.append(srv)
            if not wait:
                return srv
            try:
                srv.wait_ready(timeout)
                return srv
            except StartError as e:
                srv.stop()
                if chosen and proto and PORT_TAKEN in srv.log and attempt + 1 < PORT_TRIES:
                    servers.remove(srv)   # someone took the port meanwhile
                    continue
                srv.reported = True
                pytest.fail("%s\n%s" % (e, srv.describe()), pytrace=False)

    yield start

    problems = []
    for srv in servers:
        p = srv.stop()
        if p:
            text = "; ".join(p) + "\n" + ("uwsgo " + " ".join(srv.args) if srv.reported
                                         else srv.describe())
            srv.reported = True
            problems.append(text)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report shows the log of each server it started
    (unless its failure message holds it already)."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for i, srv in enumerate(item.stash.get(_servers_key, ())):
        if srv.reported:
            continue
        srv.reported = True
        rep.sections.append(("uwsgo server %d log (pid %d): uwsgo %s" % (i, srv.pid, " ".join(srv.args)),
                             tail(srv.log)))

"""make install / make uninstall: what lands where, that the installed
pytest plugin loads by its entry point, and that uninstall leaves nothing.

Two ways: into a DESTDIR (the plugin found through PYTHONPATH), and for
real into /usr/local, inside a private mount namespace where /usr/local is
an overlay, so the machine's own /usr/local is never written and the
overlay's upper directory shows exactly what install wrote.
"""
import base64
import hashlib
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import REPO

PYTHON = "/usr/bin/python3"   # Debian's: the one the layout is for
PLUGIN_FILES = sorted(p.name for p in (REPO / "python" / "pytest_uwsgo").glob("*.py"))
SITE = "lib/python3/dist-packages"
MAKE_TIMEOUT = 300
# The binary under test, as make's BIN (bin/uwsgo-py3.13 in a Python root).
BINARY = Path(os.environ["UWSGO_BIN"]).resolve()
BIN = os.path.relpath(BINARY, REPO)


def make_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env.update(extra)
    return env


def make(*args):
    res = subprocess.run(["make", "-C", str(REPO), "BIN=" + BIN, *args], env=make_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=MAKE_TIMEOUT)
    assert res.returncode == 0, "make %s failed:\n%s" % (" ".join(args), res.stdout[-5000:])
    return res.stdout


def files_under(root):
    """Every non-directory under root, as paths relative to it."""
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if not p.is_dir())


def version():
    out = subprocess.run([str(BINARY), "--version"], stdout=subprocess.PIPE,
                         text=True, timeout=30).stdout
    return out.split()[-1]


def debian_site_dir(prefix):
    """The version-specific directory Debian's python3 searches under prefix."""
    return subprocess.run(
        [PYTHON, "-c", "import site, sys; print([d for d in site.getsitepackages() "
                       "if d.startswith(sys.argv[1] + '/')][0])", prefix],
        stdout=subprocess.PIPE, text=True, check=True, timeout=30).stdout.strip()


def expected_files(prefix, pth):
    dist_info = "%s/%s/pytest_uwsgo-%s.dist-info" % (prefix, SITE, version())
    files = ["%s/bin/uwsgo" % prefix, "%s/share/man/man1/uwsgo.1" % prefix]
    files += ["%s/%s/pytest_uwsgo/%s" % (prefix, SITE, f) for f in PLUGIN_FILES]
    files += ["%s/%s" % (dist_info, f) for f in
              ("INSTALLER", "METADATA", "RECORD", "entry_points.txt", "top_level.txt")]
    if pth:
        files.append(debian_site_dir(prefix) + "/pytest-uwsgo.pth")
    return sorted(f.lstrip("/") for f in files)


def check_record(site_dir):
    """RECORD names every file of the distribution with its sha256 and size."""
    infos = list(Path(site_dir).glob("pytest_uwsgo-*.dist-info"))
    assert len(infos) == 1, infos
    listed = set()
    for line in (infos[0] / "RECORD").read_text().splitlines():
        rel, digest, size = line.rsplit(",", 2)
        path = (Path(site_dir) / rel).resolve()
        listed.add(path)
        if rel.endswith("/RECORD"):
            assert digest == size == "", line
            continue
        data = path.read_bytes()
        want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == "sha256=" + want and int(size) == len(data), line
    return listed


USER_TEST = '''\
import urllib.request

def test_app(uwsgo, uwsgo_bin):
    import pytest_uwsgo
    assert pytest_uwsgo.__file__.startswith({where!r}), pytest_uwsgo.__file__
    assert uwsgo_bin == {binary!r}
    srv = uwsgo("app")
    assert urllib.request.urlopen(srv.url + "/", timeout=10).read() == b"from the project"
'''

USER_APP = '''\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"from the project"]
'''


def user_project(root, where, binary):
    """A project with an app and a test using the fixture, and no conftest."""
    root.mkdir()
    (root / "app.py").write_text(USER_APP)
    (root / "test_user.py").write_text(USER_TEST.format(where=where, binary=binary))
    return root


def check_man_page(path):
    """The man page is the option table: every long option --help lists is in it."""
    text = Path(path).read_text()
    assert re.search(r'^\.TH UWSGO "1"', text, re.M), text[:300]
    assert "\n.SH NAME\nuwsgo \\- " in text, text[:300]
    helptext = subprocess.run([str(BINARY), "--help"], stdout=subprocess.PIPE,
                              text=True, timeout=30).stdout
    options = set(re.findall(r"--[a-z][a-z0-9-]+", helptext))
    assert len(options) > 10, helptext
    missing = [o for o in sorted(options) if o.replace("-", "\\-") not in text]
    assert not missing, "not in the man page: %s" % missing


def test_make_install_touches_no_test_tool():
    plan = make("-n", "install")
    for tool in ("postgresql", "chromium", "nginx", "uwsgi-core", "gunicorn", "wrk",
                 "python3-pytest"):
        assert tool not in plan, "make install would install %s:\n%s" % (tool, plan)
    assert "help2man" in plan


def test_install_into_destdir_then_uninstall(tmp_path):
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr/local")
    installed = files_under(dest)
    assert installed == expected_files("/usr/local", pth=True)

    binary = dest / "usr/local/bin/uwsgo"
    assert binary.read_bytes() == BINARY.read_bytes()
    assert binary.stat().st_mode & 0o777 == 0o755
    check_man_page(dest / "usr/local/share/man/man1/uwsgo.1")
    site_dir = dest / "usr/local" / SITE
    listed = check_record(site_dir)
    assert listed == {p.resolve() for p in map(dest.joinpath, installed)
                      if "/bin/" not in str(p) and "/man/" not in str(p)}
    pth = dest / debian_site_dir("/usr/local").lstrip("/") / "pytest-uwsgo.pth"
    assert pth.read_text() == "/usr/local/%s\n" % SITE
    entry = next(site_dir.glob("*.dist-info")) / "entry_points.txt"
    assert entry.read_text() == "[pytest11]\nuwsgo = pytest_uwsgo.plugin\n"

    # A user's project: pytest loads the plugin by its entry point, found
    # through PYTHONPATH; without it, there is no uwsgo fixture.
    proj = user_project(tmp_path / "proj", str(site_dir), str(binary))
    env = make_env(PYTHONPATH=str(site_dir), UWSGO_BIN=str(binary))
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # uninstall must remove the caches too
    argv = [PYTHON, "-m", "pytest", "-v", "-p", "no:cacheprovider"]
    res = subprocess.run(argv, cwd=str(proj), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout
    assert list(site_dir.glob("pytest_uwsgo/__pycache__/*.pyc")), "nothing was compiled"
    env.pop("PYTHONPATH")
    res = subprocess.run(argv, cwd=str(proj), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    assert res.returncode != 0 and "fixture 'uwsgo' not found" in res.stdout, res.stdout

    # uwsgo's own suite with the plugin installed too: it still takes the
    # source tree's, registered once.
    res = subprocess.run([PYTHON, "-m", "pytest", "--collect-only", "-q",
                          str(REPO / "tests" / "test_plugin.py")],
                         cwd=str(REPO), env=make_env(PYTHONPATH=str(site_dir)),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert res.returncode == 0, res.stdout

    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr/local")
    assert files_under(dest) == []


# /usr/local/go may be a mount of its own (in a Python root): the overlay
# would hide it, so it is mounted again on top.
OVERLAY_SCRIPT = '''\
set -eu
mount --bind /usr/local/go {go}
mount -t overlay overlay -o lowerdir=/usr/local,upperdir={upper},workdir={work} /usr/local
mount --bind {go} /usr/local/go
make -C {repo} BIN={bin} install > {out}/install.log 2>&1
find {upper} ! -type d -printf '%P\\n' | sort > {out}/installed
cd {proj}
env -u PYTHONPATH -u UWSGO_BIN PATH=/usr/local/bin:/usr/bin:/bin \\
    {python} -m pytest -v -p no:cacheprovider > {out}/pytest.log 2>&1 || echo $? > {out}/pytest.rc
make -C {repo} BIN={bin} uninstall > {out}/uninstall.log 2>&1
find {upper} ! -type d -printf '%P\\n' | sort > {out}/left
'''


def test_install_into_usr_local_for_real_then_uninstall(tmp_path):
    """The default PREFIX, no DESTDIR, no PYTHONPATH: Debian's python3 and
    pytest find the plugin, uwsgo is on PATH."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (a private mount namespace over /usr/local)",
                    pytrace=False)
    upper, work, out, go = (tmp_path / d for d in ("upper", "work", "out", "go"))
    for d in (upper, work, out, go):
        d.mkdir()
    proj = user_project(tmp_path / "proj", "/usr/local/" + SITE, "/usr/local/bin/uwsgo")
    script = OVERLAY_SCRIPT.format(upper=upper, work=work, out=out, go=go, repo=REPO,
                                   bin=BIN, proj=proj, python=PYTHON)
    # Inside a Python root (tests/pythons/run-in.sh) the suite already runs
    # in a private mount namespace whose / is a chroot, not a mount point:
    # there the propagation cannot change, and needs not.
    propagation = "unchanged" if os.environ.get("UWSGO_PYTHON_ROOT") else "private"
    res = subprocess.run(["unshare", "--mount", "--propagation", propagation, "sh", "-c", script],
                         env=make_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=MAKE_TIMEOUT)
    logs = "\n".join("--- %s ---\n%s" % (p.name, p.read_text()[-3000:]) for p in sorted(out.iterdir()))
    assert res.returncode == 0, res.stdout + logs
    installed = (out / "installed").read_text().split()
    assert installed == [f[len("usr/local/"):] for f in expected_files("/usr/local", pth=True)], logs
    assert not (out / "pytest.rc").exists() and "1 passed" in (out / "pytest.log").read_text(), logs
    assert (out / "left").read_text() == "", logs

"""Install or uninstall the pytest plugin (python/pytest_uwsgo) the way pip
would lay it out, without pip: the package and a .dist-info with METADATA,
entry_points.txt (the pytest11 entry point pytest loads by itself) and
RECORD, under PREFIX/lib/python3/dist-packages (Debian's layout).

    python3 install_plugin.py install   --prefix /usr/local --version 0.1.0 [--destdir D]
    python3 install_plugin.py uninstall --prefix /usr/local [--destdir D]

Debian's python3 searches PREFIX/lib/python3/dist-packages for PREFIX=/usr
only; for another prefix it searches (/usr/local/lib/python3.X/dist-packages
for /usr/local), install writes a .pth there naming the directory, so that
no PYTHONPATH is needed. RECORD lists every file install wrote, the .pth
too; uninstall removes what it lists, and nothing else.
"""
import argparse
import base64
import glob
import hashlib
import os
import shutil
import site
import sys
from pathlib import Path

DIST = "pytest-uwsgo"
PACKAGE = "pytest_uwsgo"
SOURCE = Path(__file__).resolve().parent / PACKAGE

METADATA = """\
Metadata-Version: 2.1
Name: {dist}
Version: {version}
Summary: Start a WSGI app under uwsgo in its pytest tests: the uwsgo fixture
Classifier: Framework :: Pytest
Requires-Python: >=3.8
Requires-Dist: pytest (>=7.0)
"""

ENTRY_POINTS = """\
[pytest11]
uwsgo = {package}.plugin
"""


def site_dir(prefix):
    return os.path.join(prefix, "lib", "python3", "dist-packages")


def pth_dir(prefix):
    """Where this python3 looks for .pth files under prefix, when it does
    not search prefix/lib/python3/dist-packages itself (None: no .pth)."""
    dirs = [os.path.normpath(d) for d in site.getsitepackages()]
    if os.path.normpath(site_dir(prefix)) in dirs:
        return None
    under = [d for d in dirs if d.startswith(os.path.normpath(prefix) + os.sep)]
    return under[0] if under else None


def record_line(root, path):
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (os.path.relpath(path, root), digest, len(data))


def write(path, text, written):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    written.append(path)


def install(prefix, destdir, version):
    root = Path(destdir + site_dir(prefix))
    uninstall(prefix, destdir, quiet=True)   # an older version's files go first
    written = []
    for src in sorted(SOURCE.glob("*.py")):
        write(root / PACKAGE / src.name, src.read_text(), written)
    info = root / ("%s-%s.dist-info" % (PACKAGE, version))
    write(info / "METADATA", METADATA.format(dist=DIST, version=version), written)
    write(info / "entry_points.txt", ENTRY_POINTS.format(package=PACKAGE), written)
    write(info / "top_level.txt", PACKAGE + "\n", written)
    write(info / "INSTALLER", "make\n", written)
    pth = pth_dir(prefix)
    if pth:
        write(Path(destdir + pth) / (DIST + ".pth"), site_dir(prefix) + "\n", written)
    lines = [record_line(root, p) for p in written]
    lines.append(os.path.relpath(info / "RECORD", root) + ",,")
    write(info / "RECORD", "\n".join(lines) + "\n", [])
    print("installed %s %s in %s%s" % (DIST, version, site_dir(prefix),
                                       "" if pth else " (put it on PYTHONPATH)"))


def uninstall(prefix, destdir, quiet=False):
    root = Path(destdir + site_dir(prefix))
    top = os.path.realpath(destdir + prefix) + os.sep
    records = glob.glob(str(root / ("%s-*.dist-info" % PACKAGE) / "RECORD"))
    if not records and not quiet:
        print("%s is not installed in %s" % (DIST, root))
    for record in records:
        dirs = set()
        for line in Path(record).read_text().splitlines():
            rel = line.rsplit(",", 2)[0]
            if not rel:
                continue
            path = os.path.realpath(os.path.join(root, rel))
            if not path.startswith(top):
                sys.exit("uninstall: %s in %s is outside %s; nothing removed after it"
                         % (rel, record, top))
            dirs.add(os.path.dirname(path))
            if path.endswith(".py"):
                # what python3 compiled from it (as pip removes it too)
                cache = os.path.join(os.path.dirname(path), "__pycache__")
                stem = os.path.basename(path)[:-3]
                for pyc in glob.glob(os.path.join(glob.escape(cache), stem + ".*.pyc")):
                    os.remove(pyc)
                dirs.add(cache)
            if os.path.lexists(path):
                os.remove(path)
        # the package's and dist-info's own directories, once empty
        for d in sorted(dirs, key=len, reverse=True):
            if os.path.isdir(d) and not os.listdir(d) and d.startswith(str(root) + os.sep):
                os.rmdir(d)
        if not quiet:
            print("uninstalled %s from %s" % (DIST, root))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("install", "uninstall"))
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--destdir", default="")
    ap.add_argument("--version")
    a = ap.parse_args()
    if not os.path.isabs(a.prefix):
        ap.error("--prefix must be an absolute path, not %r" % a.prefix)
    destdir = os.path.abspath(a.destdir) if a.destdir else ""
    if a.action == "install":
        if not a.version:
            ap.error("install needs --version")
        install(a.prefix, destdir, a.version)
    else:
        uninstall(a.prefix, destdir)


if __name__ == "__main__":
    main()

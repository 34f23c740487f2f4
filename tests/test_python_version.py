"""The startup banner names the Python uwsgo embeds, as uWSGI's does."""
import requests

from helpers import REQ_TIMEOUT


def test_banner_names_the_python_the_app_runs(uwsgo, tmp_path):
    app = tmp_path / "version.py"
    app.write_text(
        "import sys\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [' '.join(sys.version.split()).encode()]\n")
    srv = uwsgo("--wsgi-file", app)
    r = requests.get(srv.url, timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    running = r.text
    lines = [l for l in srv.log.splitlines() if l.startswith("Python version: ")]
    assert lines == ["Python version: " + running], srv.describe()

"""The shape of a Django project's mysite/wsgi.py, without Django: the
configurations in tests/configs load it as `module = mysite.wsgi`."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")


def application(environ, start_response):
    body = "mysite cwd=%s settings=%s script_name=%s path_info=%s\n" % (
        os.getcwd(), os.environ.get("DJANGO_SETTINGS_MODULE"),
        environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

"""The app the drop-in tests run under uwsgo and under Debian's uWSGI.

/ids      JSON: uid, gid, groups, pid, ppid, and the uid seen at import
/status/N answer with status N
/sleep?S  sleep S seconds (blocking), then answer
/grow?MB  keep MB more MiB alive in this worker
"""
import json
import os
import time

IMPORT_UID = os.getuid()
IMPORT_GID = os.getgid()
_kept = []


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    qs = environ.get("QUERY_STRING", "")
    status = "200 OK"
    if path == "/ids":
        body = json.dumps({
            "uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
            "pid": os.getpid(), "ppid": os.getppid(),
            "import_uid": IMPORT_UID, "import_gid": IMPORT_GID,
        }).encode()
    elif path.startswith("/status/"):
        status = path[len("/status/"):] + " Status"
        body = b"status\n"
    elif path == "/sleep":
        time.sleep(float(qs or "1"))
        body = b"slept\n"
    elif path == "/grow":
        _kept.append(bytearray(int(qs or "1") << 20))
        for b in _kept[-1:]:
            for i in range(0, len(b), 4096):
                b[i] = 1
        body = b"grown\n"
    else:
        body = b"hello\n"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

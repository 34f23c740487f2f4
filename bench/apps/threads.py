"""The --threads benchmark's app (bench/threads_bench.py).

/block   blocks 10 ms in time.sleep (the GIL is released meanwhile), as a
         view waiting on a database would, then answers "Hello, World!"
/hello   answers at once
"""
import time

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    if environ["PATH_INFO"] == "/block":
        time.sleep(0.01)
    start_response("200 OK", HEADERS)
    return [BODY]

"""The gevent document's "crazy example", in Python 3 form.

It sleeps inside a request and streams as it goes, resolves names with
spawned jobs and joinall(timeout=2), and leaves a background greenlet
running after the response has ended:

    uwsgo --gevent 100 --http-socket :9090 --wsgi-file python/examples/gevent_crazy.py
    curl -N http://127.0.0.1:9090/
"""
import gevent
import gevent.socket


def bg_task():
    for i in range(1, 10):
        print("background task", i, flush=True)
        gevent.sleep(2)


def long_task():
    for i in range(1, 10):
        print(i, flush=True)
        gevent.sleep()


def application(e, sr):
    sr('200 OK', [('Content-Type', 'text/html')])
    t = gevent.spawn(long_task)
    t.join()
    yield b"sleeping for 3 seconds...<br/>"
    gevent.sleep(3)
    yield b"done<br>"
    yield b"getting some ips...<br/>"
    urls = ['localhost', 'www.google.com', 'www.example.com', 'www.python.org', 'projects.unbit.it']
    jobs = [gevent.spawn(gevent.socket.gethostbyname, url) for url in urls]
    gevent.joinall(jobs, timeout=2)

    for j in jobs:
        yield b"ip = %s<br/>" % str(j.value).encode()

    gevent.spawn(bg_task)  # this task will go on after request end

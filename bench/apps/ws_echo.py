"""A WebSocket echo on uWSGI's websocket API: GET /ws upgrades, then every
message comes back as it came. websocket_recv() parks the core (uGreen,
greenlet) or the greenlet (gevent) until a whole message is in."""
import uwsgi


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/ws":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ws echo: connect a WebSocket to /ws\n"]
    uwsgi.websocket_handshake()
    try:
        while True:
            uwsgi.websocket_send(uwsgi.websocket_recv())
    except OSError:
        return []     # the client went away

"""A WebSocket echo on uWSGI's websocket API, for the RFC 6455 table in
tests/test_websocket_conformance.py.

uWSGI's websocket_recv() hands back a message's bytes and never its
opcode: text and binary frames come out alike. So the path says how each
message goes back: /text echoes it with websocket_send (a text frame),
/binary with websocket_send_binary (a binary frame). The table opens /text
for cases whose first data frame is text and /binary for binary ones, and
so still sees whether an answer came back as the right kind.

A bad handshake raises IOError out of websocket_handshake(); the app lets
it go, so whatever answers the client is the server's doing. Any other
path is a plain 200, to show the worker still serves HTTP.
"""
import uwsgi

SENDERS = {"/text": "websocket_send", "/binary": "websocket_send_binary"}


def application(environ, start_response):
    name = SENDERS.get(environ.get("PATH_INFO", ""))
    if name is None:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    send = getattr(uwsgi, name)
    uwsgi.websocket_handshake()
    try:
        while True:
            send(uwsgi.websocket_recv())
    except IOError:
        # the client closed, went away or broke the protocol
        return []

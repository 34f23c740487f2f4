"""The reference for tests/test_websocket_conformance.py: the same echo as
tests/apps/ws_conformance.py, on Debian's python3-websockets server (an
independent, well-kept RFC 6455 implementation), so that the table's
RFC column is checked against a server other than the two it compares.

It is websockets' original asyncio server (websockets.legacy.server), the
one Debian 12's websockets 10 has: Debian 13's 15 and testing's 17 still
ship it, beside their newer server, which answers some cases of the table
in ways the RFC does not (it drops a POST or an HTTP/1.0 handshake without
an answer, and fails a close inside a fragmented message with 1002).

usage: websockets_ref.py PORT MAX_BYTES
"""
import asyncio
import http
import sys
import warnings

import websockets

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from websockets.legacy.server import serve


async def echo(ws, path):
    as_text = path == "/text"
    try:
        async for msg in ws:
            if as_text and isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")
            elif not as_text and isinstance(msg, str):
                msg = msg.encode()
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def plain(path, headers):
    """Any other path is a plain 200, as in the app."""
    if path not in ("/text", "/binary"):
        return http.HTTPStatus.OK, [("Content-Type", "text/plain")], b"ok\n"
    return None


async def main(port, max_size):
    async with serve(echo, "127.0.0.1", port, process_request=plain, max_size=max_size,
                     ping_interval=None, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))

"""Headless Chromium driven over the Chrome DevTools protocol, stdlib only.

    with Chromium(tmp_path) as browser:
        page = browser.new_page(url)          # in a browser context of its own
        page.evaluate("document.title")
        page.wait_for("document.querySelectorAll('.msg').length >= 2")
        page.screenshot(tmp_path / "page.png")

A minimal RFC 6455 client (masking, fragments, 64-bit lengths) carries the
protocol's JSON messages; each page is a target attached with flatten=True,
so all of them share the browser's one websocket. A missing chromium fails
the test: nothing is skipped.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 30.0
CALL_TIMEOUT = 20.0

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows", "--window-size=900,640",
]


class WebSocket:
    def __init__(self, host, port, path, timeout=CALL_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("devtools closed the websocket handshake")
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("websocket handshake refused: %r" % head[:200])

    def _read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("devtools closed the websocket")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv(self, timeout):
        """The next text message (fragments joined); socket.timeout after timeout."""
        self.sock.settimeout(timeout)
        parts = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n, = struct.unpack("!H", self._read(2))
            elif n == 127:
                n, = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("devtools closed the websocket")
            if opcode == 0x9:   # ping
                continue
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Page:
    def __init__(self, browser, target_id, session_id):
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id

    def call(self, method, **params):
        return self.browser.call(method, _session=self.session_id, **params)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError("page script failed: %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expr, timeout=15.0, what=None):
        deadline = time.monotonic() + timeout
        while True:
            v = self.evaluate(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %g s waiting for %s" % (timeout, what or expr))
            time.sleep(0.1)

    def type_and_enter(self, element_id, text):
        """Type text into the element and press Enter, as a user would."""
        self.call("Page.bringToFront")
        self.evaluate("document.getElementById(%s).focus()" % json.dumps(element_id))
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png")
        Path(path).write_bytes(base64.b64decode(r["data"]))
        return path


class Chromium:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.proc = None
        self.ws = None
        self.next_id = 0
        self.events = []

    def start(self):
        if not os.path.exists(CHROMIUM):
            raise AssertionError("%s is missing: install the chromium package (make deps)" % CHROMIUM)
        self.profile = self.workdir / "chromium-profile"
        if self.profile.exists():
            shutil.rmtree(self.profile)
        self.profile.mkdir(parents=True)
        self.logpath = self.workdir / "chromium.log"
        logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, "--user-data-dir=%s" % self.profile,
             "--remote-debugging-port=0", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        logf.close()
        # Chromium writes the port it picked, and the browser's websocket
        # path, into DevToolsActivePort once it listens.
        portfile = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("chromium exited with code %s at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            lines = portfile.read_text().split("\n") if portfile.exists() else []
            if len(lines) >= 2 and lines[1].startswith("/devtools/"):
                break
            if time.monotonic() > deadline:
                raise AssertionError("chromium did not open its devtools port within %g s:\n%s"
                                     % (START_TIMEOUT, self.log()))
            time.sleep(0.1)
        self.ws = WebSocket("127.0.0.1", int(lines[0]), lines[1].strip())
        return self

    def log(self):
        try:
            return self.logpath.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def call(self, method, _session=None, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if _session:
            msg["sessionId"] = _session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("devtools call %s got no answer within %g s" % (method, CALL_TIMEOUT))
            try:
                reply = json.loads(self.ws.recv(left))
            except socket.timeout:
                continue
            if reply.get("id") == mid:
                if "error" in reply:
                    raise AssertionError("devtools %s failed: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
                del self.events[:-500]

    def new_page(self, url):
        """A page in a new browser context (its own cookies and cache): one user."""
        ctx = self.call("Target.createBrowserContext")["browserContextId"]
        target = self.call("Target.createTarget", url="about:blank", browserContextId=ctx)["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, target, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", url=url)
        page.wait_for("document.readyState === 'complete' && location.href === %s" % json.dumps(url),
                      what="the page %s to load" % url)
        return page

    def stop(self):
        if self.ws:
            try:
                self.call("Browser.close")
            except Exception:  # noqa: BLE001 (it may be gone already)
                pass
            self.ws.close()
        if self.proc:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

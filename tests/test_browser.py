"""The ugreenchat page in a real browser (headless Chromium over the DevTools protocol).

Two users, each in a browser context of their own, type into the chat page
served by uwsgo (`--async 30 --ugreen`) and must each see both messages,
in the same order, delivered by the long polls the page keeps parked on
the server. The screenshots stay in the test's tmp_path (chat-*.png).
"""
import json
import time

import pytest

from cdp import Chromium
from helpers import EXAMPLES

CHAT = ["-w", "ugreenchat", "--pythonpath", EXAMPLES, "--async", "30", "--ugreen"]

MESSAGES_JS = ("Array.from(document.querySelectorAll('#log .msg'))"
               ".map(d => [Number(d.dataset.id), d.textContent])")


def say(page, text):
    page.type_and_enter("text", text)


def wait_messages(page, texts, timeout=15.0):
    expr = ("(() => { const t = %s.map(m => m[1]); return %s.every(x => t.includes(x)); })()"
            % (MESSAGES_JS, json.dumps(texts)))
    page.wait_for(expr, timeout=timeout, what="messages %s on the page" % texts)
    return page.evaluate(MESSAGES_JS)


@pytest.fixture
def chat_url(request, uwsgo, nginx):
    if request.param == "http":
        return uwsgo(*CHAT).url + "/"
    up = uwsgo(*CHAT, proto="uwsgi")
    return nginx(up.port, buffering=False).url + "/"


@pytest.mark.parametrize("chat_url", ["http", "nginx"], indirect=True)
def test_two_browsers_chat(chat_url, tmp_path):
    with Chromium(tmp_path) as browser:
        alice = browser.new_page(chat_url + "?user=alice")
        bob = browser.new_page(chat_url + "?user=bob")
        for p in (alice, bob):
            # the page's long poll is in flight (parked on the server)
            p.wait_for("document.getElementById('status').textContent.startsWith('connected')",
                       what="the page to connect")
            assert p.evaluate("document.getElementById('user').value") in ("alice", "bob")

        t0 = time.monotonic()
        say(alice, "hello from alice")
        wait_messages(bob, ["alice: hello from alice"])
        latency = time.monotonic() - t0
        say(bob, "hi alice, bob here")
        seen_by_alice = wait_messages(alice, ["alice: hello from alice", "bob: hi alice, bob here"])
        seen_by_bob = wait_messages(bob, ["alice: hello from alice", "bob: hi alice, bob here"])

        assert seen_by_alice == seen_by_bob == [
            [1, "alice: hello from alice"], [2, "bob: hi alice, bob here"]]
        assert latency < 5, "alice's message took %.2f s to reach bob's page" % latency
        for name, p in (("alice", alice), ("bob", bob)):
            status = p.evaluate("document.getElementById('status').textContent")
            assert status == "connected, last message #2", status
            shot = p.screenshot(tmp_path / ("chat-%s.png" % name))
            assert shot.stat().st_size > 5000

"""``mnist-tui serve``'s sessions on a loopback port: the cap on live sessions, messages a
page should never send, and a plain GET of the websocket. A tiny stand-in app (no
TensorFlow) plays each tab's app: it echoes every packet it is sent back as screen data."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import shlex
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from textual_serve import app_service

from mnist_tui.cli.serve import AppServer

FAKE_APP = r"""
import json, sys
out, stdin = sys.stdout.buffer, sys.stdin.buffer
def send(kind, payload):
    out.write(kind + len(payload).to_bytes(4, "big") + payload)
    out.flush()
out.write(b"__GANGLION__\n")
out.flush()
while len(header := stdin.read(5)) == 5:
    payload = stdin.read(int.from_bytes(header[1:], "big"))
    if header[:1] == b"M" and json.loads(payload)["type"] == "quit":
        break
    if payload == b"bye":  # the user quits the app: it says so, and exits
        send(b"M", b'{"type": "exit"}')
        break
    send(b"D", header[:1] + payload)
"""
FAKE_COMMAND = shlex.join([sys.executable, "-I", "-c", FAKE_APP])
TIMEOUT = 15.0


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.subprocess.Process]:
    """Every app process textual-serve starts, so a test can wait for them all to end."""
    started: list[asyncio.subprocess.Process] = []
    start = asyncio.create_subprocess_shell

    async def recorded(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        started.append(process := await start(*args, **kwargs))
        return process

    monkeypatch.setattr(app_service.asyncio, "create_subprocess_shell", recorded)
    return started


@contextlib.asynccontextmanager
async def serving(
    apps: list[asyncio.subprocess.Process], **options: Any
) -> AsyncIterator[tuple[AppServer, TestClient[Any, Any]]]:
    """An :class:`AppServer` running the stand-in app, listening on a free 127.0.0.1 port.
    On the way out, every app has ended while the event loop still runs: textual-serve
    leaves their pipes open, which would warn once the loop is closed."""
    server = AppServer(FAKE_COMMAND, "127.0.0.1", 8000, False, **options)
    client: TestClient[Any, Any] = TestClient(
        TestServer(await server._make_app(), host="127.0.0.1")
    )
    await client.start_server()
    try:
        yield server, client
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        for process in apps:
            assert process.stdin is not None
            process.stdin.close()
            assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
        gc.collect()


async def _ping(ws: Any, text: str = "1") -> None:
    """A round trip through the session: it is live, and counted."""
    await ws.send_str(json.dumps(["ping", text]))
    message = await ws.receive(timeout=TIMEOUT)
    assert message.type == WSMsgType.TEXT and json.loads(message.data) == ["pong", text]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


BAD_MESSAGES = [
    '["resize",{"width":"x"}]',
    '["resize",{"width":"x","height":24}]',
    '["resize",{"width":true,"height":24}]',
    '["resize",{"width":100000000,"height":24}]',
    '["resize",{"width":0,"height":24}]',
    '["resize",[80,24]]',
    '["stdin",5]',
    '["stdin"]',
    '["ping",{}]',
    "[]",
    "{}",
    '"stdin"',
    "not json",
    '["explode"]',
    "[null]",
    '["stdin","\\ud800"]',
    "[" * 100_000,  # a lone surrogate; nested past the recursion limit
]


async def test_bad_messages_are_ignored_with_one_log_line_each(
    caplog: pytest.LogCaptureFixture, apps: list[asyncio.subprocess.Process]
) -> None:
    from mnist_tui.cli.serve import BAD_MESSAGES_LOGGED

    caplog.set_level(logging.INFO)
    async with serving(apps) as (_, client):
        ws = await client.ws_connect("/ws")
        for text in BAD_MESSAGES:
            await ws.send_str(text)
        await ws.send_bytes(b"\x00binary")
        await ws.send_str('["resize",{"width":90,"height":30}]')
        await ws.send_str('["stdin","ok"]')
        echoed = [await ws.receive(timeout=TIMEOUT) for _ in range(2)]
        assert [message.type for message in echoed] == [WSMsgType.BINARY] * 2, echoed
        assert json.loads(echoed[0].data[1:]) == {"type": "resize", "width": 90, "height": 30}
        assert echoed[1].data == b"Dok"
        await _ping(ws)
        await ws.close()
    lines = [record.getMessage() for record in _warnings(caplog)]
    assert len(lines) == BAD_MESSAGES_LOGGED + 1 < len(BAD_MESSAGES) + 1, lines
    assert all("\n" not in line and "Traceback" not in line for line in lines)
    assert not any(record.exc_info for record in caplog.records)
    assert "ignored a bad message" in lines[0] and '["resize",{"width":"x"}]' in lines[0]
    assert "further bad messages" in lines[-1]


async def test_a_plain_get_of_the_websocket_is_a_4xx_and_one_log_line(
    caplog: pytest.LogCaptureFixture, apps: list[asyncio.subprocess.Process]
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(apps) as (server, client):
        response = await client.get("/ws")
        assert response.status == 426, await response.text()
        assert "websocket" in (await response.text()).lower()
        assert not server.sessions
    (record,) = _warnings(caplog)
    assert "GET /ws" in record.getMessage() and "\n" not in record.getMessage()
    assert not any(record.exc_info for record in caplog.records)
    assert "Unhandled exception" not in caplog.text


@pytest.mark.parametrize(
    "size", ["width=100000000&height=24", "width=80&height=0", "height=-3", "width=1001"]
)
async def test_a_websocket_asking_for_a_giant_terminal_is_refused_in_one_log_line(
    size: str, caplog: pytest.LogCaptureFixture, apps: list[asyncio.subprocess.Process]
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(apps) as (_, client):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(f"/ws?{size}")
        assert refused.value.status == 400
        ws = await client.ws_connect("/ws?width=undefined&height=1000")  # as textual-serve
        await _ping(ws)
        await ws.close()
    assert not apps[1:]
    (record,) = _warnings(caplog)
    assert "refused a websocket asking for a" in record.getMessage()


async def test_sessions_beyond_the_cap_are_refused_with_words_that_say_why(
    caplog: pytest.LogCaptureFixture, apps: list[asyncio.subprocess.Process]
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(apps, max_sessions=2) as (server, client):
        first = await client.ws_connect("/ws")
        second = await client.ws_connect("/ws")
        await _ping(first)
        await _ping(second)
        assert len(server.sessions) == 2

        page = await client.get("/")  # a new tab: a page that says why, and what to do
        text = await page.text()
        assert page.status == 503 and "All 2 sessions are in use" in text
        assert "Close another" in text and "--max-sessions" in text

        third = await client.ws_connect("/ws")  # a page loaded before the others took the slots
        closed = await third.receive(timeout=TIMEOUT)
        assert closed.type == WSMsgType.CLOSE and closed.data == 1013
        assert "All 2 sessions are in use" in closed.extra
        assert len(server.sessions) == 2

        await first.close()  # a closed tab frees its slot
        await _wait_for_sessions(server, 1)
        assert (await client.get("/")).status == 200
        fourth = await client.ws_connect("/ws")
        await _ping(fourth)

        await second.send_str('["stdin","bye"]')  # the app quits: its slot is free too
        assert (await second.receive(timeout=TIMEOUT)).type == WSMsgType.CLOSE
        await _wait_for_sessions(server, 1)
        for ws in (second, third, fourth):
            await ws.close()
    refused = [record.getMessage() for record in _warnings(caplog)]
    assert len(refused) == 1 and "refused a session" in refused[0], refused


async def _wait_for_sessions(server: AppServer, count: int) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if len(server.sessions) == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(server.sessions)} sessions, not {count}")


@pytest.mark.parametrize(
    ("memory_gb", "sessions"), [(0.5, 1), (1, 1), (3.9, 3), (8, 8), (23.4, 16), (1024, 16)]
)
def test_the_default_cap_is_one_session_per_gigabyte(memory_gb: float, sessions: int) -> None:
    from mnist_tui.cli.serve import default_max_sessions

    assert default_max_sessions(int(memory_gb * 2**30)) == sessions

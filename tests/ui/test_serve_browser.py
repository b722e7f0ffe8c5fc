"""``mnist-tui serve`` in a real browser: Debian's Chromium, driven by Playwright, opens the
page, clicks Train with the mouse, and the run is saved; a tab beyond ``--max-sessions``
reads why it got no app.

Playwright's own browser download is never used: the test launches ``chromium`` from the
PATH (``make chromium``, run by ``make test``, installs it) and is skipped without it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.runs.store import RUN_FILE
from tests.postgres_server import free_port

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `make chromium` or `apt-get install chromium`",
)

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SMALL = ["--epochs", "1", "--hidden-units", "32", "--batch-size", "1024"]
"""One quick epoch of a small MLP (the served app trains on the real MNIST)."""

# The page keeps its xterm.js terminal in a closure; textual-serve's client assigns it to
# ``this.terminal``, so a setter on Object.prototype hands it to the test first.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    if (value && value.buffer && value.buffer.active) window.mnistTerminal = value;
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true,
                                             enumerable: true});
  },
});
"""
# Each row of the screen as text, one character per cell (a wide glyph's second cell is a
# space), so a column in the text is a column on the screen.
READ_SCREEN = """() => {
  const term = window.mnistTerminal;
  if (!term) return null;
  const buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    let text = "";
    for (let x = 0; line && x < term.cols; x++) text += line.getCell(x).getChars() || " ";
    rows.push(text);
  }
  const box = term.element.querySelector(".xterm-screen").getBoundingClientRect();
  return {rows, cols: term.cols, left: box.left, top: box.top,
          cellWidth: box.width / term.cols, cellHeight: box.height / term.rows};
}"""


@dataclass
class Served:
    """A running ``mnist-tui serve``."""

    process: subprocess.Popen[str]
    url: str
    runs_dir: Path


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port} in {timeout:.0f} s")


@contextlib.contextmanager
def _serve(tmp_path: Path, *options: str) -> Iterator[Served]:
    """``mnist-tui serve`` in an isolated interpreter on a free port, its runs in tmp_path."""
    port = free_port()
    runs_dir = tmp_path / "runs"
    env = {**os.environ, "MNIST_TUI_NO_DOWNLOAD": "1", "MNIST_TUI_LOG_DIR": str(tmp_path / "log")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "serve",
            "--port",
            str(port),
            "--runs-dir",
            str(runs_dir),
            *SMALL,
            *options,
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, process, timeout=30)
        yield Served(process, f"http://127.0.0.1:{port}", runs_dir)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


@pytest.fixture
def served(real_mnist: MnistData, tmp_path: Path) -> Iterator[Served]:
    """``mnist-tui serve`` whose app finds the real MNIST in the cache the ``real_mnist``
    fixture filled."""
    with _serve(tmp_path) as server:
        yield server


def _wait_until(
    read: Callable[[], Any], holds: Callable[[Any], bool], what: str, timeout: float
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if holds(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen in {timeout:.0f} s; last: {value!r}")


def _completed_runs(runs_dir: Path) -> list[dict[str, Any]]:
    records = [json.loads(path.read_text()) for path in runs_dir.glob(f"*/{RUN_FILE}")]
    return [record for record in records if record["status"] == "completed"]


def test_train_in_the_browser(served: Served, tmp_path: Path) -> None:
    """The Setup form shows in Chromium; a click on Train trains, evaluates and saves a run;
    every request stays on the server; Ctrl+C then stops the server cleanly."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 1280},
        )  # tall enough for the whole form
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.add_init_script(CATCH_TERMINAL)
            page.goto(served.url)

            def screen() -> dict[str, Any] | None:
                result: dict[str, Any] | None = page.evaluate(READ_SCREEN)
                return result

            def text(shown: dict[str, Any] | None) -> str:
                return "\n".join(shown["rows"]) if shown else ""

            def ready(shown: dict[str, Any] | None) -> bool:  # the form, and MNIST loaded
                return "Train  (ctrl+t)" in text(shown) and any(
                    line.lstrip().startswith("MNIST ") and " ✓ " in line for line in shown["rows"]
                )  # type: ignore[index]

            shown = _wait_until(screen, ready, "the Setup form with MNIST loaded", timeout=30)
            assert "Hidden units" in text(shown) and "1 Setup" in text(shown)
            row = next(y for y, line in enumerate(shown["rows"]) if "Train  (ctrl+t)" in line)
            column = shown["rows"][row].index("Train  (ctrl+t)")
            page.mouse.click(
                shown["left"] + (column + 2.5) * shown["cellWidth"],
                shown["top"] + (row + 0.5) * shown["cellHeight"],
            )

            shown = _wait_until(
                screen, lambda s: "test accuracy" in text(s), "the run's test accuracy", timeout=45
            )
            runs = _wait_until(
                lambda: _completed_runs(served.runs_dir), bool, "a completed run folder", timeout=10
            )
            shown = _wait_until(
                screen,
                lambda s: "training…" not in text(s),
                "the status line without training…",
                timeout=10,
            )
            page.screenshot(path=tmp_path / "serve.png")
        finally:
            browser.close()

    (run,) = runs
    assert run["config"]["hidden_units"] == [32] and run["config"]["epochs"] == 1
    assert run["test"]["accuracy"] > 0.8
    assert f"{run['test']['accuracy']:.2%}" in text(shown)
    assert requests and all(url.startswith(served.url + "/") for url in requests), requests

    served.process.send_signal(signal.SIGINT)
    out, _ = served.process.communicate(timeout=30)
    assert served.process.returncode == 0, out
    assert f"Open {served.url} in a browser" in out and "Stopped." in out
    assert "Traceback" not in out


def _index_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _hold_a_session(port: int) -> socket.socket:
    """A websocket opened by hand and left open: it holds a session (an app starts for it)."""
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    held.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 4096:
        answer += held.recv(4096) or b"\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return held


def test_a_tab_beyond_max_sessions_reads_why(tmp_path: Path) -> None:
    """With one session allowed: a page loaded while it was free, whose session another
    took before the page connected, shows why instead of "Session ended."; a new tab gets a
    page that says why and what to do; the session is freed when its holder goes."""
    from playwright.sync_api import Route, sync_playwright

    with (
        _serve(tmp_path, "--max-sessions", "1") as server,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as profile,
        contextlib.ExitStack() as holders,
    ):
        port = int(server.url.rsplit(":", 1)[1])
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=BROWSER_ARGS
        )
        holders.callback(browser.close)

        def take_the_session(route: Route) -> None:  # the page waits for its font to connect
            holders.enter_context(_hold_a_session(port))
            _wait_until(
                lambda: _index_status(server.url),
                lambda status: status == 503,
                "the session taken",
                timeout=15,
            )
            route.continue_()

        late = browser.new_page()
        late.route("**/RobotoMono-VariableFont_wght.ttf", take_the_session)
        late.goto(server.url)
        message = late.locator(".closed-dialog .message")
        _wait_until(
            message.inner_text,
            lambda text: "session is in use" in text,
            "the refusal in the closed dialog",
            timeout=15,
        )
        assert message.inner_text() == (
            "The only session is in use: close another tab, then Restart."
        )
        assert late.locator(".closed-dialog").is_visible()

        new = browser.new_page()
        new.goto(server.url)
        text = new.inner_text("body")
        assert "The only session is in use" in text and "Close another" in text
        assert "--max-sessions N" in text

        holders.close()
        _wait_until(
            lambda: _index_status(server.url),
            lambda status: status == 200,
            "the session freed",
            timeout=30,
        )
        server.process.send_signal(signal.SIGINT)
        out, _ = server.process.communicate(timeout=30)
    assert server.process.returncode == 0, out
    assert "at most 1 tab at once" in out and "Traceback" not in out
    assert out.count("refused a session: 1 in use") == 1, out

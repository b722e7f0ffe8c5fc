"""``mnist-tui serve``: the app in a browser, through textual-serve.

Each browser tab that opens the page gets an app of its own, ``python -I -m mnist_tui``
with the runs folder, data and settings given to ``serve``, up to ``--max-sessions`` at
once. The page and everything it loads (xterm.js, its CSS, the Roboto Mono font) come from
this server, never a CDN. Messages from a page are checked before the app sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError, config_from_args
from mnist_tui.core.config import FIELDS
from mnist_tui.core.memory import physical_memory
from mnist_tui.core.paths import default_runs_dir

log = logging.getLogger("mnist_tui.serve")

"""Exit code when the server cannot listen (the port is taken, the address is not ours)."""
PAGE_TEMPLATES = Path(__file__).with_name("serve_page")
"""textual-serve's page, changed to load nothing from outside this server."""
SESSION_MEMORY = 1 << 30
"""Memory set aside for each tab's app: about 220 MB idle, more while it trains."""
MOST_SESSIONS = 16
"""The default cap on live sessions, however much memory there is."""
BAD_MESSAGES_LOGGED = 10
"""Bad messages logged per session; later ones are ignored without a word."""
MOST_CELLS = 1000
"""The widest or tallest terminal a page may ask for, in cells."""


def default_max_sessions(memory: int | None = None) -> int:
    """One live session per GB of this machine's memory, 1 to :data:`MOST_SESSIONS`."""
    total = physical_memory() if memory is None else memory
    return max(1, min(MOST_SESSIONS, total // SESSION_MEMORY))


def bind_host(host: str) -> str:
    """The address to listen on: ``[::1]`` is ``::1``."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def busy_words(max_sessions: int) -> str:
    """What a tab refused for want of a session reads first."""
    if max_sessions == 1:
        return "The only session is in use"
    return f"All {max_sessions} sessions are in use"


def size_allowed(raw: str | None) -> bool:
    """Whether a page's ``?width=`` or ``?height=`` may start an app: absent or not a number
    (textual-serve then uses 80 by 24), or 1 to :data:`MOST_CELLS`."""
    try:
        return raw is None or 1 <= int(raw) <= MOST_CELLS
    except ValueError:
        return True


def parse_message(text: str) -> tuple[str, Any] | None:
    """A message as textual-serve's page sends it (``["stdin", "q"]``, ``["resize",
    {"width": 80, "height": 24}]``, ping, blur, focus), stdin as bytes; ``None`` if not."""
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(envelope, list) or not envelope:
        return None
    kind, args = envelope[0], envelope[1:]
    if kind in ("blur", "focus") and not args:
        return kind, None
    if len(args) != 1:
        return None
    (value,) = args
    if kind == "ping" and isinstance(value, str):
        return kind, value
    if kind == "stdin" and isinstance(value, str):
        try:
            return kind, value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return None
    if (
        kind == "resize"
        and isinstance(value, dict)
        and all(
            type(value.get(side)) is int and 1 <= value[side] <= MOST_CELLS
            for side in ("width", "height")
        )
    ):
        return kind, value
    return None


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (bracketed or not): reachable from this machine only."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def check_host(host: str, public: bool, port: int) -> str | None:
    """The warning to print for a public host; a non-loopback host without ``--public``
    is refused (:class:`CliError`)."""
    if is_loopback(host):
        return None
    if not public:
        raise CliError(
            f"--host {host} is not a loopback address (127.0.0.1, ::1, localhost): "
            "anyone who reaches it could train and delete runs; add --public to "
            "serve it anyway"
        )
    return (
        f"warning: serving on {host}, with no password: anyone who can reach port {port} "
        "can train models and delete runs"
    )


def app_command(args: argparse.Namespace) -> str:
    """The shell command each browser tab runs: this interpreter, isolated, on the app with
    the same runs folder, data and settings (paths made absolute, every word quoted)."""
    config_from_args(args)  # bad settings are refused now, not in every tab
    runs_dir = Path(args.runs_dir or default_runs_dir()).expanduser().absolute()
    argv = [sys.executable, "-I", "-m", "mnist_tui", f"--runs-dir={runs_dir}"]
    if args.data:
        argv.append(f"--data={Path(args.data).expanduser().absolute()}")
    if getattr(args, "preset", None):
        argv.append(f"--preset={args.preset}")
    if getattr(args, "config", None):
        argv.append(f"--config={Path(args.config).expanduser().absolute()}")
    for name in FIELDS:
        raw = getattr(args, f"cfg_{name}", None)
        if raw is not None:
            argv.append(f"--{name.replace('_', '-')}={raw}")
    return shlex.join(argv)


def page_url(host: str, port: int) -> str:
    """The address to open: an IPv6 address in brackets; all addresses as localhost."""
    name = host.removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return f"http://{name}:{port}"
    if address.is_unspecified:  # 0.0.0.0 or ::, open here as localhost
        return f"http://localhost:{port}"
    return f"http://[{name}]:{port}" if address.version == 6 else f"http://{name}:{port}"


def request_allowed(host_header: str, origin: str | None, public: bool) -> bool:
    """Whether a websocket may start an app: a page from another site (``Origin``) may not,
    nor, when serving on loopback only, a name that is not loopback (DNS rebinding)."""
    if origin is not None and urlsplit(origin).netloc.lower() != host_header.lower():
        return False
    if public:
        return True
    hostname = urlsplit(f"//{host_header}").hostname
    return hostname is not None and is_loopback(hostname)


class AppServer(Server):
    """textual-serve's server with our page, our messages, websockets and their messages
    checked, and at most ``max_sessions`` apps at once."""

    def __init__(
        self, command: str, host: str, port: int, public: bool, max_sessions: int | None = None
    ) -> None:
        super().__init__(
            command,
            host=host,
            port=port,
            title="mnist-tui",
            public_url=page_url(host, port),
            templates_path=PAGE_TEMPLATES,
        )
        self.public = public
        self.max_sessions = max_sessions or default_max_sessions()
        self.sessions: set[asyncio.Task[object]] = set()
        """The live sessions: one task per open websocket, until its app has exited."""

    @property
    def full(self) -> bool:
        """Whether every session is taken."""
        return len(self.sessions) >= self.max_sessions

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page; when every session is taken, a page that says so (503)."""
        if self.full:
            return aiohttp_jinja2.render_template(
                "busy.html",
                request,
                {"heading": busy_words(self.max_sessions), "max_sessions": self.max_sessions},
                status=503,
            )
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Start an app for an allowed page while a session is free; stop it when the page
        or the server goes. Anything else is refused with one log line."""
        if not web.WebSocketResponse().can_prepare(request).ok:
            log.warning(
                "refused %s %s from %s: not a websocket request",
                request.method,
                request.path,
                request.remote,
            )
            raise web.HTTPUpgradeRequired(
                headers={"Upgrade": "websocket"},
                text="mnist-tui serve: /ws takes a websocket from the page; open / instead",
            )
        if not request_allowed(request.host, request.headers.get("Origin"), self.public):
            log.warning(
                "refused a websocket from a page of another site (%s)",
                request.headers.get("Origin"),
            )
            raise web.HTTPForbidden(text="mnist-tui serve: this page may not start the app")
        if not all(size_allowed(request.query.get(side)) for side in ("width", "height")):
            log.warning(
                "refused a websocket asking for a %sx%s terminal",
                request.query.get("width"),
                request.query.get("height"),
            )
            raise web.HTTPBadRequest(text=f"mnist-tui serve: at most {MOST_CELLS} cells a side")
        if self.full:
            log.warning(
                "refused a session: %d in use, as many as --max-sessions allows", self.max_sessions
            )
            websocket = web.WebSocketResponse()
            await websocket.prepare(request)
            reason = f"{busy_words(self.max_sessions)}: close another tab, then Restart."
            await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=reason.encode())
            return websocket
        task = asyncio.current_task()
        assert task is not None  # aiohttp runs every handler in a task of its own
        self.sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions.discard(task)

    async def _process_messages(
        self, websocket: web.WebSocketResponse, app_service: AppService
    ) -> None:
        """textual-serve's loop over the page's messages, each checked first: a bad one is
        ignored with one log line (the first :data:`BAD_MESSAGES_LOGGED` of a session)."""
        bad = 0
        async for message in websocket:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            parsed = parse_message(message.data) if message.type == WSMsgType.TEXT else None
            if parsed is None:
                bad += 1
                if bad <= BAD_MESSAGES_LOGGED:
                    shown = (
                        repr(message.data[:80])
                        if message.type == WSMsgType.TEXT
                        else f"{len(message.data)} bytes of binary data"
                    )
                    log.warning("ignored a bad message from a browser tab: %s", shown)
                elif bad == BAD_MESSAGES_LOGGED + 1:
                    log.warning("further bad messages from this tab are ignored unlogged")
                continue
            kind, value = parsed
            if kind == "stdin":
                await app_service.send_bytes(value)
            elif kind == "resize":
                await app_service.set_terminal_size(value["width"], value["height"])
            elif kind == "ping":
                with contextlib.suppress(ConnectionError):  # the page has just gone
                    await websocket.send_json(["pong", value])
            elif kind == "blur":
                await app_service.blur()
            else:
                await app_service.focus()

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing before the port is ours (see :meth:`serve`)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """End every session: each app is told to quit, and the server waits for it."""
        for task in list(self.sessions):
            task.cancel()

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl+C or SIGTERM; print the address once the port is ours."""
        self.debug = debug
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        tabs = "1 tab" if self.max_sessions == 1 else f"{self.max_sessions} tabs"
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            access_log=None,
            print=lambda *_: print(
                f"Open {self.public_url} in a browser (at most "
                f"{tabs} at once, each an app of its own; Ctrl+C "
                "stops)",
                flush=True,
            ),
        )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the app until Ctrl+C; a port that cannot be had is one line and exit 6."""
    warning = check_host(args.host, args.public, args.port)
    server = AppServer(
        app_command(args), bind_host(args.host), args.port, args.public, args.max_sessions
    )
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        server.serve()
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        reason = "is already in use (--port picks another)" if taken else f"cannot be used ({exc})"
        print(f"error: {args.host} port {args.port} {reason}", file=sys.stderr)
        return ExitCode.SERVE
    print("Stopped.")
    return ExitCode.OK

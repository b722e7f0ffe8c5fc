"""``mnist-tui serve``: the app in a browser, through textual-serve.

Each browser tab that opens the page gets an app of its own, ``python -I -m mnist_tui``
with the runs folder, data and settings given to ``serve``. The page and everything it
loads (xterm.js, its CSS, the Roboto Mono font) come from this server, never a CDN.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from mnist_tui.cli.parser import CliError, config_from_args
from mnist_tui.core.config import FIELDS
from mnist_tui.core.runs import default_runs_dir

SERVE_ERROR_EXIT = 6
"""Exit code when the server cannot listen (the port is taken, the address is not ours)."""
PAGE_TEMPLATES = Path(__file__).with_name("serve_page")
"""textual-serve's page, changed to load nothing from outside this server."""


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
        raise CliError(f"--host {host} is not a loopback address (127.0.0.1, ::1, localhost): "
                       "anyone who reaches it could train and delete runs; add --public to "
                       "serve it anyway")
    return (f"warning: serving on {host}, with no password: anyone who can reach port {port} "
            "can train models and delete runs")


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
    """textual-serve's server with our page, our messages, and websockets checked."""

    def __init__(self, command: str, host: str, port: int, public: bool) -> None:
        super().__init__(command, host=host, port=port, title="mnist-tui",
                         public_url=page_url(host, port), templates_path=PAGE_TEMPLATES)
        self.public = public
        self._sessions: set[asyncio.Task[object]] = set()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Start an app for an allowed page; stop it when the page or the server goes."""
        if not request_allowed(request.host, request.headers.get("Origin"), self.public):
            raise web.HTTPForbidden(text="mnist-tui serve: this page may not start the app")
        task = asyncio.current_task()
        assert task is not None  # aiohttp runs every handler in a task of its own
        self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions.discard(task)

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing before the port is ours (see :meth:`serve`)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """End every session: each app is told to quit, and the server waits for it."""
        for task in list(self._sessions):
            task.cancel()

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl+C or SIGTERM; print the address once the port is ours."""
        self.debug = debug
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        web.run_app(self._make_app(), host=self.host, port=self.port, access_log=None,
                    print=lambda *_: print(f"Open {self.public_url} in a browser "
                                           "(Ctrl+C stops)", flush=True))


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the app until Ctrl+C; a port that cannot be had is one line and exit 6."""
    warning = check_host(args.host, args.public, args.port)
    server = AppServer(app_command(args), args.host, args.port, args.public)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        server.serve()
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        reason = "is already in use (--port picks another)" if taken else f"cannot be used ({exc})"
        print(f"error: {args.host} port {args.port} {reason}", file=sys.stderr)
        return SERVE_ERROR_EXIT
    print("Stopped.")
    return 0

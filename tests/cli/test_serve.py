"""``mnist-tui serve`` without a browser: the host check, the command each tab runs, the
page's assets, the websocket check, a port in use (tests/ui/test_serve_browser.py drives
the real thing in Chromium)."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import textual_serve

from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError
from mnist_tui.cli.parser import build_parser
from mnist_tui.cli.serve import (
    PAGE_TEMPLATES,
    AppServer,
    app_command,
    check_host,
    is_loopback,
    page_url,
    request_allowed,
)
from tests.conftest import Cli


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"],
)
def test_loopback_hosts_are_served_without_a_word(host: str) -> None:
    assert is_loopback(host)
    assert check_host(host, public=False, port=8000) is None


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "192.168.1.20",
        "10.0.0.1",
        "8.8.8.8",
        "example.com",
        "localhost.example.com",
        "128.0.0.1",
        "",
    ],
)
def test_other_hosts_are_refused_without_public_and_warned_with_it(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(CliError, match=r"not a loopback address.*add --public"):
        check_host(host, public=False, port=8000)
    warning = check_host(host, public=True, port=8000)
    assert warning is not None
    assert "anyone who can reach port 8000 can train models and delete runs" in warning


def test_the_cli_refuses_a_public_host_in_one_line(cli: Cli) -> None:
    code, out, err = cli("serve", "--host", "0.0.0.0")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--public" in err


def test_the_cli_warns_before_serving_publicly(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[str] = []
    monkeypatch.setattr(AppServer, "serve", lambda self, debug=False: served.append(self.host))
    code, out, err = cli("serve", "--host", "0.0.0.0", "--public", "--port", "8123")
    assert code == 0 and served == ["0.0.0.0"]
    assert err.startswith("warning: serving on 0.0.0.0") and "port 8123" in err
    assert "Stopped." in out


def _command(*argv: str) -> list[str]:
    return shlex.split(app_command(build_parser().parse_args(list(argv))))


def test_each_tab_runs_the_app_isolated_with_the_same_runs_data_and_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = tmp_path / 'it\'s a "folder" $HOME; rm -rf x'
    words = _command(
        "--epochs",
        "3",
        "serve",
        "--runs-dir",
        str(odd / "runs"),
        "--data",
        str(odd / "mnist.npz"),
        "--hidden-units",
        "64,32",
        "--learning-rate=3e-3",
        "--preset",
        "CNN",
    )
    assert words[:4] == [sys.executable, "-I", "-m", "mnist_tui"]
    assert f"--runs-dir={odd / 'runs'}" in words and f"--data={odd / 'mnist.npz'}" in words
    assert {"--epochs=3", "--hidden-units=64,32", "--learning-rate=3e-3", "--preset=CNN"} <= set(
        words
    )
    assert len(words) == 10

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_TUI_RUNS_DIR", raising=False)
    assert _command("serve")[4:] == [f"--runs-dir={tmp_path / 'saved_models'}"]
    monkeypatch.setenv("MNIST_TUI_RUNS_DIR", "elsewhere")
    (tmp_path / "c.json").write_text('{"epochs": 2}')
    assert _command("serve", "--config", "c.json")[4:] == [
        f"--runs-dir={tmp_path / 'elsewhere'}",
        f"--config={tmp_path / 'c.json'}",
    ]


def test_bad_settings_are_refused_before_serving(cli: Cli) -> None:
    code, _, err = cli("serve", "--dropout", "2")
    assert code == 2 and "--dropout" in err


def test_the_page_loads_everything_from_the_server() -> None:
    page = (PAGE_TEMPLATES / "app_index.html").read_text()
    static = Path(textual_serve.__file__).parent / "static"
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)|url\(["']?([^"')]+)""", page)
    urls = [a or b for a, b in links]
    assert len(urls) >= 5 and "static/js/textual.js" in urls
    for url in urls:
        assert url.startswith("static/"), url
        assert (static / url.removeprefix("static/")).is_file(), url
    assert "fonts.googleapis" not in page and "//" not in page.replace(
        "http://www.w3.org", ""
    ).replace('"wss://" : "ws://"', "")


@pytest.mark.parametrize(
    ("host", "origin", "public", "allowed"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000", False, True),
        ("localhost:8000", None, False, True),
        ("[::1]:8000", "http://[::1]:8000", False, True),
        ("127.0.0.1:8000", "http://evil.example", False, False),  # another site's page
        ("127.0.0.1:8000", "http://127.0.0.1:9000", False, False),
        ("evil.example:8000", "http://evil.example:8000", False, False),  # DNS rebinding
        ("evil.example:8000", "http://evil.example:8000", True, True),
        ("10.0.0.5:8000", "http://10.0.0.5:8000", True, True),
        ("10.0.0.5:8000", "http://evil.example", True, False),
    ],
)
def test_a_websocket_starts_an_app_only_for_our_own_page(
    host: str, origin: str | None, public: bool, allowed: bool
) -> None:
    assert request_allowed(host, origin, public) is allowed


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("::1", "http://[::1]:8000"),
        ("localhost", "http://localhost:8000"),
        ("0.0.0.0", "http://localhost:8000"),
    ],
)
def test_the_address_to_open(host: str, url: str) -> None:
    assert page_url(host, 8000) == url


def test_a_port_in_use_is_one_line_and_exit_6(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                "-m",
                "mnist_tui",
                "serve",
                "--port",
                str(port),
                "--runs-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == ExitCode.SERVE == 6
    assert done.stderr.strip() == (
        f"error: 127.0.0.1 port {port} is already in use (--port picks another)"
    )
    assert "Open" not in done.stdout


def test_a_bracketed_ipv6_loopback_is_served_and_the_start_line_gives_the_cap(
    tmp_path: Path,
) -> None:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "serve",
            "--host",
            "[::1]",
            "--port",
            str(port),
            "--max-sessions",
            "3",
            "--runs-dir",
            str(tmp_path),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("::1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        answered = process.poll() is None
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert answered and process.returncode == 0, err
    assert out.splitlines() == [
        f"Open http://[::1]:{port} in a browser (at most 3 tabs at "
        "once, each an app of its own; Ctrl+C stops)",
        "Stopped.",
    ]
    assert err == ""


def test_max_sessions_is_given_to_the_server_or_derived_from_memory(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_tui.cli.serve import default_max_sessions

    served: list[int] = []
    monkeypatch.setattr(
        AppServer, "serve", lambda self, debug=False: served.append(self.max_sessions)
    )
    assert cli("serve", "--max-sessions", "3")[0] == 0
    assert cli("serve")[0] == 0
    assert served == [3, default_max_sessions()]
    code, out, err = cli("serve", "--max-sessions", "0")
    assert code == 2 and out == "" and "--max-sessions" in err

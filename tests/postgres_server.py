"""A throwaway PostgreSQL server for the tests: Debian's initdb and pg_ctl into a temporary
folder, on 127.0.0.1 and a free port, stopped and removed at teardown.

Never assumes a running server. PostgreSQL refuses to run as root: as root, the server
runs as the ``postgres`` user (which Debian's package creates) through ``runuser``.
``make postgres`` (run by ``.ci/run``) installs the server on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_USER = "postgres"


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, else the
    folder of a ``pg_ctl`` on the PATH, else ``None``."""

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in folder.parent.name.split(".") if part.isdigit())

    folders = sorted(
        (
            folder
            for folder in Path("/usr/lib/postgresql").glob("*/bin")
            if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file()
        ),
        key=version,
        reverse=True,
    )
    if folders:
        return folders[0]
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").is_file():
        return Path(found).resolve().parent
    return None


def _run_as() -> list[str]:
    """The prefix that runs a server command as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.skip(
            f"running as root and there is no {SERVER_USER!r} user to run "
            "PostgreSQL as (install Debian's postgresql package: make postgres)"
        )
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser to start PostgreSQL as another user")
    return [runuser, "-u", SERVER_USER, "--"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a temporary folder; yield its URL; stop it and remove the folder."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL's server binaries (initdb, pg_ctl) are not installed; "
            "`make postgres` installs them (Debian: apt-get install postgresql)"
        )
    prefix = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="mnist-tui-pg-"))
    data = folder / "data"
    try:
        if prefix:
            shutil.chown(folder, user=SERVER_USER)
        subprocess.run(
            [
                *prefix,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c full_page_writes=off"
        subprocess.run(
            [
                *prefix,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [
                    *prefix,
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
            )
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r} {detail}") from exc
    finally:
        for _ in range(20):  # the server's last files may still be closing
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.1)

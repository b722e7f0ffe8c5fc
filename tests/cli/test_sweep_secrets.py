"""Storage URLs never show their secrets: not in output, errors or a worker's argv."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mnist_tui.core.sweeps.storage import SweepError, SweepStorage, display_url
from tests.conftest import Cli
from tests.postgres_server import free_port

SECRET = "Hunter2x"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/d", "postgresql://u:***@h/d"),
        (f"postgresql://u:S@{SECRET}@h/d", "postgresql://u:***@h/d"),
        (f"postgresql://u:a/b:c@{SECRET}@h:5/d", "postgresql://u:***@h:5/d"),
        (f"postgresql+psycopg://u:p%40{SECRET}@h/d", "postgresql+psycopg://u:***@h/d"),
        (f"postgresql://u@h/d?password={SECRET}", "postgresql://u@h/d?password=***"),
        (
            f"postgresql://h/d?user=u&PassWord={SECRET}&sslmode=require",
            "postgresql://h/d?user=u&PassWord=***&sslmode=require",
        ),
        (
            f"postgresql://u@h/d?sslpassword={SECRET}&passfile=/home/u/{SECRET}",
            "postgresql://u@h/d?sslpassword=***&passfile=***",
        ),
        (
            f"mysql+pymysql://u:{SECRET}@h/d?charset=utf8mb4",
            "mysql+pymysql://u:***@h/d?charset=utf8mb4",
        ),
        (
            f"postgresql://u:{SECRET}@h/d?application_name=a@b",
            "postgresql://u:***@h/d?application_name=a@b",
        ),
        ("sqlite:////tmp/x/sweeps.db", "sqlite:////tmp/x/sweeps.db"),
    ],
)
def test_display_hides_every_password(url: str, shown: str) -> None:
    assert display_url(url) == shown
    assert SECRET not in display_url(url)


def test_errors_name_the_storage_without_its_secrets() -> None:
    from mnist_tui.core.sweeps.storage import redact

    url = f"postgresql://me:{SECRET}@127.0.0.1:{free_port()}/db?sslpassword={SECRET}z"
    assert SECRET not in redact(f"failed for {url} (pw {SECRET})", url)
    with pytest.raises(SweepError) as caught:
        SweepStorage(url)
    assert SECRET not in str(caught.value) and "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://me@127.0.0.1:{{port}}/db?password={SECRET}",
        f"postgresql://me:pa@{SECRET}@127.0.0.1:{{port}}/db",
    ],
)
def test_the_cli_never_prints_a_password(cli: Cli, tmp_path: Path, url: str) -> None:
    url = url.format(port=free_port())
    for argv in (
        ("sweep", "list", "--storage", url),
        ("sweep", "run", "--storage", url, "--runs-dir", str(tmp_path)),
    ):
        code, out, err = cli(*argv)
        assert code == 5, err
        assert SECRET not in out + err
        assert err.strip().count("\n") == 0 and "127.0.0.1" in err


def test_workers_get_the_storage_url_outside_their_argv(tmp_path: Path) -> None:
    from mnist_tui.cli.sweep import STORAGE_ENV, worker_command, worker_env

    url = f"postgresql://me:{SECRET}@db-host/sweeps"
    args = argparse.Namespace(
        runs_dir=tmp_path, heartbeat=10, timeout=None, sampler_seed=None, data=None
    )
    command = worker_command(args, "s", 3, 1, 1)
    assert not any(SECRET in part or "db-host" in part for part in command)
    assert "--storage" not in command
    env = worker_env(url)
    assert env[STORAGE_ENV] == url

"""Atomic writes land where the user asked and replace only what is a file to replace.

``export --out`` names a destination: a file there keeps its owner and mode, a link is
followed, a FIFO or device (``/dev/stdout``) is written to, a missing folder is refused.
Files inside a run folder (hostile input) are replaced, links never followed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.core.files.atomic import atomic_write_text

ROOT = os.geteuid() == 0
OTHER_USER = 65534  # nobody


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("through_links", [False, True])
def test_a_file_there_keeps_its_owner_and_mode(tmp_path: Path, through_links: bool) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o640)
    if ROOT:
        os.chown(target, OTHER_USER, OTHER_USER)
    before = target.stat()
    atomic_write_text(target, "new", through_links=through_links)
    after = target.stat()
    assert target.read_text() == "new"
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path) -> None:
    target = tmp_path / "new.csv"
    atomic_write_text(target, "x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


@pytest.mark.skipif(not ROOT, reason="needs a file of another user")
def test_a_file_whose_owner_cannot_be_kept_is_rewritten_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a user who is not root writing another user's file: chown is refused."""
    target = tmp_path / "theirs.csv"
    target.write_text("old and longer")
    os.chown(target, OTHER_USER, OTHER_USER)
    inode = target.stat().st_ino

    def refuse(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refuse)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_ino == inode
    assert target.stat().st_uid == OTHER_USER
    assert [p.name for p in tmp_path.iterdir()] == ["theirs.csv"]  # no temporary left


def test_a_missing_folder_is_refused_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_text(tmp_path / "nowhere" / "out.csv", "x", through_links=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_named_destination_is_written_through_links(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real.name)
    atomic_write_text(link, "new", through_links=True)
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to("made.csv")
    atomic_write_text(dangling, "made", through_links=True)
    assert dangling.is_symlink() and (tmp_path / "made.csv").read_text() == "made"


def test_a_file_in_a_run_folder_replaces_a_link_never_follows_it(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    link = tmp_path / "annotation.json"
    link.symlink_to(outside)
    atomic_write_text(link, "{}")
    assert not link.is_symlink() and link.read_text() == "{}"
    assert outside.read_text() == "keep"


# --- the real command -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(one_run: Path) -> Path:
    """A runs folder holding one small run (read only here)."""
    return one_run.parent


def _export(runs: Path, out: Path | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "mnist_tui",
            "export",
            "latest",
            "--runs-dir",
            str(runs),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_export_out_writes_through_to_stdout(runs: Path, tmp_path: Path) -> None:
    """``--out /dev/stdout``; a link of our own to the same place, so that a regression
    replaces a file in ``tmp_path``, not the machine's ``/dev/stdout``."""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    done = _export(runs, stdout, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("epoch,loss,accuracy") and stdout.is_symlink()


def test_export_out_writes_into_a_fifo_and_a_device(runs: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the writer's open goes on
    try:
        done = _export(runs, fifo, tmp_path)
        assert done.returncode == 0, done.stderr
        assert os.read(reader, 1 << 16).startswith(b"epoch,loss,accuracy")
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        return  # no device nodes here (not root, or not allowed)
    done = _export(runs, null, tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_export_out_keeps_owner_and_mode_and_refuses_a_missing_folder(
    runs: Path, tmp_path: Path
) -> None:
    target = tmp_path / "shared.csv"
    target.write_text("old")
    target.chmod(0o664)
    if ROOT:
        os.chown(target, OTHER_USER, OTHER_USER)
    before = target.stat()
    done = _export(runs, target, tmp_path)
    assert done.returncode == 0, done.stderr
    after = target.stat()
    assert target.read_text().startswith("epoch,loss")
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (
        0o664,
        before.st_uid,
        before.st_gid,
    )
    done = _export(runs, tmp_path / "missing" / "out.csv", tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1 and "does not exist" in done.stderr
    assert not (tmp_path / "missing").exists()

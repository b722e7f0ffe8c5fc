"""The runs folder's index: summaries reused only while a run's files are unchanged, and
the index file read as hostile input (a bad one is ignored, never trusted)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from mnist_tui.core.runs import index as run_index
from mnist_tui.core.runs.index import INDEX_FILE, RunSummary
from mnist_tui.core.runs.store import RUN_FILE, RunError, RunStore
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs copied a moment ago may be kept (the window is tested on its own below)."""
    monkeypatch.setattr(run_index, "RACY_SECONDS", 0.0)


def only_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on a run.json read in full fails the test."""

    def refuse(_store: RunStore, folder: Path) -> None:
        raise AssertionError(f"{folder.name} was read again")

    monkeypatch.setattr(RunStore, "_read", refuse)


def accuracy_of(runs: Path, name: str) -> float:
    return float(json.loads((runs / name / RUN_FILE).read_text())["test"]["accuracy"])


def seconds_of(runs: Path, name: str) -> float:
    return float(json.loads((runs / name / RUN_FILE).read_text())["train_seconds"])


def same_size_edit(path: Path) -> None:
    """Change the training seconds' first digit in place, keeping the file's size and
    mtime (as ``cp -p``, or an edit within one clock tick, would)."""
    text = path.read_text()
    before = os.stat(path)
    found = re.search(r'"train_seconds": (\d)', text)
    assert found is not None
    digit = "7" if found.group(1) != "7" else "3"
    with path.open("r+", encoding="utf-8") as handle:
        handle.seek(len(text[: found.start(1)].encode()))
        handle.write(digit)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_summaries_match_the_full_runs(runs: Path) -> None:
    store = RunStore(runs)
    full, _bad = store.list()
    summaries, bad = store.summaries()
    assert bad == [] and [s.run_id for s in summaries] == [r.run_id for r in full]
    assert summaries[0] == RunSummary.of(full[0])
    assert (runs / INDEX_FILE).is_file()


def test_a_second_process_reads_the_index_not_the_runs(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _bad = RunStore(runs).summaries()
    only_cached(monkeypatch)
    again, bad = RunStore(runs).summaries()  # a new store: as a new process
    assert bad == [] and again == first


def test_an_edit_of_the_same_size_and_mtime_is_seen(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (name,) = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
    store = RunStore(runs)
    store.list()
    store.summaries()
    before = seconds_of(runs, name)
    same_size_edit(runs / name / RUN_FILE)
    wanted = seconds_of(runs, name)
    assert wanted != before
    for listing in (store.summaries, RunStore(runs).summaries, store.list):
        (run,), _bad = listing()
        assert run.train_seconds == wanted, listing


def test_a_new_annotation_a_deleted_run_and_a_new_one_are_seen(runs: Path) -> None:
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    store = RunStore(runs)
    (run,), _bad = store.list()
    store.summaries()
    store.annotate(run, name="renamed")
    assert [s.name for s in RunStore(runs).summaries()[0]] == ["renamed"]
    assert [r.name for r in store.list()[0]] == ["renamed"]
    shutil.copytree(folder, runs / "copy")
    assert len(store.summaries()[0]) == 2 and len(store.list()[0]) == 2
    store.delete("copy")
    assert [s.run_id for s in RunStore(runs).summaries()[0]] == [folder.name]
    assert list(json.loads((runs / INDEX_FILE).read_text())["runs"]) == [folder.name]


def test_a_run_changed_just_now_is_not_kept(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_index, "RACY_SECONDS", 3600.0)
    (summary,), _bad = RunStore(runs).summaries()
    assert summary.run_id
    assert (
        not (runs / INDEX_FILE).exists() or not json.loads((runs / INDEX_FILE).read_text())["runs"]
    )


def lying_index(runs: Path, change: dict[str, object]) -> None:
    """The index with the run's summary changed as ``change`` says, its key kept."""
    RunStore(runs).summaries()
    data = json.loads((runs / INDEX_FILE).read_text())
    for entry in data["runs"].values():
        entry["summary"].update(change)
    (runs / INDEX_FILE).write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change",
    [
        {"test_accuracy": 7.0},
        {"test_accuracy": "0.99"},
        {"status": "hacked"},
        {"config": {"learning_rate": -1}},
        {"config": {"exec": "rm -rf /"}},
        {"created": "yesterday"},
        {"annotation": {"name": "a\nb", "note": "", "tags": []}},
        {"annotation": {"name": "x" * 10_000, "note": "", "tags": []}},
        {"epochs_done": 10**9},
        {"has_steps": "yes"},
        {"sweep": {"study": "\x1b[2J", "trial": 1}},
        {"steered_rate": float("inf")},
        {"settings": 5},
        {"settings": "x" * 10_000},
    ],
)
def test_an_entry_that_breaks_the_schema_is_read_again(
    runs: Path, change: dict[str, object]
) -> None:
    (name,) = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
    lying_index(runs, change)
    (summary,), bad = RunStore(runs).summaries()
    assert bad == [] and summary.test_accuracy == pytest.approx(accuracy_of(runs, name))
    assert summary.status == "completed"
    data = json.loads((runs / INDEX_FILE).read_text())  # and the index is mended
    assert data["runs"][name]["summary"]["test_accuracy"] == summary.test_accuracy


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"format": 99, "runs": {}}', b"[" * 100_000, b'{"runs": 5}'],
)
def test_a_damaged_index_is_ignored_and_replaced(runs: Path, body: bytes) -> None:
    (runs / INDEX_FILE).write_bytes(body)
    (summary,), bad = RunStore(runs).summaries()
    assert bad == [] and summary.config.architecture == "mlp"
    assert json.loads((runs / INDEX_FILE).read_text())["format"] == run_index.INDEX_FORMAT


def test_an_index_that_is_a_link_a_fifo_or_too_large_is_never_read(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RunStore(runs).summaries()
    real = (runs / INDEX_FILE).read_text()
    only_cached(monkeypatch)
    assert RunStore(runs).summaries()[0]  # the real index serves
    monkeypatch.undo()
    monkeypatch.setattr(run_index, "RACY_SECONDS", 0.0)
    reads: list[str] = []
    original = RunStore._read

    def counted(store: RunStore, folder: Path) -> object:
        reads.append(folder.name)
        return original(store, folder)

    monkeypatch.setattr(RunStore, "_read", counted)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(real)
    (runs / INDEX_FILE).unlink()
    (runs / INDEX_FILE).symlink_to(elsewhere)
    assert RunStore(runs).summaries()[0] and reads  # not followed: read in full
    assert elsewhere.read_text() == real  # the link's target is never written through
    (runs / INDEX_FILE).unlink()
    os.mkfifo(runs / INDEX_FILE)
    reads.clear()
    assert RunStore(runs).summaries()[0] and reads  # no hang on a FIFO
    (runs / INDEX_FILE).unlink()
    (runs / INDEX_FILE).write_text(real)
    monkeypatch.setattr(run_index, "MAX_INDEX_BYTES", len(real) - 1)
    reads.clear()
    assert RunStore(runs).summaries()[0] and reads


def test_a_bad_run_is_still_reported_with_an_index(runs: Path) -> None:
    RunStore(runs).summaries()
    (runs / "broken").mkdir()
    (runs / "broken" / RUN_FILE).write_text("{")
    summaries, bad = RunStore(runs).summaries()
    assert len(summaries) == 1 and [b.path.name for b in bad] == ["broken"]
    with pytest.raises(RunError, match=r"fits|no run"):
        RunStore(runs).resolve("brok")


def test_resolve_by_name_uses_the_summaries(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(runs)
    (run,), _bad = store.list()
    store.annotate(run, name="best one")
    store.summaries()
    only_cached(monkeypatch)
    assert RunStore(runs).resolve("best") == run.path


def test_runs_prints_many_runs_as_aligned_columns(
    cli: Cli, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    shutil.copytree(folder, runs / "[red]x")
    monkeypatch.setattr("mnist_tui.cli.commands.RICH_TABLE_ROWS", 1)
    code, out, _err = cli("runs", "--runs-dir", str(runs))
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"Runs in {runs}"
    assert lines[1].split() == ["id", "name", "settings", "epochs", "status", "test", "acc", "date"]
    assert len(lines) == 4 and any(line.startswith("[red]x  ") for line in lines)
    code, out, _err = cli("runs", "--json", "--runs-dir", str(runs))
    listing = json.loads(out)
    assert code == 0 and sorted(r["run_id"] for r in listing["runs"]) == sorted(
        [folder.name, "[red]x"]
    )
    assert out.count("\n") < 20  # a run a line

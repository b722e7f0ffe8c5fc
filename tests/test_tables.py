"""The epoch table lines the app shows live."""

from __future__ import annotations

from mnist_tui.core.events import EpochEnd
from mnist_tui.tables import epoch_lines


def _row(epoch: int, val: float | None = None) -> EpochEnd:
    return EpochEnd(
        epoch=epoch, loss=1 / epoch, accuracy=0.9, val_loss=val, val_accuracy=val, seconds=1.25
    )


def test_columns_line_up_under_their_headers() -> None:
    header, first = epoch_lines([_row(1, 0.5)])
    assert header.split() == ["epoch", "loss", "accuracy", "val", "loss", "val", "acc", "seconds"]
    assert len(first) == len(header)
    assert first.split() == ["1", "1.0000", "0.9000", "0.5000", "0.5000", "1.2"]
    assert header.index("accuracy") + len("accuracy") == first.index("0.9000") + 6


def test_missing_validation_shows_a_dash() -> None:
    _header, line = epoch_lines([_row(3)])
    assert line.split()[3:5] == ["-", "-"]


def test_only_the_newest_rows_with_a_note_of_the_rest() -> None:
    lines = epoch_lines([_row(e) for e in range(1, 11)], last=3)
    assert [line.split()[0] for line in lines[1:4]] == ["8", "9", "10"]
    assert lines[-1] == "(last 3 of 10 epochs)"
    assert len(epoch_lines([_row(1), _row(2)], last=3)) == 3  # no note when all fit


def test_a_diverged_loss_keeps_to_its_column() -> None:
    header, line = epoch_lines(
        [
            EpochEnd(
                epoch=1,
                loss=11399831.0,
                accuracy=0.0987,
                val_loss=13590909.0,
                val_accuracy=0.1,
                seconds=0.4,
            )
        ]
    )
    assert len(line) == len(header)
    assert line.split()[1:4] == ["1.14e+07", "0.0987", "1.36e+07"]

"""The compared runs' loss and accuracy curves, overlaid, by epoch or by samples seen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive

from mnist_tui.core.runs.record import RunInfo
from mnist_tui.ui.widgets.curves import XAxis, compare_curves
from mnist_tui.ui.widgets.line_chart import LineChart

X_LABELS: dict[XAxis, str] = {"epoch": "epoch", "samples": "samples seen"}


class CompareCurves(Horizontal):
    """Loss and accuracy of each compared run: its colour and letter, train solid,
    validation dashed. The x axis counts epochs or the samples seen (runs with different
    validation splits see different digits an epoch)."""

    DEFAULT_CSS = """
    CompareCurves { height: 16; }
    CompareCurves LineChart { width: 1fr; }
    CompareCurves #compare-loss { margin-right: 3; }
    """

    x_axis: reactive[XAxis] = reactive[XAxis]("epoch")
    """What the x axis counts."""

    def __init__(self, runs: list[RunInfo], train_digits: int, *, id: str | None = None) -> None:
        """``train_digits`` is the size of the training set the runs were trained on."""
        super().__init__(id=id)
        self._runs = runs
        self._train_samples = [run.config.train_count(train_digits) for run in runs]

    def compose(self) -> ComposeResult:
        yield LineChart("loss", bounds=(0.0, None), log_scale_key=True, id="compare-loss")
        yield LineChart("accuracy", bounds=(0.0, 1.0), id="compare-accuracy")

    def on_mount(self) -> None:
        self.watch_x_axis()

    def action_toggle_x(self) -> None:
        """Switch the x axis between epochs and samples seen."""
        self.x_axis = "samples" if self.x_axis == "epoch" else "epoch"

    def watch_x_axis(self) -> None:
        for metric in ("loss", "accuracy"):
            chart = self.query_one(f"#compare-{metric}", LineChart)
            chart.cursor = None  # an epoch is not a sample count
            chart.set_data(
                compare_curves(self._runs, self._train_samples, metric, self.x_axis),
                x_label=X_LABELS[self.x_axis],
            )

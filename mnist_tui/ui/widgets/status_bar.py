"""The status line under the tabs: the data, the device, the runs folder, and whether a
training runs or waits, bound to the app's reactives."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from mnist_tui.core.data.mnist import MnistData


class StatusBar(Static):
    """One line: ``MNIST real ✓  │  CPU  │  runs: saved_models`` (``training…`` first
    while a run trains); while MNIST loads, what the loader says. Its reactives are bound
    to the app's (``data_bind``): it is never told what to show."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    data: reactive[MnistData | None] = reactive(None, always_update=True)
    """The loaded MNIST (``None`` until it is loaded)."""
    data_status: reactive[str] = reactive("Loading MNIST…")
    """What the loader says, shown until MNIST is loaded."""
    device: reactive[str] = reactive("")
    """Where TensorFlow trains."""
    runs_root: reactive[str] = reactive("")
    """The runs folder."""
    training: reactive[bool] = reactive(False)
    paused: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Loading MNIST…", id=id, markup=False)

    def status(self) -> str:
        """The line as shown."""
        if self.data is None:
            return self.data_status
        data = f"MNIST {self.data.source} ✓" if self.data.verified else "MNIST (unverified)"
        parts = [data, self.device, f"runs: {self.runs_root}"]
        if self.training:  # the elapsed time is on the progress line
            parts.insert(0, "paused (p resumes)" if self.paused else "training…")
        return "  │  ".join(parts)

    def _show(self) -> None:
        self.update(self.status(), layout=False)

    def watch_data(self) -> None:
        self._show()

    def watch_data_status(self) -> None:
        self._show()

    def watch_device(self) -> None:
        self._show()

    def watch_runs_root(self) -> None:
        self._show()

    def watch_training(self) -> None:
        self._show()

    def watch_paused(self) -> None:
        self._show()

"""Nothing the app shows acts on the terminal: a run folder named with a window-title, a
clipboard write, a screen wipe, an 8-bit CSI and a bidi override reaches the terminal
as text, in every tab, from the real defaults."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.ui.app import MnistApp
from tests.ui.conftest import wait_for, write_fixed_run

AppFactory = Callable[..., MnistApp]
HOSTILE = "evil\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b2J\u202e\u200bend"
ACTING = re.compile("\x1b\\]|\x07|\x1b\\[2J|\x9b|\u202e|\u200b")
"""What must never reach the terminal (Textual's own sequences are CSI with colours,
cursor moves and modes, never OSC, a wipe, C1 or bidi characters)."""


def terminal_output(app: MnistApp) -> str:
    """Everything the app would write to the terminal for its whole screen now."""
    update = app.screen._compositor.render_update(full=True)
    return str(update.render_segments(app.console))


async def test_a_hostile_run_name_never_acts_on_the_terminal(
    make_app: AppFactory, slice_data: MnistData, tmp_path: Path
) -> None:
    write_fixed_run(tmp_path / "runs", slice_data, run_id="20261124-120000-mlp-" + HOSTILE)
    app = make_app(TrainConfig())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.data is not None, pilot)
        await pilot.press("5")
        await pilot.pause()
        output = terminal_output(app)
        assert "20261124-120000-mlp-evil" in output  # the run is listed
        assert not ACTING.findall(output)
        assert "\\x1b]0;pwned\\x07" in output  # and its name reads as escapes
        await pilot.press("enter")  # open it: its name heads results, samples and curves
        await wait_for(lambda: app.shown_run is not None, pilot)
        for tab in "12345":
            await pilot.press("escape", tab)
            await pilot.pause()
            assert not ACTING.findall(terminal_output(app)), tab
        await pilot.press("escape", "5", "n")  # the name dialog shows the folder name
        await pilot.pause()
        assert not ACTING.findall(terminal_output(app))

"""Textual's footer, rebuilt only when the keys it shows change, not when they toggle."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """A footer that enables and disables its keys in place.

    Textual's footer recomposes every key whenever any binding changes state: focus moving,
    a tab switch, training starting. Each rebuild is about 0.1 s of CSS work on the UI
    thread, and at the start of a training there were three of them, taken from
    TensorFlow's two cores. Here a change that only enables or disables keys restyles
    those keys; the footer is rebuilt only when the set of keys shown changes, at most
    once per refresh.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, str], ...] | None = None
        self._pending = False

    def _bindings_shown(self) -> tuple[tuple[tuple[str, str, str], ...], dict[str, bool]]:
        """The (key, action, description) of each key shown, and whether each action is on."""
        shown = []
        enabled: dict[str, bool] = {}
        for _node, binding, is_enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show:
                shown.append((binding.key, binding.action, binding.description))
                enabled[binding.action] = enabled.get(binding.action, False) or is_enabled
        return tuple(shown), enabled

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Bring the keys up to date after this refresh (bursts of changes collapse)."""
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._pending:
            self._pending = True
            self.call_after_refresh(self._update_keys)

    async def _update_keys(self) -> None:
        self._pending = False
        shown, enabled = self._bindings_shown()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
            return
        for key in self.query(FooterKey):
            off = not enabled.get(key.action, True)
            if off != key._disabled:
                key._disabled = off  # what the key's click handler reads
                key.set_class(off, "-disabled")

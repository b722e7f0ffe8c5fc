"""Textual's footer, with the keys that fit in a designed priority, rebuilt only when the
keys it shows change, not when they toggle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT_WIDTH = 100
"""Below this many columns the footer is compact (Textual's style: ``^q Quit`` and a
gap, not `` ^q Quit ``), so a tab's own keys fit beside the app's at 80 columns."""


def key_cells(key_display: str, description: str, compact: bool = False) -> int:
    """Cells a key takes in the footer: `` ^q Quit `` (Textual's FooterKey), or ``^q Quit``
    when compact (the gap after it aside)."""
    if not description:
        return cell_len(key_display)
    return cell_len(key_display) + cell_len(description) + (1 if compact else 3)


@dataclass(frozen=True)
class FooterEntry:
    """A key the footer may show: one per action (the first of its keys)."""

    key: str
    key_display: str
    description: str
    action: str
    tooltip: str
    enabled: bool
    app: bool
    """An app-wide key, not the focused widget's (or its containers')."""

    def cells(self, compact: bool = False) -> int:
        """Its width on screen, with the gap after it when ``compact``."""
        return key_cells(self.key_display, self.description, compact) + compact

    @property
    def identity(self) -> tuple[str, str, str]:
        """What the footer shows of it, its state aside."""
        return self.key, self.action, self.description


def choose_keys(
    entries: Sequence[FooterEntry], room: int, pinned: Iterable[str], compact: bool = False
) -> list[FooterEntry]:
    """The entries to show in ``room`` cells, in their order (the app's keys first).

    Priority when not all fit: the app's ``pinned`` actions always; then its other keys,
    those that can act now first; then the focused widget's keys, in their own order, as
    long as each next one fits (a prefix, so a key never shows without those before it).
    When ``compact`` (a narrow terminal), the app's keys that cannot act now (Stop with
    nothing training) come last, after the widget's.
    """
    pinned = set(pinned)
    app_keys = [entry for entry in entries if entry.app]
    chosen = [entry for entry in app_keys if entry.action in pinned]
    room -= sum(entry.cells(compact) for entry in chosen)

    def add(entry: FooterEntry) -> bool:
        nonlocal room
        if entry.cells(compact) > room:
            return False
        chosen.append(entry)
        room -= entry.cells(compact)
        return True

    others = sorted(
        (entry for entry in app_keys if entry.action not in pinned),
        key=lambda entry: not entry.enabled,
    )
    later = [entry for entry in others if compact and not entry.enabled]
    for entry in others:
        if entry not in later:
            add(entry)
    for entry in (entry for entry in entries if not entry.app):
        if not add(entry):
            break
    for entry in later:
        add(entry)
    order = [*app_keys, *(entry for entry in entries if not entry.app)]
    return sorted(chosen, key=order.index)


class KeysFooter(Footer):
    """A footer that shows the keys that fit, in a designed priority, and enables and
    disables them in place.

    Textual's footer puts the focused widget's keys first, so in a narrow terminal a tab
    with many keys pushed Quit, Train and Help off the right edge. Here the app's keys
    come first and stay (``pinned``, by action: Quit and Help, and the command palette
    on the right), then the app's other keys (Train, Stop), then the focused widget's, as
    many as fit whole (:func:`choose_keys`). Below :data:`COMPACT_WIDTH` columns it is
    compact, and a key of the app's that cannot act now gives way to the widget's.
    Binding groups are not combined.

    A change that only enables or disables keys restyles those keys; the footer is
    rebuilt only when the set of keys shown changes (a new focus, a resize), at most once
    per refresh (Textual's own footer rebuilds every key on any binding change: costly
    while TensorFlow wants the cores; docs/performance.md).
    """

    PINNED = ("quit", "help")
    """The app's actions whose keys the footer shows whatever its width."""

    def __init__(self, *, pinned: Sequence[str] = PINNED) -> None:
        super().__init__()
        self._pinned = tuple(pinned)
        self._ready = False
        self._chosen: list[FooterEntry] = []
        self._palette: FooterEntry | None = None
        self._shown: tuple[tuple[str, str, str], ...] | None = None
        self._pending = False

    def _entries(self) -> tuple[list[FooterEntry], FooterEntry | None]:
        """Every key the footer could show, and the command palette's key."""
        app = self.app
        by_action: dict[str, FooterEntry] = {}
        palette = None
        for key, active in self.screen.active_bindings.items():
            node, binding, enabled, tooltip = active
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                if self.show_command_palette:
                    palette = FooterEntry(
                        binding.key,
                        app.get_key_display(binding),
                        binding.description,
                        binding.action,
                        tooltip or binding.description,
                        enabled,
                        app=True,
                    )
                continue
            if not binding.show:
                continue
            earlier = by_action.get(binding.action)
            if earlier is not None:  # another key of the same action: on if either is
                if enabled and not earlier.enabled:
                    by_action[binding.action] = replace(earlier, enabled=True)
                continue
            by_action[binding.action] = FooterEntry(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                tooltip or binding.description,
                enabled,
                app=node is app,
            )
        return list(by_action.values()), palette

    def compose(self) -> ComposeResult:
        """The chosen keys, and the palette's docked on the right."""
        for entry in self._chosen:
            yield FooterKey(
                entry.key,
                entry.key_display,
                entry.description,
                entry.action,
                disabled=not entry.enabled,
                tooltip=entry.tooltip,
            ).data_bind(compact=Footer.compact)
        if self._palette is not None:
            entry = self._palette
            yield FooterKey(
                entry.key,
                entry.key_display,
                entry.description,
                entry.action,
                disabled=not entry.enabled,
                tooltip=entry.tooltip,
                classes="-command-palette",
            )

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Bring the keys up to date after this refresh (bursts of changes collapse)."""
        self._ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        self._schedule()

    def on_resize(self) -> None:
        """A new width may fit more keys, or fewer."""
        if self._ready:
            self._schedule()

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            self.call_after_refresh(self._update_keys)

    async def _update_keys(self) -> None:
        self._pending = False
        entries, palette = self._entries()
        width = self.size.width or self.screen.size.width
        self.compact = compact = width < COMPACT_WIDTH
        # The palette's key is always drawn compact, after a border (and a pad when not).
        room = width - (
            key_cells(palette.key_display, palette.description, True) + (1 if compact else 2)
            if palette
            else 0
        )
        chosen = choose_keys(entries, room, self._pinned, compact)
        shown = tuple(entry.identity for entry in chosen) + ((palette.identity,) if palette else ())
        self._chosen, self._palette = chosen, palette
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
            return
        enabled = {entry.action: entry.enabled for entry in chosen}
        if palette is not None:
            enabled[palette.action] = palette.enabled
        for key in self.query(FooterKey):
            off = not enabled.get(key.action, True)
            if off != key._disabled:
                key._disabled = off  # what the key's click handler reads
                key.set_class(off, "-disabled")

"""Python's cycle collector, switched only here: off while a command starts, and off
long-lived objects while a run trains."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen_for_good = False
"""Whether :func:`freeze_long_lived` has run (a flag: ``gc.get_freeze_count`` walks every
frozen object)."""

FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between automatic full collections, once the
heap is frozen for good (Python's default is 10)."""

_default_threshold = gc.get_threshold()


def hold_collection() -> None:
    """No cycle collection until :func:`resume_collection`: a start allocates much and
    frees little, and the collections it set off cost about 50 ms of the app's first
    frame (docs/performance.md)."""
    gc.disable()


def resume_collection() -> None:
    """Cycle collection on again (once a command is known; for the app, after its first
    frame)."""
    gc.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Exempt every object alive now from cycle collection until the block ends.

    A full collection would walk TensorFlow's, Keras's and MNIST's objects while holding
    the GIL (docs/performance.md says how long). On exit the objects go back to the
    oldest generation, so cycles among them that died meanwhile are still collected
    later. After :func:`freeze_long_lived` (a long-lived front end)
    the heap is left as that function keeps it.
    """
    if _frozen_for_good:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def freeze_long_lived(*, collect: bool = False) -> None:
    """Exempt every object alive now from cycle collection, for the rest of the process.

    For a long-lived front end, once its heavy imports are done: TensorFlow's and the
    dataset's objects live as long as the process, and a full collection that walks
    them costs about 0.2 s with the GIL held. Measured in the app: one such collection
    on the UI thread right after the Train key (0.17 s), before the run's own
    :func:`frozen_heap` began; and, run after run, collections in the training thread
    that grew with the objects each run left (0.07 s to 0.17 s by the fifth run).
    Left frozen at exit, the heap is not walked by the interpreter's last collection
    either, so quitting is quicker.

    Freezing alone collects nothing, so it costs no pause. With ``collect`` the objects
    that are not frozen yet (what the last run left, its model among them) are first
    collected, so garbage is not frozen for good.

    Frozen objects no longer count towards Python's rule for when to start a full
    collection, so the collections it starts by itself come often: measured, one at
    every model build (9 ms in the training thread). They are made ten times rarer; the
    front end collects fully between runs instead (``collect``).
    """
    global _frozen_for_good
    if collect:
        gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    _frozen_for_good = True


def thaw() -> None:
    """Undo :func:`freeze_long_lived`: every object goes back to the collector."""
    global _frozen_for_good
    gc.unfreeze()
    gc.set_threshold(*_default_threshold)
    _frozen_for_good = False

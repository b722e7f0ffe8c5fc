"""What a study has learnt so far: which searched settings mattered."""

from __future__ import annotations

import math
import warnings

from mnist_tui.core.sweeps.storage import SweepStorage

MIN_TRIALS_FOR_IMPORTANCE = 2
"""Complete trials Optuna's evaluator needs to compare settings (a first guess at 2 or 3,
firmer as trials come)."""


def quiet_optuna() -> None:
    """Keep Optuna's log lines off the terminal (a full-screen app owns it; what
    Optuna would log, the sweep's own events say)."""
    import optuna

    optuna.logging.disable_default_handler()


def param_importances(storage: SweepStorage, study: str) -> list[tuple[str, float]]:
    """Each searched setting's share of the validation accuracy's variation, largest
    first (Optuna's default evaluator, PED-ANOVA; shares sum to 1). Empty until
    :data:`MIN_TRIALS_FOR_IMPORTANCE` trials are complete or while nothing varies.
    :class:`~mnist_tui.core.sweeps.storage.SweepError` if the storage fails."""
    import optuna

    with storage.using():
        loaded = optuna.load_study(study_name=study, storage=storage.optuna)
        done = loaded.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        return []
    try:
        with storage.using(only_storage_errors=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-evaluator and few-trial warnings
            shares = optuna.importance.get_param_importances(loaded)
    except (ValueError, RuntimeError):  # e.g. no parameter varied in the finished trials
        return []
    return [
        (str(name)[:40], float(share)) for name, share in shares.items() if math.isfinite(share)
    ]

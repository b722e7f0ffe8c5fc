"""Sweeps on Optuna: the search space, the study storage, the worker, what a study has learnt."""

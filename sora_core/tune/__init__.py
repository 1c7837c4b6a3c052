"""``sora tune``: a multi-objective search (quality against seconds per video) over a pipeline's swaps and settings.

One module a purpose: ``space`` (the parameters: swaps that fit and numeric sampling settings, derived from a
pipeline), ``space_file`` (the same declared in a YAML file), ``objective`` (a trial: the pipeline changed, run on
a prompt set with fixed seeds, scored by a ``video_evaluator``; pruning), ``study`` (Optuna studies in SQLite,
resumed, run by local worker processes), ``report`` (the Pareto table and plot) and ``apply`` (a trial written
back as a spec and its lock). Optuna is imported by ``objective``, ``study`` and ``report`` only.
"""

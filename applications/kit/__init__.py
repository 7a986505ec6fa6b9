"""The training kit every application shares.

- ``run``: the run skeleton (``Task``, ``run``): common options, seeding,
  precision, run folder and backup key, train, evaluate, metrics, plots, save, export;
- ``training``: ``train()`` (any monitor, optional validation, models that compile themselves);
- ``optimisation``: the course's optimisers, schedules with warm-up, clipping;
- ``callbacks``: plateau, early stopping, checkpoint, CSV log, exact backup;
- ``data``: a package by concern (files, tables, series, public sets, checks, tf.data pipelines);
  ``augmentation``;
- ``reporting``: run folders, metrics JSON, plots; ``export``: versioned SavedModels; ``cli``;
- ``distribute``: ``--strategy`` (mirrored GPUs, several machines) and the multi-worker training loop.

It imports no application module (an import-linter contract checks this).
"""

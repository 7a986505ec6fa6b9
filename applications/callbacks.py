"""The callbacks every application trains with, with the defaults stated here.

- ``ReduceLROnPlateau``: halve the learning rate after ``reduce_lr_patience``
  (default 3) epochs without a better ``monitor`` (default ``val_loss``), down
  to 1e-6.
- ``EarlyStopping``: stop after ``patience`` (default 15) epochs without
  improvement and restore the best epoch's weights.
- ``BackupAndRestore``: back up weights and epoch to ``backup_dir`` at each
  epoch's end, so the same command resumes after an interruption; the backup
  is deleted when training finishes.
- ``ModelCheckpoint``: keep the best model as ``<run_dir>/best.keras``.
- ``TerminateOnNaN``: stop at once when the loss becomes NaN.
- ``CSVLogger``: ``<run_dir>/history.csv``, one row per epoch.
- ``TensorBoard`` (only with ``tensorboard=True``): ``<run_dir>/tensorboard``.
"""

from __future__ import annotations

import pathlib

import keras


def standard_callbacks(run_dir, backup_dir, *, monitor="val_loss", patience=15,
                       reduce_lr_patience=3, tensorboard=False) -> list[keras.callbacks.Callback]:
    run_dir = pathlib.Path(run_dir)
    callbacks = [
        # First, so that a resumed run restores the weights before the others start.
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                          patience=reduce_lr_patience, min_lr=1e-6),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                      restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor,
                                        save_best_only=True),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return callbacks

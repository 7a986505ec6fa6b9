"""The callbacks every application trains with, and the backup that makes resume exact.

In the order they run at the end of an epoch:

- ``LearningRateLog``: puts the rate the epoch ended with in the logs (``learning_rate``).
- ``TerminateOnNaN``: stop at once when the loss becomes NaN.
- ``ReduceLROnPlateau`` (schedule ``plateau`` only): halve the rate after
  ``reduce_lr_patience`` (default 3) epochs without a better ``monitor``, down to 1e-6.
- ``EarlyStopping``: stop after ``patience`` (default 15) epochs without
  improvement and restore the best epoch's weights.
- ``ModelCheckpoint``: keep the best model as ``<run_dir>/best.keras``.
- ``CSVLogger``: ``<run_dir>/history.csv``, one row per epoch, appended to on resume.
- ``TensorBoard`` (only with ``tensorboard=True``): ``<run_dir>/tensorboard``.
- ``ExactBackup``: last, so it saves what the others decided this epoch.

``Snapshots`` (not a standard one) saves the model every N epochs: a snapshot
ensemble's members (``--ensemble-kind snapshot``).

``monitor`` is any logged value (``val_loss`` by default, ``loss`` without
validation data, ``val_g_loss`` for a GAN); ``mode`` is ``min``, ``max`` or
``auto`` (Keras guesses from the name).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import keras
import numpy as np

from applications.kit.errors import BackupMismatch
from applications.kit.optimisation import optimizers_of


class LearningRateLog(keras.callbacks.Callback):
    """Record the optimiser's current rate as ``learning_rate`` in each epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.model.optimizer is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class MonitorCheck(keras.callbacks.Callback):
    """Fail at the first epoch's end when ``monitor`` is not among the logged values.

    Keras' callbacks only warn about a monitor they cannot find, then train on
    with no early stopping, no plateau and no best checkpoint: a typo such as
    ``val_acc`` for ``val_accuracy`` would quietly turn all three off. Put it
    before the callbacks that read ``monitor``.
    """

    def __init__(self, monitor: str):
        super().__init__()
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.monitor not in logs:
            raise ValueError(f"monitor={self.monitor!r} is not a logged value: this model logs "
                             f"{', '.join(sorted(logs))}; monitor one of them")


class Snapshots(keras.callbacks.Callback):
    """Save the model as ``<folder>/snapshot_<k>.keras`` at the end of every ``every``-th epoch (k = 1, 2, ...):
    a snapshot ensemble's members, one per cosine cycle. A resumed run rewrites none it has not retrained."""

    def __init__(self, folder, every: int):
        super().__init__()
        self.folder, self.every = pathlib.Path(folder), every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.model.save(self.folder / f"snapshot_{(epoch + 1) // self.every}.keras")


class ExactBackup(keras.callbacks.Callback):
    """Back up everything a resumed run needs at each epoch's end; restore it when training begins.

    Keras' ``BackupAndRestore`` keeps the weights, the optimiser and the epoch.
    This also keeps the random-number generators' state (dropout, augmentation,
    a GAN's noise) and the state of the other callbacks (early stopping's wait
    counter, best value and best weights; the plateau's wait counter and best
    value; the checkpoint's best value), so a run killed after epoch N and
    rerun continues exactly as if it had not stopped. The current learning
    rate is an optimiser variable and comes back with it.

    The backup holds the values of every variable the run depends on: the
    model's (weights, statistics such as batch normalisation's, the random
    generators' state) and each optimiser's (``model.optimizer`` and any other
    the model holds, such as a GAN's two), in one NumPy archive, in the order
    the variables have in a model built and compiled by the same command.
    (``model.save_weights`` keeps the same values, but it walks the model's
    objects and writes an HDF5 group per layer, which costs several times as
    much at every epoch's end.)

    The backup of epoch N is ``state/arrays-N.npz`` plus ``state/state.json``,
    which names it. The archive is written first; then ``state.json`` is
    replaced in one atomic rename; only then are older archives deleted. So a
    kill at any moment leaves a ``state.json`` naming a complete archive.
    ``on_train_end`` deletes the backup: the run is complete.
    """

    # Attributes of each callback type that carry state from one epoch to the next.
    STATE = {
        keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
        keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
        keras.callbacks.ModelCheckpoint: ("best",),
    }

    def __init__(self, backup_dir, callbacks, keep=False):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.state_dir = self.backup_dir / "state"
        self.callbacks = list(callbacks)
        self.keep = keep
        self.epochs_done = 0

    # -------------------------------------------------------------- helpers

    def _stateful(self):
        for index, callback in enumerate(self.callbacks):
            for kind, attributes in self.STATE.items():
                if isinstance(callback, kind):
                    yield index, callback, attributes
            if getattr(callback, "backup_attributes", None):  # the kit's own, e.g. the plateau's warm-up
                yield index, callback, callback.backup_attributes

    def _variables(self):
        """The model's variables, then each of its optimisers' (each optimiser once, in attribute order)."""
        return list(self.model.variables) + [v for o in optimizers_of(self.model) for v in o.variables]

    @staticmethod
    def _state(backup_dir) -> dict:
        try:
            state = json.loads((pathlib.Path(backup_dir) / "state" / "state.json").read_text())
            return state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def epoch_in(backup_dir) -> int:
        """The number of epochs the backup in ``backup_dir`` completed (0 if none)."""
        try:
            return int(ExactBackup._state(backup_dir)["epoch"])
        except (KeyError, TypeError, ValueError):
            return 0

    @staticmethod
    def finished_in(backup_dir) -> bool:
        """True when the backup holds the final weights of a training that ended (see ``keep``)."""
        return bool(ExactBackup._state(backup_dir).get("finished"))

    # ------------------------------------------------------------ callbacks

    def on_train_begin(self, logs=None):
        if not (self.state_dir / "state.json").exists():
            return
        state = json.loads((self.state_dir / "state.json").read_text())
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        variables = self._variables()
        with np.load(self.state_dir / state.get("arrays", "arrays.npz")) as arrays:
            saved = sum(1 for key in arrays.files if key.startswith("variable_"))
            if saved != len(variables):  # e.g. a backup written by an older version of this package
                raise BackupMismatch(f"the backup in {self.backup_dir} holds {saved} variables, this model has "
                                 f"{len(variables)}: delete that folder to start afresh")
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"variable_{i}"])
            for index, callback, attributes in self._stateful():
                for name in attributes:
                    setattr(callback, name, state["callbacks"][str(index)][name])
                if getattr(callback, "restore_best_weights", False) and f"best_{index}_0" in arrays:
                    count = sum(1 for key in arrays.files if key.startswith(f"best_{index}_"))
                    callback.best_weights = [arrays[f"best_{index}_{j}"] for j in range(count)]
        self.model._initial_epoch = self.epochs_done = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        self._save(epoch + 1)

    def _save(self, epochs_done: int, finished: bool = False) -> None:
        self.epochs_done = epochs_done
        self.state_dir.mkdir(parents=True, exist_ok=True)
        arrays = {f"variable_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(self._variables())}
        callbacks = {}
        for index, callback, attributes in self._stateful():
            callbacks[str(index)] = {name: _plain(getattr(callback, name, None)) for name in attributes}
            for j, weight in enumerate(getattr(callback, "best_weights", None) or []):
                arrays[f"best_{index}_{j}"] = weight
        name = f"arrays-{epochs_done}{'-final' if finished else ''}.npz"
        np.savez(self.state_dir / name, **arrays)
        staging = self.state_dir / "state.json.staging"
        staging.write_text(json.dumps({"epoch": epochs_done, "arrays": name, "callbacks": callbacks,
                                       "finished": finished}))
        os.replace(staging, self.state_dir / "state.json")  # atomic: the old state or the new, never neither
        for older in self.state_dir.glob("arrays-*.npz"):
            if older.name != name:
                older.unlink()

    def on_train_end(self, logs=None):
        """The run is trained: delete the backup, or with ``keep`` back up the final weights (early
        stopping has restored the best epoch's by now) as finished, until the caller has saved and
        evaluated the model: a crash after training then costs no training."""
        if self.keep:
            self._save(self.epochs_done, finished=True)
        else:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def _plain(value):
    """A JSON-safe copy of a callback attribute (NumPy scalars become floats)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)  # json writes inf as Infinity and reads it back
    return value


def standard_callbacks(run_dir, backup_dir, *, monitor="val_loss", mode="auto", patience=15,
                       reduce_lr=True, reduce_lr_patience=3, extra=(), tensorboard=False, keep_backup=False
                       ) -> list[keras.callbacks.Callback]:
    """The callbacks above, in that order, with ``extra`` ones (e.g. a warm-up) before the backup.

    ``patience=None``: no early stopping and no best checkpoint, for a model
    whose logged values do not say which epoch is best (a GAN's losses):
    EarlyStopping restores the best epoch's weights at the end of training
    even when it never stopped, which for a GAN means its first epoch.
    """
    run_dir = pathlib.Path(run_dir)
    callbacks = [LearningRateLog(), keras.callbacks.TerminateOnNaN()]
    if reduce_lr:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5,
                                                           patience=reduce_lr_patience, min_lr=1e-6))
    if patience is not None:
        callbacks += [
            keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                          restore_best_weights=True),
            keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor, mode=mode,
                                            save_best_only=True),
        ]
    callbacks += [keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True), *extra]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    callbacks.append(ExactBackup(backup_dir, callbacks, keep=keep_backup))
    return callbacks

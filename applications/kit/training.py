"""The one ``train`` function every application calls, precision and determinism settings.

``train`` compiles the model unless it compiled itself (a GAN compiles with
its own two optimisers), monitors any logged value, runs with or without
validation data (then it monitors the training loss), and resumes exactly
from the backup in ``backup_dir`` when there is one.
"""

from __future__ import annotations

import numbers
import pathlib
import time
import warnings
from dataclasses import dataclass

import keras
import pandas as pd

from applications.kit.callbacks import ExactBackup, MonitorCheck, standard_callbacks
from applications.kit.data import TrainingPipeline
from applications.kit.distribute import fit_distributed, is_multiworker
from applications.kit.optimisation import OptimiserSettings, PlateauWarmup, make_optimizer, warmup_steps_of

def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend; with ``deterministic``, TensorFlow's ops too."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def backed_up_epoch(backup_dir) -> int:
    """The number of epochs the backup in ``backup_dir`` completed (0 if none)."""
    return ExactBackup.epoch_in(backup_dir)


@dataclass
class TrainResult:
    history: pd.DataFrame
    resumed_from_epoch: int
    seconds: float
    monitor: str
    steps_per_epoch: int


def train(model: keras.Model, train_data, validation_data=None, *, epochs: int, run_dir, backup_dir,
          loss=None, metrics=None, optimiser: OptimiserSettings | None = None, steps_per_epoch=None,
          monitor: str | None = None, mode: str = "auto", patience: int | None = 15, steps_per_execution: int = 1,
          callbacks=(), tensorboard=False, verbose=2, log=print, keep_backup=False) -> TrainResult:
    """Fit ``model`` with the standard callbacks, resuming exactly from a backup if there is one.

    Args:
        model: a built Keras model; compiled here with ``optimiser``, ``loss`` and
            ``metrics`` unless ``model.compiled`` (it compiled itself).
        train_data: a tf.data dataset of one epoch's batches (not repeated: each
            epoch is one pass), or a ``data.TrainingPipeline`` (its order depends
            only on seed and epoch, which exact resume needs).
        validation_data: a dataset, or ``None`` (then the training loss is monitored).
        monitor, mode: the logged value the plateau, early stopping and the best
            checkpoint watch (default ``val_loss``, or ``loss`` without validation);
            one the model does not log is a ``ValueError`` at the first epoch's end.
        optimiser: ``OptimiserSettings`` (optimiser, rate, schedule, warm-up, clipping).
        keep_backup: keep the backup when training ends, holding the final weights and marked finished,
            for a caller that deletes it once the model is saved and evaluated; called again on it,
            ``train`` restores those weights and trains no more.
    Returns:
        ``TrainResult``: the whole run's history (read back from ``history.csv``,
        so a resumed run's earlier epochs are included), the epoch it resumed
        from, the seconds this process trained, and the monitored value.
    """
    import tensorflow as tf

    optimiser = optimiser or OptimiserSettings()
    check_train_arguments(model, train_data, validation_data, epochs)
    pathlib.Path(run_dir).mkdir(parents=True, exist_ok=True)  # history.csv, best.keras
    if isinstance(train_data, TrainingPipeline):
        steps_per_epoch = steps_per_epoch or train_data.steps_per_epoch
        callbacks = [train_data.callback, *callbacks]
        train_data = train_data.dataset
    if steps_per_epoch is None:
        steps_per_epoch = int(train_data.cardinality())
        if steps_per_epoch < 0:
            raise ValueError("train_data has no known length: pass steps_per_epoch (for the schedules)")
    monitor = monitor or ("val_loss" if validation_data is not None else "loss")
    if monitor.startswith("val_") and validation_data is None:
        raise ValueError(f"monitor={monitor!r} needs validation data; pass validation_data or "
                         f"monitor {monitor[4:]!r}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode={mode!r} is invalid: expected 'min', 'max' or 'auto'")
    if mode == "auto" and monitor.endswith("loss"):
        mode = "min"  # Keras cannot guess it for names such as g_loss or d_loss
    if not model.compiled:
        model.compile(optimizer=make_optimizer(optimiser, steps_per_epoch=steps_per_epoch, epochs=epochs),
                      loss=loss, metrics=metrics, steps_per_execution=steps_per_execution)
    build_compiled_state(model, train_data.element_spec)
    extra = []
    warmup_steps = warmup_steps_of(optimiser, steps_per_epoch)
    if optimiser.schedule == "plateau" and warmup_steps:
        extra.append(PlateauWarmup(optimiser.learning_rate, warmup_steps))
    # MonitorCheck first: it must fail before the callbacks that read the monitor only warn.
    callbacks = [MonitorCheck(monitor), *callbacks] + standard_callbacks(
        run_dir, backup_dir, monitor=monitor, mode=mode, patience=patience,
        reduce_lr=optimiser.schedule == "plateau", extra=extra, tensorboard=tensorboard, keep_backup=keep_backup)
    resumed_from = backed_up_epoch(backup_dir)
    if ExactBackup.finished_in(backup_dir):  # trained in an earlier run that ended before its evaluation
        log(f"Training finished in an earlier run ({resumed_from} epochs): its final weights are restored from "
            f"{backup_dir}, not trained again")
        backup = next(c for c in callbacks if isinstance(c, ExactBackup))
        backup.set_model(model)
        backup.on_train_begin()
        return TrainResult(history=pd.read_csv(pathlib.Path(run_dir) / "history.csv"), resumed_from_epoch=resumed_from,
                           seconds=0.0, monitor=monitor, steps_per_epoch=steps_per_epoch)
    if resumed_from:
        log(f"Resuming from epoch {resumed_from} (backup in {backup_dir})")
        _truncate_history(pathlib.Path(run_dir) / "history.csv", resumed_from)
    start = time.perf_counter()
    # shuffle=False: the pipeline fixes the order (a function of seed and epoch). Keras learns
    # the length of a dataset of unknown length by running out of it, and warns that it did
    # (the kit's TrainingPipeline states its length; a dataset passed in may not).
    with warnings.catch_warnings():  # (only here: the caller's warning filters stay as they were)
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        if is_multiworker(tf.distribute.get_strategy()):  # Keras' fit cannot run there: the kit's loop
            fit_distributed(model, train_data, validation_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=callbacks, verbose=verbose)
        else:
            model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
                      shuffle=False, verbose=verbose)
    seconds = time.perf_counter() - start
    history = pd.read_csv(pathlib.Path(run_dir) / "history.csv")
    return TrainResult(history=history, resumed_from_epoch=resumed_from, seconds=seconds, monitor=monitor,
                       steps_per_epoch=steps_per_epoch)


def build_compiled_state(model: keras.Model, batch_spec) -> None:
    """Create what ``compile`` left unbuilt (optimiser slots, metric variables) before ``fit`` traces its step.

    Keras creates them lazily, inside the first trace of the training step; a
    ``tf.function`` that creates variables is then traced a second time, so every
    run paid for tracing its step twice (resnet18 on the digits: 13.6 s of tracing
    instead of 6.3 s). Keras builds them up front itself when the model was made
    under a distribution strategy, with the method called here on the batches'
    specs (no batch is read). What is built already (a GAN's two optimisers) is left as it is.
    """
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=batch_spec)


def check_train_arguments(model, train_data, validation_data, epochs) -> None:
    """``train()``'s arguments as Keras would take them, or a ``ValueError`` naming the problem and the fix."""
    import tensorflow as tf

    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} is invalid: expected an integer >= 1")
    if not isinstance(train_data, (tf.data.Dataset, TrainingPipeline)):
        raise ValueError(f"train_data is a {type(train_data).__name__}: expected a tf.data.Dataset of batches, or "
                         "arrays wrapped as data.TrainingPipeline(x, y, batch_size=..., seed=...)")
    # A functional model knows the shape of the batches it takes; single examples have that shape without
    # its batch axis. (A batch whose last axis of 1 is left out, (None,) for (None, 1), Keras takes.)
    try:
        inputs = model.inputs
    except AttributeError:  # a subclassed model (a GAN, the VAE), or a Sequential not built yet
        inputs = None
    for name, dataset in (("train_data", train_data), ("validation_data", validation_data)):
        if not isinstance(dataset, tf.data.Dataset):
            continue
        length = int(dataset.cardinality())
        if length == tf.data.INFINITE_CARDINALITY:
            raise ValueError(f"{name} repeats forever, so an epoch would never end: drop its .repeat() (train() "
                             "runs one pass of it per epoch; exact resume needs each epoch's order to depend "
                             "only on the seed and the epoch, as a data.TrainingPipeline's does)")
        if length == 0:
            raise ValueError(f"{name} is empty: it has no batches")
        spec = dataset.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if inputs and len(inputs) == 1 and isinstance(spec, tf.TensorSpec) and spec.shape.rank is not None \
                and tuple(spec.shape) == tuple(inputs[0].shape)[1:]:
            raise ValueError(f"{name} yields single examples of shape {tuple(spec.shape)}, and the model takes "
                             f"batches of {tuple(inputs[0].shape)}: batch it (e.g. .batch(32))")


def _truncate_history(path: pathlib.Path, epochs: int) -> None:
    """Keep the rows of the epochs the backup completed (a kill can land between a row and its backup)."""
    if path.exists():  # newline="": keep CSVLogger's \r\n, so a resumed file is byte-identical
        with open(path, newline="") as file:
            header, *rows = file.read().splitlines(keepends=True)
        with open(path, "w", newline="") as file:
            file.write(header + "".join(row for row in rows if int(row.split(",")[0]) < epochs))

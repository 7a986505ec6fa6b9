"""Training on several replicas: ``--strategy default|mirrored|multiworker``, and the multi-worker loop.

- ``default``: one device.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every GPU of this
  machine (one replica on a CPU-only machine); Keras' own ``fit`` runs it.
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the
  machines that ``TF_CONFIG`` names, one process per machine, every process
  started with the same command. Each worker reads the same data and
  takes its share of every batch (tf.data's DATA auto-sharding), so
  ``--batch-size`` is the global batch; gradients are summed across the
  workers each step, so every worker ends with the same weights. Worker 0
  (or the ``chief``) writes the run folder and the export; the others write
  their run folders under ``<output>/worker-<index>/``.

Keras 3's ``fit`` does not run under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585: it reduces a data batch across workers to build
the model, then fails to reduce the scalar logs), so ``fit_distributed``
below is the kit's own loop for it: the model's own ``train_step`` and
``test_step`` under ``strategy.run``, the same Keras callbacks, the same
epoch logs (metrics read across every replica of every worker), exact resume.
"""

from __future__ import annotations

import json
import os

import keras

from applications.kit.errors import UsageError


def cluster(environ=os.environ) -> dict:
    """The parsed and checked ``TF_CONFIG``: ``{"cluster": ..., "task": {"type", "index"}}``."""
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise UsageError('--strategy multiworker needs TF_CONFIG, e.g. TF_CONFIG=\'{"cluster": {"worker": '
                         '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\' '
                         "on each machine, with its own index")
    try:
        config = json.loads(raw)
        workers = [*config["cluster"].get("chief", []), *config["cluster"]["worker"]]
        kind, index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(f"TF_CONFIG is not a cluster description ({type(err).__name__}: {err}); it needs "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}'
                         ) from None
    if kind not in config["cluster"] or not 0 <= index < len(config["cluster"][kind]):
        raise UsageError(f"TF_CONFIG: task {kind} {index} is not in the cluster "
                         f"({', '.join(f'{k}: {len(v)}' for k, v in config['cluster'].items())})")
    if not all(isinstance(w, str) and ":" in w for w in workers):
        raise UsageError(f"TF_CONFIG: every worker address must be HOST:PORT; got {workers}")
    return config


def is_chief(config: dict) -> bool:
    """The chief writes the run folder and exports: the ``chief`` task, else worker 0."""
    kind, index = config["task"]["type"], int(config["task"]["index"])
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in config["cluster"])


def worker_name(config: dict) -> str:
    return f"{config['task']['type']}-{config['task']['index']}"


def configure_gpus() -> list:
    """Memory growth on every GPU (several processes or trials can share one); returns the GPUs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth must be set before first use
            pass
    return gpus


def make_strategy(name: str, devices: list[str] | None = None):
    """The strategy ``--strategy name`` asks for; create it first thing (multi-worker must precede any op).

    ``devices``: for ``mirrored``, the devices to mirror over (default: every GPU; a sweep's tests name
    logical CPU devices). The one place strategies are made: the applications' and the sweeps'.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if "TF_CONFIG" in os.environ:  # MirroredStrategy reads it too, and fails on what is not JSON
            try:
                json.loads(os.environ["TF_CONFIG"])
            except ValueError:
                raise UsageError(f"TF_CONFIG={os.environ['TF_CONFIG']!r} is not JSON: --strategy mirrored (one "
                                 "machine) needs no TF_CONFIG; unset it") from None
        configure_gpus()
        return tf.distribute.MirroredStrategy(devices)
    cluster()  # a clear error before TensorFlow reads TF_CONFIG
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_multiworker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def synchronize_batch_norm(model: keras.Model) -> int:
    """Make every ``BatchNormalization`` of ``model`` use the global batch's statistics; return how many.

    Under a strategy each replica otherwise normalises by its own share of the
    batch and moves its own moving mean and variance (Keras 3 does not
    aggregate them), so the workers would end with different weights.
    """
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.synchronized = True
    return len(layers)


def _sharded(dataset):
    """Each worker keeps its share of every batch (the data are arrays, not files)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _epoch_logs(model, prefix="") -> dict:
    """The model's metrics as floats, read across every replica (a collective: every worker calls it)."""
    return {f"{prefix}{name}": float(keras.ops.convert_to_numpy(value))
            for name, value in model.get_metrics_result().items()}


def fit_distributed(model: keras.Model, dataset, validation_data=None, *, epochs: int, steps_per_epoch: int,
                    callbacks=(), verbose=2) -> None:
    """``model.fit`` for ``MultiWorkerMirroredStrategy``: the model's steps under ``strategy.run``.

    Call it inside the strategy's scope with a compiled model. ``dataset``
    yields global batches and must give every worker the same number of them
    (the kit's ``TrainingPipeline(drop_remainder=True)``); the callbacks see
    what ``fit`` would give them (``on_train_begin``, epoch begin/end with the
    epoch's logs, ``val_`` logs, ``model.stop_training``, ``model._initial_epoch``
    for a resumed run).
    """
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    train_batches = strategy.experimental_distribute_dataset(_sharded(dataset))
    validation_batches = (strategy.experimental_distribute_dataset(_sharded(validation_data))
                          if validation_data is not None else None)

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_step(batch):
        strategy.run(model.test_step, args=(batch,))

    callback_list = keras.callbacks.CallbackList(list(callbacks), add_history=True, add_progbar=verbose != 0,
                                                 verbose=verbose, epochs=epochs, steps=steps_per_epoch,
                                                 model=model)
    model.stop_training = False
    model._initial_epoch = 0
    callback_list.on_train_begin()  # a resumed run: the backup sets model._initial_epoch
    start = model._initial_epoch or 0
    starts = strategy.gather(strategy.run(lambda: tf.constant([start], tf.int64)), axis=0).numpy()
    if len(set(starts.tolist())) > 1:  # a kill landed between two workers' backups
        raise UsageError(f"the workers' backups end at different epochs ({sorted(set(starts.tolist()))}), so "
                         "they cannot resume together; delete each worker's <output>/<app>/backup folder "
                         "to start afresh")
    logs = {}
    for epoch in range(start, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)  # before the iterator: the pipeline's order depends on the epoch
        iterator = iter(train_batches)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            train_step(iterator)
            callback_list.on_train_batch_end(step)
        logs = _epoch_logs(model)
        if validation_batches is not None:
            model.reset_metrics()
            for batch in validation_batches:  # every worker takes the same number of steps (empty at the end)
                test_step(batch)
            logs.update(_epoch_logs(model, prefix="val_"))
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)

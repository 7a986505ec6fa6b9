"""tf.data pipelines: ``make_dataset``, ``TrainingPipeline`` (its order a function of seed and epoch only, so a
resumed run sees the batches it would have seen), and the ``fingerprint`` of the arrays a run trains on.
"""

from __future__ import annotations


import numpy as np

from applications.kit.data.checks import check_finite
from applications.kit.errors import DataError


def make_dataset(x, y=None, *, batch_size: int, shuffle: bool = False, seed: int | None = None,
                 cache: bool = True):
    """A tf.data pipeline: from arrays -> cache -> shuffle (each epoch) -> batch -> prefetch.

    For evaluation and prediction; training uses ``training_pipeline``, whose
    order does not depend on how many epochs this process has run.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        data = data.cache()
    if shuffle:
        data = data.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class TrainingPipeline:
    """Training batches whose order is a function of the seed and the epoch number only.

    Epoch ``e`` visits the examples in the order of a permutation drawn from a
    stateless generator keyed by ``(seed, e)``, so a run resumed at epoch ``e``
    sees exactly the batches the uninterrupted run saw. ``drop_remainder``
    leaves out the last partial batch (several workers must take the same
    number of steps; the examples left out change from epoch to epoch). ``callback`` tells the
    pipeline which epoch begins (``fit`` makes a new iterator each epoch,
    after the callbacks' ``on_epoch_begin``); pass it to ``fit`` with
    ``dataset``. The arrays stay in memory and each batch is gathered from them.
    ``passes``: an epoch goes over the examples that many times, each in an
    order of its own (small data: enough optimiser steps per epoch for the
    plateau and early stopping, counted in epochs, to judge).
    """

    def __init__(self, x, y=None, *, batch_size: int, seed: int, drop_remainder: bool = False, passes: int = 1):
        import keras
        import tensorflow as tf

        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is invalid: expected an integer >= 1")
        if len(x) == 0:
            raise DataError("there are no training examples")
        if y is not None and len(y) != len(x):
            raise DataError(f"x has {len(x)} examples but y has {len(y)} labels: expected one label per example")
        check_finite(x, "the inputs (x)")  # a NaN would only show as a NaN loss, epochs later
        if y is not None:
            check_finite(y, "the targets (y)")
        if not isinstance(passes, (int, np.integer)) or isinstance(passes, bool) or passes < 1:
            raise ValueError(f"passes={passes!r} is invalid: expected an integer >= 1")
        if drop_remainder and len(x) < batch_size:
            raise DataError(f"{len(x)} training examples make no full batch of {batch_size}: "
                             "use a smaller --batch-size")
        self.count, self.batch_size, self.drop_remainder, self.passes = len(x), batch_size, drop_remainder, passes
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")
        arrays = tuple(tf.constant(a) for a in ((x,) if y is None else (x, y)))
        seed = tf.constant(seed, tf.int64)

        def permutation(_):
            key = tf.stack([seed, self.epoch.read_value()])
            if passes == 1:
                order = tf.argsort(tf.random.stateless_uniform([self.count], seed=key))
            else:  # one permutation per pass, one after the other
                order = tf.reshape(tf.argsort(tf.random.stateless_uniform([passes, self.count], seed=key)), [-1])
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder)

        def gather(indices):
            parts = tuple(tf.gather(a, indices) for a in arrays)
            return parts[0] if y is None else parts

        # flat_map hides the number of batches from Keras, whose progress bar then counts whole
        # executions: "48/48" for 41 batches at steps_per_execution 16, and a time per step 15 % short.
        self.dataset = (tf.data.Dataset.from_tensors(0).flat_map(permutation)
                        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                        .apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))
                        .prefetch(tf.data.AUTOTUNE))
        epoch = self.epoch

        class SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, index, logs=None):
                epoch.assign(index)

        self.callback = SetEpoch()

    @property
    def steps_per_epoch(self) -> int:
        examples = self.count * self.passes
        return examples // self.batch_size if self.drop_remainder else -(-examples // self.batch_size)


def fingerprint(*arrays) -> str:
    """A short hash of the arrays' contents, shapes and dtypes (a changed data set gets a new one)."""
    import hashlib

    digest = hashlib.sha1()
    for array in arrays:
        if array is None:
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes() if array.dtype != object else "\x00".join(map(str, array.ravel())).encode())
    return digest.hexdigest()[:16]

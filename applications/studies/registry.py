"""The studies' registry and what several studies share: the data split, the gradient norms.

A study is a function ``(args, run_dir) -> (table, figures, answer, setting, measures)`` registered with
``@study(name, question, epochs=...)``: the table is every measurement (``results.csv``), the figures
PNG files it wrote in ``run_dir``, the answer two or three sentences computed from the table, the
setting what was run, and the measures the numbers a test or a reader checks (``measures.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np


@dataclass
class Study:
    name: str
    question: str
    run: Callable        # (args, run_dir) -> (table, figures, answer, setting, measures)
    epochs: int = 20     # --epochs when not given


STUDIES: dict[str, Study] = {}


def study(name: str, question: str, epochs: int = 20):
    def register(function):
        STUDIES[name] = Study(name, question, function, epochs)
        return function

    return register


def digits_split(seed: int):
    """The 8x8 digits, scaled to [0, 1], stratified 75/25: ``(x_train, y_train, x_test, y_test)``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split((x / 16.0).astype("float32"), y, test_size=0.25,
                                                        stratify=y, random_state=seed)
    return x_train, y_train, x_test, y_test


@dataclass
class StudyData:
    """A study's data: images flattened to vectors in [0, 1], integer labels from 0; unpacks as
    ``x_train, y_train, x_test, y_test``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple   # (height, width, channels) of one image, for the studies that need images
    name: str            # what the report says it is

    def __iter__(self):
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def study_data(args) -> StudyData:
    """The 8x8 digits (``digits_split``), or ``--data``: an MNIST-style folder of IDX files or an NPZ (the
    kit's loader), its own test part if it has one (else a stratified 75/25 split), ``--train-size`` training
    and ``--test-size`` test images drawn stratified with ``--seed``, scaled to [0, 1]."""
    from sklearn.model_selection import train_test_split

    from applications.kit import errors
    from applications.kit.data.files import load_path

    if not getattr(args, "data", None):
        return StudyData(*digits_split(args.seed), (8, 8, 1), "the 8x8 digits (1,347 training, 450 test images)")
    dataset = load_path(args.data)
    if dataset.y is None or dataset.x.ndim < 3:
        raise errors.DataError(f"--data {args.data}: the studies need labelled images (x of [N, H, W] or "
                               f"[N, H, W, C] and y); give an MNIST-style IDX folder or an NPZ of them")
    x, y = dataset.x, np.asarray(dataset.y).astype("int64")
    if dataset.test is not None:
        x_test, y_test = dataset.test[0], np.asarray(dataset.test[1]).astype("int64")
    else:
        x, x_test, y, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=args.seed)

    def take(x, y, size):
        if size >= len(y):
            return x, y
        x, _, y, _ = train_test_split(x, y, train_size=size, stratify=y, random_state=args.seed)
        return x, y

    (x, y), (x_test, y_test) = take(x, y, args.train_size), take(x_test, y_test, args.test_size)
    scale = 255.0 if np.issubdtype(dataset.x.dtype, np.integer) else max(float(np.abs(x).max()), 1.0)
    shape = x.shape[1:] if x.ndim == 4 else (*x.shape[1:], 1)

    def flat(a):
        return (a.reshape(len(a), -1) / scale).astype("float32")

    return StudyData(flat(x), y, flat(x_test), y_test, shape,
                     f"{dataset.source} ({len(y):,} training, {len(y_test):,} test images)")


def accuracy(model, x, y) -> float:
    """The share of ``x`` that ``model`` classifies as ``y`` (inference mode, in batches)."""
    from applications.kit import reporting

    return float((reporting.predict(model, x).argmax(-1) == y).mean())


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense) and layer.name != "logits"]


def gradient_norms(model, x, y) -> list[float]:
    """The norm of the loss gradient with respect to each hidden Dense kernel, first layer first (one batch)."""
    import tensorflow as tf

    kernels = [layer.kernel for layer in dense_layers(model)]
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))
        loss = tf.reduce_mean(loss)
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]

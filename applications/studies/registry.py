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

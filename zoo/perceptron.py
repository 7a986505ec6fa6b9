"""Rosenblatt's perceptron, trained with his learning rule inside ``fit``.

The model is a linear threshold unit: ``y_hat = +1 if w.x + b > 0 else -1``.
Training visits the samples one at a time, and on each mistake
applies ``w += eta * y * x`` and ``b += eta * y`` (labels in {-1, +1}; labels in
{0, 1} are mapped to {-1, +1}). Within a batch the samples are visited in
order; like any Keras ``fit``, ``fit`` shuffles the samples before each epoch
unless called with ``shuffle=False`` (Rosenblatt's fixed order). No gradient
and no optimiser are involved, so ``compile()`` needs no arguments.

Training stops at the end of the first epoch without a mistake: the
perceptron convergence theorem guarantees that epoch comes when the data are
linearly separable. When the epoch budget runs out first, ``fit`` warns and
``model.converged`` is False. Arrays given to ``fit`` are checked first: a
wrong shape, NaN, labels other than {0, 1} or {-1, +1}, or a single class is
a ``ValueError`` that names it.

    model = zoo.build("perceptron", input_shape=(64,))
    model.compile()
    model.fit(x, y, epochs=100)
    model.converged  # True on separable data
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from zoo import _checks
from zoo.registry import register


class ConvergenceWarning(UserWarning):
    """The perceptron made mistakes in its last epoch."""


class _StopWhenNoMistakes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.model.converged = False
        self.model.last_epoch_mistakes = None

    def on_epoch_end(self, epoch, logs=None):
        self.model.last_epoch_mistakes = int(logs["mistakes"])
        if logs["mistakes"] == 0:
            self.model.converged = True
            self.model.epochs_to_converge = epoch + 1
            self.model.stop_training = True


@keras.saving.register_keras_serializable(package="zoo")
class Perceptron(keras.Model):
    """A single threshold unit trained with Rosenblatt's rule.

    Input ``[batch, input_dim]`` floats; output ``[batch, 1]`` with values in
    {-1, +1} (``output="sign"``) or {0, 1} (``output="step"``).
    """

    def __init__(self, input_dim, output="sign", learning_rate=1.0, name="perceptron", **kwargs):
        super().__init__(name=name, **kwargs)
        self.input_dim = input_dim
        self.output_mode = output
        self.learning_rate = learning_rate
        self.converged = None
        self.mistakes_tracker = keras.metrics.Sum(name="mistakes")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.build((None, input_dim))

    def build(self, input_shape):
        # Rosenblatt starts from zero weights; the rule is scale-free then.
        self.kernel = self.add_weight(shape=(self.input_dim, 1), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")
        self.built = True

    def call(self, inputs):
        fires = ops.matmul(ops.cast(inputs, self.kernel.dtype), self.kernel) + self.bias > 0
        low = -1.0 if self.output_mode == "sign" else 0.0
        return ops.where(fires, 1.0, low)

    @property
    def input_shape(self):
        return (None, self.input_dim)

    @property
    def metrics(self):
        return [self.mistakes_tracker, self.accuracy_tracker]

    def compile(self, **kwargs):
        # The learning rule replaces loss and optimiser.
        kwargs.setdefault("optimizer", None)
        super().compile(**kwargs)

    def get_compile_config(self):
        return {}

    def compile_from_config(self, config):
        self.compile()

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        if y is not None:  # arrays; a dataset carries its own labels and is taken as it is
            x, y = self.check_data(x, y)
        if not self.compiled:
            self.compile()
        callbacks = list(callbacks or []) + [_StopWhenNoMistakes()]
        history = super().fit(x, y, *args, callbacks=callbacks, **kwargs)
        if not self.converged and history.epoch:  # epochs=0 trains nothing and has nothing to say
            warnings.warn(
                f"The perceptron did not converge in {len(history.epoch)} epochs: "
                f"{self.last_epoch_mistakes} mistakes in the last epoch. The data may not be "
                "linearly separable (e.g. XOR); use an MLP, or raise `epochs`.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return history

    def check_data(self, x, y):
        """``x`` ``[samples, input_dim]`` finite numbers and ``y`` of both classes, {0, 1} or {-1, +1}.

        Returns them as NumPy arrays; raises ``ValueError`` naming the problem
        (the rule would otherwise train silently on NaN or on labels 1 and 2).
        """
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"x has shape {x.shape}; expected [samples, {self.input_dim}]")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise ValueError(f"x has dtype {x.dtype}; expected numbers")
        if len(x) == 0:
            raise ValueError("x is empty; the perceptron needs samples of both classes")
        if y.shape[0] != len(x) or y.size != len(x):
            raise ValueError(f"y has shape {y.shape}; expected one label per sample: [{len(x)}]")
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise ValueError(f"x has NaN or infinite values in {bad.sum()} samples (the first: "
                             f"{np.flatnonzero(bad)[0]}); clean or drop them first")
        labels = set(np.unique(y).tolist())
        if not (labels <= {0, 1} or labels <= {-1, 1}):
            raise ValueError(f"y has the values {sorted(labels)[:5]}; expected labels in {{0, 1}} or {{-1, +1}}")
        if len(labels) < 2:
            raise ValueError(f"every label is {labels.pop()}; the perceptron needs samples of both classes")
        return x, y.reshape(-1)

    def _signed_batch(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = ops.reshape(ops.cast(x, self.kernel.dtype), (-1, self.input_dim))
        y = ops.where(ops.reshape(y, (-1,)) > 0, 1.0, -1.0)
        return x, y

    def train_step(self, data):
        x, y = self._signed_batch(data)
        eta = self.learning_rate

        def visit(i, state):
            kernel, bias, mistakes = state
            xi = ops.take(x, i, axis=0)
            yi = ops.take(y, i, axis=0)
            predicted = ops.where(ops.sum(xi * kernel[:, 0]) + bias[0] > 0, 1.0, -1.0)
            wrong = ops.cast(ops.not_equal(predicted, yi), kernel.dtype)
            kernel = kernel + eta * wrong * yi * ops.expand_dims(xi, 1)
            bias = bias + eta * wrong * yi
            return kernel, bias, mistakes + wrong

        batch_size = ops.shape(x)[0]
        kernel, bias, mistakes = ops.fori_loop(
            0, batch_size, visit, (self.kernel.value, self.bias.value, ops.zeros(()))
        )
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        return self._update_trackers(mistakes, batch_size)

    def test_step(self, data):
        x, y = self._signed_batch(data)
        predicted = ops.where(ops.matmul(x, self.kernel)[:, 0] + self.bias[0] > 0, 1.0, -1.0)
        mistakes = ops.sum(ops.cast(ops.not_equal(predicted, y), "float32"))
        return self._update_trackers(mistakes, ops.shape(x)[0])

    def _update_trackers(self, mistakes, batch_size):
        batch_size = ops.cast(batch_size, "float32")
        self.mistakes_tracker.update_state(mistakes)
        self.accuracy_tracker.update_state(1.0 - mistakes / batch_size, sample_weight=batch_size)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            "input_dim": self.input_dim,
            "output": self.output_mode,
            "learning_rate": self.learning_rate,
            "name": self.name,
        }


@register(task="classification", input_kind="vector")
def perceptron(input_shape=(2,), output="sign", learning_rate=1.0, name="perceptron"):
    """Rosenblatt perceptron: ``[batch, features]`` -> ``[batch, 1]`` in {-1, +1} (or {0, 1}).

    Args:
        input_shape: ``(features,)``.
        output: ``"sign"`` for {-1, +1} or ``"step"`` for {0, 1}.
        learning_rate: the step ``eta`` of Rosenblatt's rule.
        name: the model's name.
    """
    (input_dim,) = _checks.shape("input_shape", input_shape, rank=1)
    _checks.choice("output", output, ("sign", "step"))
    _checks.positive_float("learning_rate", learning_rate)
    return Perceptron(input_dim=input_dim, output=output, learning_rate=learning_rate, name=name)

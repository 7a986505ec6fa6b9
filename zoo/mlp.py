"""Multi-layer perceptrons: classifiers and regressors with the course's knobs.

Each hidden layer is ``Dense -> [BatchNorm] -> activation -> [BatchNorm] ->
[Dropout]`` with batch norm before or after the activation (``batch_norm``),
a chosen initialiser and an L1 / L2 / elastic-net penalty on the kernels.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo import _checks
from zoo.layers import classifier_top, regularizer
from zoo.registry import register

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "linear")
# zeros: every unit of a layer starts (and, by symmetry, stays) the same; normal: N(0, 1), far too large for wide
# layers; glorot suits tanh and sigmoid, he suits ReLU (the course's initialisation lecture).
INITIALIZERS = {"glorot": "glorot_uniform", "he": "he_normal", "zeros": "zeros",
                "normal": {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 1.0}}}
BATCH_NORM = (None, "before", "after")


def _mlp(input_shape, outputs, output_activation, depth, width, activation, initializer,
         dropout, batch_norm, l1, l2, name):
    input_shape = _checks.shape("input_shape", input_shape)
    _checks.positive_int("depth", depth, minimum=0)
    _checks.positive_int("width", width)
    _checks.choice("activation", activation, ACTIVATIONS)
    _checks.choice("initializer", initializer, tuple(INITIALIZERS))
    _checks.fraction("dropout", dropout)
    _checks.choice("batch_norm", batch_norm, BATCH_NORM)
    _checks.positive_float("l1", l1, allow_zero=True)
    _checks.positive_float("l2", l2, allow_zero=True)

    penalty = regularizer(l1, l2)
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i in range(1, depth + 1):
        x = layers.Dense(width, kernel_initializer=INITIALIZERS[initializer],
                         kernel_regularizer=penalty, name=f"dense_{i}")(x)
        if batch_norm == "before":
            x = layers.BatchNormalization(name=f"bn_{i}")(x)
        x = layers.Activation(activation, name=f"{activation}_{i}")(x)
        if batch_norm == "after":
            x = layers.BatchNormalization(name=f"bn_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs_tensor = classifier_top(x, classes=outputs, classifier_activation=output_activation)
    return keras.Model(inputs, outputs_tensor, name=name)


@register(task="classification", input_kind="vector")
def mlp(input_shape=(784,), classes=10, depth=2, width=128, activation="relu",
        initializer="he", dropout=0.0, batch_norm=None, l1=0.0, l2=0.0,
        classifier_activation="softmax", name="mlp"):
    """MLP classifier: ``[batch, *input_shape]`` (flattened) -> ``[batch, classes]`` probabilities.

    ``classifier_activation="sigmoid"`` gives independent (multi-label or, with
    ``classes=1``, binary) outputs.
    """
    _checks.classifier_head(classes, classifier_activation)
    return _mlp(input_shape, classes, classifier_activation, depth, width, activation,
                initializer, dropout, batch_norm, l1, l2, name)


@register(task="regression", input_kind="vector")
def mlp_regressor(input_shape=(8,), outputs=1, depth=2, width=64, activation="relu",
                  initializer="he", dropout=0.0, batch_norm=None, l1=0.0, l2=0.0,
                  name="mlp_regressor"):
    """MLP regressor: ``[batch, *input_shape]`` -> ``[batch, outputs]`` with a linear head."""
    _checks.positive_int("outputs", outputs)
    return _mlp(input_shape, outputs, "linear", depth, width, activation, initializer,
                dropout, batch_norm, l1, l2, name)


@register(task="sequence_classification", input_kind="vector")
def bag_of_ngrams(input_shape=(20_000,), classes=2, depth=0, width=64, dropout=0.0, l2=0.0,
                  classifier_activation="softmax", name="bag_of_ngrams"):
    """Bag-of-n-grams text classifier: n-gram weights ``[batch, vocabulary]`` -> ``[batch, classes]``.

    Feed it the output of ``TextVectorization(output_mode="tf_idf", ngrams=2)``
    (or ``"count"``/``"multi_hot"``). With ``depth=0`` it is multinomial
    logistic regression on the n-grams; ``depth`` > 0 adds ReLU layers.

    Args:
        input_shape: ``(vocabulary,)``: the vectoriser's ``max_tokens``.
        classes: number of classes.
        depth: hidden layers (0: a linear model).
        width: units per hidden layer.
        dropout: dropout after each hidden layer.
        l2: L2 penalty on the kernels.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    _checks.classifier_head(classes, classifier_activation)
    input_shape = _checks.shape("input_shape", input_shape, rank=1)
    return _mlp(input_shape, classes, classifier_activation, depth, width, "relu", "he",
                dropout, None, 0.0, l2, name)

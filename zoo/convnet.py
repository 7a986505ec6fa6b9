"""Convolutional image classifiers: the classic MNIST net, LeNet-5, VGG-style stacks.

Inputs are float images ``[batch, H, W, C]`` (scale them first, e.g. with a
``Rescaling`` layer); outputs are ``[batch, classes]`` probabilities, or, with
``include_top=False``, the last feature map (optionally globally pooled).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.errors import ArgumentError
from zoo import _checks
from zoo.layers import check_top, classifier_top, pool_features
from zoo.registry import register


def _check_image(input_shape, *, min_size, why):
    input_shape = _checks.shape("input_shape", input_shape, rank=3)
    if min(input_shape[:2]) < min_size:
        raise ArgumentError("input_shape", input_shape, f"images of at least {min_size}x{min_size}",
                            f"input_shape={input_shape!r} is invalid: {why} needs images of at least "
                            f"{min_size}x{min_size}.")
    return input_shape


def _top(x, inputs, *, include_top, pooling, classes, classifier_activation, dropout, name):
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


@register(task="image_classification", input_kind="image")
def convnet(input_shape=(28, 28, 1), classes=10, filters=(32, 64), dropout=0.5,
            padding="same", include_top=True, pooling=None,
            classifier_activation="softmax", name="convnet"):
    """The classic MNIST net: Conv32-Pool-Conv64-Pool-Dropout-Dense (3x3 kernels, ReLU).

    ``[batch, H, W, C]`` -> ``[batch, classes]``. ``padding="valid"`` is exactly
    keras-io's ``mnist_convnet`` (34,826 parameters at 28x28x1); the default
    ``"same"`` also fits small images such as scikit-learn's 8x8 digits.
    """
    filters = _checks.int_list("filters", filters)
    _checks.fraction("dropout", dropout)
    _checks.choice("padding", padding, ("same", "valid"))
    check_top(include_top, pooling, classes, classifier_activation)
    # Each stage halves the size; "valid" 3x3 convolutions also take 2 pixels.
    size = 1
    for _ in filters:
        size = size * 2 + (2 if padding == "valid" else 0)
    input_shape = _check_image(input_shape, min_size=size,
                               why=f"{len(filters)} conv+pool stages with padding={padding!r}")

    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 3, padding=padding, activation="relu", name=f"conv_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    return _top(x, inputs, include_top=include_top, pooling=pooling, classes=classes,
                classifier_activation=classifier_activation, dropout=dropout, name=name)


@register(task="image_classification", input_kind="image")
def lenet5(input_shape=(28, 28, 1), classes=10, activation="tanh", include_top=True,
           pooling=None, classifier_activation="softmax", name="lenet5"):
    """LeNet-5 (LeCun et al., 1998): C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84, output.

    ``[batch, H, W, C]`` -> ``[batch, classes]``, H and W >= 12. C1 pads its
    input ("same"), which on 28x28 MNIST equals the paper's 32x32 padded
    input: 61,706 parameters at 28x28x1 with 10 classes.
    """
    _checks.choice("activation", activation, ("tanh", "relu", "sigmoid"))
    check_top(include_top, pooling, classes, classifier_activation)
    input_shape = _check_image(input_shape, min_size=12, why="LeNet-5")

    inputs = keras.Input(shape=input_shape, name="images")
    x = layers.Conv2D(6, 5, padding="same", activation=activation, name="c1")(inputs)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    if not include_top:
        return keras.Model(inputs, pool_features(x, pooling), name=name)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=activation, name="c5")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    x = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register(task="image_classification", input_kind="image")
def vgg(input_shape=(32, 32, 3), classes=10, block_filters=(32, 64, 128), convs_per_block=2,
        batch_norm=True, spatial_dropout=0.0, dropout=0.5, include_top=True, pooling=None,
        classifier_activation="softmax", name="vgg"):
    """VGG-style stacks: per block, ``convs_per_block`` 3x3 convs, optional SpatialDropout2D, max-pool.

    ``[batch, H, W, C]`` -> ``[batch, classes]``; H and W >= 2**len(block_filters).
    SpatialDropout2D drops whole feature maps, which regularises convolutions
    better than element-wise dropout because neighbouring pixels are correlated.
    """
    block_filters = _checks.int_list("block_filters", block_filters)
    _checks.positive_int("convs_per_block", convs_per_block)
    _checks.flag("batch_norm", batch_norm)
    _checks.fraction("spatial_dropout", spatial_dropout)
    _checks.fraction("dropout", dropout)
    check_top(include_top, pooling, classes, classifier_activation)
    input_shape = _check_image(input_shape, min_size=2 ** len(block_filters),
                               why=f"{len(block_filters)} pooling blocks")

    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for b, width in enumerate(block_filters, start=1):
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm,
                              name=f"block{b}_conv{c}")(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        if spatial_dropout:
            x = layers.SpatialDropout2D(spatial_dropout, name=f"block{b}_spatial_dropout")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    if not include_top:
        return keras.Model(inputs, pool_features(x, pooling), name=name)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register(task="sequence_classification", input_kind="tokens")
def conv1d_classifier(vocabulary_size=20_000, sequence_length=None, embedding_dim=64, filters=128,
                      kernel_sizes=(3, 4, 5), dropout=0.5, classes=2, classifier_activation="softmax",
                      name="conv1d_classifier"):
    """1-D convolutional text classifier (cf. Kim, 2014): token ids ``[batch, sequence_length]`` -> ``[batch, classes]``.

    One ``Conv1D`` (ReLU) per kernel size reads the embedded tokens in
    parallel; each is max-pooled over time (the strongest n-gram detector
    response, wherever it is), and the pooled features are concatenated.

    Args:
        vocabulary_size: number of token ids (0 is padding, 1 usually out-of-vocabulary).
        sequence_length: fixed length, or ``None`` for any length (at least the largest kernel).
        embedding_dim: width of the token embedding.
        filters: filters per kernel size.
        kernel_sizes: the n-gram widths the convolutions span, each once.
        dropout: dropout on the embeddings and before the classifier.
        classes: number of classes.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    _checks.positive_int("vocabulary_size", vocabulary_size, minimum=2)
    kernel_sizes = _checks.int_list("kernel_sizes", kernel_sizes, distinct=True, why=(
        " (one Conv1D branch per width: raise filters for more detectors of one width)"))
    if sequence_length is not None:
        _checks.positive_int("sequence_length", sequence_length, minimum=max(kernel_sizes))
    _checks.positive_int("embedding_dim", embedding_dim)
    _checks.positive_int("filters", filters)
    _checks.fraction("dropout", dropout)
    _checks.classifier_head(classes, classifier_activation)

    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(inputs)
    if dropout:
        x = layers.Dropout(dropout, name="embedding_dropout")(x)
    pooled = [layers.GlobalMaxPooling1D(name=f"max_pool_{k}")(
                  layers.Conv1D(filters, k, activation="relu", name=f"conv_{k}")(x)) for k in kernel_sizes]
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name="concatenate")(pooled)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, outputs, name=name)

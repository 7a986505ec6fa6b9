"""Transformers: a text classifier and two time-series forecasters (patches as tokens; variates as tokens).

All stack ``zoo.layers.transformer_encoder_block`` (multi-head
self-attention and a feed-forward net, each with a residual connection,
layer norm and dropout) over token or patch embeddings plus learned position
embeddings, or over one embedding per variate (no positions: a set).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.errors import ArgumentError
from zoo import _checks
from zoo.layers import (Patches, PositionEmbedding, channels_to_targets, classifier_top, forecast_head,
                        transformer_encoder_block)
from zoo.registry import register


def _check_encoder(embedding_dim, num_heads, ff_dim, num_blocks, dropout):
    _checks.positive_int("embedding_dim", embedding_dim)
    _checks.positive_int("num_heads", num_heads)
    _checks.positive_int("ff_dim", ff_dim)
    _checks.positive_int("num_blocks", num_blocks)
    _checks.fraction("dropout", dropout)
    if embedding_dim % num_heads:
        raise ArgumentError("num_heads", num_heads, f"a divisor of embedding_dim ({embedding_dim})",
                            f"num_heads={num_heads} is invalid: expected a divisor of embedding_dim ({embedding_dim}).")


def _encode(x, embedding_dim, num_heads, ff_dim, num_blocks, dropout, attention_axes=None, padding_mask=None):
    for b in range(1, num_blocks + 1):
        x = transformer_encoder_block(x, num_heads=num_heads, key_dim=embedding_dim // num_heads, ff_dim=ff_dim,
                                      dropout=dropout, name=f"block{b}", attention_axes=attention_axes,
                                      padding_mask=padding_mask)
    return x


@register(task="sequence_classification", input_kind="tokens")
def transformer_classifier(vocabulary_size=20_000, sequence_length=200, embedding_dim=64, num_heads=4,
                           ff_dim=128, num_blocks=2, dropout=0.1, classes=2,
                           classifier_activation="softmax", name="transformer_classifier"):
    """Transformer text classifier: token ids ``[batch, sequence_length]`` -> ``[batch, classes]``.

    Mean-pools the encoder output over the real (non-padding) positions.
    """
    _checks.positive_int("vocabulary_size", vocabulary_size, minimum=2)
    _checks.positive_int("sequence_length", sequence_length)
    _check_encoder(embedding_dim, num_heads, ff_dim, num_blocks, dropout)
    _checks.classifier_head(classes, classifier_activation)
    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    # mask_zero: padding (id 0) is neither attended to nor averaged in the pooling.
    x = layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="token_embedding")(inputs)
    x = PositionEmbedding(sequence_length, name="position_embedding")(x)
    x = _encode(x, embedding_dim, num_heads, ff_dim, num_blocks, dropout,
                padding_mask=keras.ops.not_equal(inputs, 0))
    # Mean over the real tokens; an all-padding sequence pools to zeros (not 0/0 = NaN).
    real = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(inputs, 0), x.dtype), -1)
    x = keras.ops.sum(x * real, axis=1) / keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, outputs, name=name)


@register(task="forecasting", input_kind="window")
def patch_transformer_forecaster(lookback=96, features=7, horizon=24, targets=None, patch_length=16, embedding_dim=64,
                                 num_heads=4, ff_dim=128, num_blocks=2, dropout=0.1,
                                 channel_independent=False, stride=None, name="patch_transformer_forecaster"):
    """Patch transformer (cf. PatchTST): patches of the window are the tokens.

    ``[batch, lookback, features]`` -> ``[batch, horizon, targets]``. Patches
    are ``patch_length`` steps, ``stride`` apart (default ``patch_length``:
    non-overlapping, and then lookback must be divisible by ``patch_length``;
    PatchTST uses 16 and 8, overlapping, ending at the window's last step).
    By default a patch spans all channels and
    one head maps every patch to the whole forecast. With
    ``channel_independent=True`` (PatchTST's choice) each channel is patched,
    encoded and forecast on its own, by weights shared across channels:
    parameters do not grow with ``features``, and no channel can overfit to
    another's noise.
    """
    targets = _checks.window(lookback, features, horizon, targets)
    _checks.positive_int("patch_length", patch_length)
    if stride is None and lookback % patch_length:
        raise ArgumentError("patch_length", patch_length, f"a divisor of lookback ({lookback})",
                            f"patch_length={patch_length} is invalid: expected a divisor of lookback ({lookback}), "
                            "or a stride (overlapping patches need none).")
    if patch_length > lookback:
        raise ArgumentError("patch_length", patch_length, f"<= lookback ({lookback})",
                            f"patch_length={patch_length} is invalid: expected <= lookback ({lookback}).")
    stride = patch_length if stride is None else stride
    _checks.positive_int("stride", stride)
    _check_encoder(embedding_dim, num_heads, ff_dim, num_blocks, dropout)
    _checks.flag("channel_independent", channel_independent)
    patching = Patches(patch_length, stride, name="patches")
    patches = patching.count(lookback)
    inputs = keras.Input(shape=(lookback, features), name="window")
    if not channel_independent:
        # A strided convolution is a linear embedding of each patch (of the last steps, as Patches takes them).
        start = lookback - patch_length - (patches - 1) * stride
        window = layers.Cropping1D((start, 0), name="whole_patches")(inputs) if start else inputs
        x = layers.Conv1D(embedding_dim, patch_length, strides=stride, name="patch_embedding")(window)
        x = PositionEmbedding(patches, name="position_embedding")(x)
        x = _encode(x, embedding_dim, num_heads, ff_dim, num_blocks, dropout)
        outputs = forecast_head(layers.Flatten(name="flatten")(x), horizon, targets)
        return keras.Model(inputs, outputs, name=name)

    # [batch, features, patches, patch_length]: one row of patches per channel.
    x = patching(layers.Permute((2, 1), name="channels_first")(inputs))
    x = layers.Dense(embedding_dim, name="patch_embedding")(x)
    x = PositionEmbedding(patches, name="position_embedding")(x)
    x = _encode(x, embedding_dim, num_heads, ff_dim, num_blocks, dropout, attention_axes=(2,))
    x = layers.Reshape((features, patches * embedding_dim), name="flatten")(x)
    x = layers.Dense(horizon, name="projection")(x)  # the same head for every channel
    return keras.Model(inputs, channels_to_targets(x, features, targets), name=name)


@register(task="forecasting", input_kind="window")
def itransformer_forecaster(lookback=96, features=7, horizon=24, targets=None, embedding_dim=256, num_heads=8,
                            ff_dim=256, num_blocks=2, dropout=0.1, name="itransformer_forecaster"):
    """iTransformer (Liu et al., 2024): each variate's whole window is one token; attention runs across variates.

    ``[batch, lookback, features]`` -> ``[batch, horizon, targets]``. A linear
    map embeds each channel's ``lookback`` steps as one token; encoder blocks
    (attention over the ``features`` tokens, then a feed-forward net applied to
    each token, which models each series' own time pattern) and a final layer
    norm; one linear map per token gives its ``horizon`` steps. The defaults
    are the paper's for the ETT sets (2 blocks, width 256, 8 heads,
    feed-forward 256). No position embedding: the variates are a set, and a
    forecast does not depend on their order. The paper's own normalisation
    of each window is the application's ``--revin``.
    """
    targets = _checks.window(lookback, features, horizon, targets)
    _check_encoder(embedding_dim, num_heads, ff_dim, num_blocks, dropout)
    inputs = keras.Input(shape=(lookback, features), name="window")
    x = layers.Permute((2, 1), name="variates_as_tokens")(inputs)  # [batch, features, lookback]
    x = layers.Dense(embedding_dim, name="variate_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = _encode(x, embedding_dim, num_heads, ff_dim, num_blocks, dropout)
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = layers.Dense(horizon, name="projection")(x)  # [batch, features, horizon]
    return keras.Model(inputs, channels_to_targets(x, features, targets), name=name)

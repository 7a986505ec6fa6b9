"""Blocks shared by several families."""

from __future__ import annotations

import keras
from keras import layers

from zoo import _checks

POOLINGS = (None, "avg", "max")


def check_top(include_top, pooling, classes, classifier_activation):
    """Validate the keras.applications-style top arguments."""
    _checks.flag("include_top", include_top)
    _checks.choice("pooling", pooling, POOLINGS)
    if include_top:
        _checks.classifier_head(classes, classifier_activation)


def classifier_top(x, *, classes, classifier_activation, name_prefix=""):
    """Dense logits + an activation kept in float32.

    The activation runs in float32 so that softmax stays accurate when the
    model is trained under the ``mixed_bfloat16`` policy.
    """
    x = layers.Dense(classes, name=f"{name_prefix}logits")(x)
    return layers.Activation(
        classifier_activation or "linear", dtype="float32", name=f"{name_prefix}predictions"
    )(x)


def forecast_head(x, horizon, targets):
    """Features ``[batch, n]`` -> ``[batch, horizon, targets]`` by one linear map (float32 output)."""
    x = layers.Dense(horizon * targets, name="projection")(x)
    return layers.Reshape((horizon, targets), dtype="float32", name="forecast")(x)


def channels_to_targets(x, features, targets):
    """Per-channel forecasts ``[batch, features, horizon]`` -> ``[batch, horizon, targets]`` (float32).

    When every channel is a target the channels stay independent; otherwise
    one linear map over the channels mixes them into the target channels.
    """
    x = layers.Permute((2, 1), name="time_last_to_channels_last")(x)
    if targets == features:
        return layers.Activation("linear", dtype="float32", name="forecast")(x)
    return layers.Dense(targets, dtype="float32", name="forecast")(x)


def pool_features(x, pooling):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def regularizer(l1: float, l2: float):
    """L1, L2 or elastic-net (both) weight penalty, or None."""
    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None


@keras.saving.register_keras_serializable(package="zoo")
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding of each position 0..length-1 to ``[..., length, dim]`` inputs.

    The positions run along the second-to-last axis, so ``[batch, channels,
    patches, dim]`` inputs get the same embedding in every channel.
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def build(self, input_shape):
        self.position_embedding = layers.Embedding(self.max_length, input_shape[-1], name="positions")
        self.position_embedding.build((None,))

    def call(self, inputs):
        positions = keras.ops.arange(keras.ops.shape(inputs)[-2])
        return inputs + keras.ops.cast(self.position_embedding(positions), inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


def transformer_encoder_block(x, *, num_heads, key_dim, ff_dim, dropout, name, attention_axes=None,
                              padding_mask=None):
    """Post-norm encoder block: self-attention and a feed-forward net, each with residual + LayerNorm.

    ``x`` is ``[batch, length, dim]``, or ``[batch, channels, length, dim]`` with
    ``attention_axes=(2,)``: then each channel attends over its own positions,
    with weights shared by all channels. ``padding_mask`` ``[batch, length]``
    (True at real tokens) keeps every position from attending to padding;
    Keras propagates only the query's mask by itself, not the keys'.
    """
    attended = layers.MultiHeadAttention(num_heads, key_dim, dropout=dropout, attention_axes=attention_axes,
                                         name=f"{name}_attention")(x, x, value_mask=padding_mask)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(
        layers.Add(name=f"{name}_residual1")([x, layers.Dropout(dropout, name=f"{name}_dropout1")(attended)]))
    hidden = layers.Dense(ff_dim, activation="gelu", name=f"{name}_ff1")(x)
    hidden = layers.Dense(x.shape[-1], name=f"{name}_ff2")(hidden)
    return layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(
        layers.Add(name=f"{name}_residual2")([x, layers.Dropout(dropout, name=f"{name}_dropout2")(hidden)]))


class CompositeModel(keras.Model):
    """Base of the VAE and the GAN: a ``keras.Model`` holding built functional sub-models.

    A subclass names its parts in ``PARTS`` (they are its first ``__init__``
    arguments and its attributes) and returns its other constructor arguments
    from ``settings()``; ``get_config``/``from_config`` then save the parts as
    their own configs, so ``.keras`` files reload with ``safe_mode=True``.
    The model's input is its first part's.
    """

    PARTS: tuple[str, ...] = ()

    def settings(self) -> dict:
        return {}

    @property
    def input_shape(self):
        return getattr(self, self.PARTS[0]).input_shape

    def get_config(self):
        parts = {part: keras.saving.serialize_keras_object(getattr(self, part)) for part in self.PARTS}
        return {"name": self.name, **parts, **self.settings()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        parts = [keras.saving.deserialize_keras_object(config.pop(part)) for part in cls.PARTS]
        return cls(*parts, **config)


@keras.saving.register_keras_serializable(package="zoo")
class Patches(layers.Layer):
    """``[..., length]`` -> ``[..., patches, patch_length]``: windows of ``patch_length`` steps, ``stride`` apart.

    With ``stride < patch_length`` the patches overlap (PatchTST: 16 and 8).
    The patches end at the last step; ``(length - patch_length) % stride``
    earliest steps are left out.
    """

    def __init__(self, patch_length, stride, **kwargs):
        super().__init__(**kwargs)
        self.patch_length, self.stride = patch_length, stride

    def count(self, length: int) -> int:
        return (length - self.patch_length) // self.stride + 1

    def call(self, x):
        length = x.shape[-1]
        start = length - self.patch_length - (self.count(length) - 1) * self.stride
        first = keras.ops.arange(self.count(length)) * self.stride + start
        indices = first[:, None] + keras.ops.arange(self.patch_length)[None, :]
        return keras.ops.take(x, indices, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.count(input_shape[-1]), self.patch_length)

    def get_config(self):
        return {**super().get_config(), "patch_length": self.patch_length, "stride": self.stride}


@keras.saving.register_keras_serializable(package="zoo")
class InstanceStandardization(layers.Layer):
    """RevIN, first half (Kim et al., 2022): remove each window's own per-channel mean and scale.

    ``[batch, time, channels]`` -> ``(normalised, mean, std)`` with ``mean`` and
    ``std`` of shape ``[batch, 1, channels]``; ``InstanceRestoration`` puts them
    back on the forecast. Computed in float32 whatever the policy.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(dtype=kwargs.pop("dtype", "float32"), **kwargs)
        self.epsilon = epsilon

    def call(self, x):
        mean = keras.ops.mean(x, axis=1, keepdims=True)
        std = keras.ops.sqrt(keras.ops.var(x, axis=1, keepdims=True) + self.epsilon)
        return (x - mean) / std, mean, std

    def compute_output_shape(self, input_shape):
        stats = (input_shape[0], 1, input_shape[2])
        return input_shape, stats, stats

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="zoo")
class InstanceRestoration(layers.Layer):
    """RevIN, second half: ``forecast * std + mean`` for the first ``targets`` channels' statistics."""

    def __init__(self, targets, **kwargs):
        super().__init__(dtype=kwargs.pop("dtype", "float32"), **kwargs)
        self.targets = targets

    def call(self, inputs):
        forecast, mean, std = inputs
        return forecast * std[..., :self.targets] + mean[..., :self.targets]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "targets": self.targets}

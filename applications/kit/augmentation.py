"""Data augmentation as Keras layers placed inside the model.

Random layers act only in training (``training=True``), so ``predict``,
``evaluate`` and an exported SavedModel see the inputs unchanged.

- images: ``image_augmentation`` (rotation, translation, zoom);
- time-series windows: ``Jitter``, ``Scaling``, ``MagnitudeWarp``, ``TimeWarp``,
  ``WindowCrop``, ``TimeMasking`` (Um et al., 2017; Le Guennec et al., 2016),
  combined by ``time_series_augmentation(["jitter", "time_warp=0.3"])``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def image_augmentation(rotation=0.05, translation=0.1, zoom=0.1, seed=None, name="augmentation"):
    """Random rotation (fraction of a full turn), translation and zoom (fractions of the size).

    Defaults suit digits: +-18 degrees, +-10 % shifts and zooms. Flips are left
    out on purpose: a mirrored 2 is not a 2. A strength of 0 drops that layer.
    Each layer gets its own seed (``seed``, ``seed + 1``, ``seed + 2``): with one
    shared seed, rotation, shift and zoom would draw the same numbers every batch.
    """
    for arg, value in (("rotation", rotation), ("translation", translation), ("zoom", zoom)):
        if not 0 <= value < 1:
            raise ValueError(f"{arg}={value!r} is invalid: expected a fraction in [0, 1)")

    def layer_seed(offset):
        return None if seed is None else seed + offset

    steps = []
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="constant", seed=layer_seed(0)))
    if translation:
        steps.append(layers.RandomTranslation(translation, translation, fill_mode="constant", seed=layer_seed(1)))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode="constant", seed=layer_seed(2)))
    return keras.Sequential(steps, name=name)


# ----------------------------------------------------------------- time series
#
# Windows [batch, time, channels], standardised. Each layer draws from its own
# SeedGenerator (whose state the exact backup saves) and acts only in training.

def _interpolation_matrix(points: int, steps: int) -> np.ndarray:
    """``[points, steps]`` weights that linearly interpolate ``points`` knots spread over ``steps``."""
    knots = np.linspace(0, steps - 1, points)
    weights = np.zeros((points, steps), dtype="float32")
    for t in range(steps):
        right = min(int(np.searchsorted(knots, t, side="right")), points - 1)
        left = max(right - 1, 0)
        span = knots[right] - knots[left]
        w = 0.0 if span == 0 else (t - knots[left]) / span
        weights[left, t] += 1 - w
        weights[right, t] += w
    return weights


def _resample(x, positions):
    """``x [b, t, c]`` read at fractional time ``positions [b, t]`` by linear interpolation."""
    steps = ops.shape(x)[1]
    positions = ops.clip(positions, 0.0, ops.cast(steps - 1, positions.dtype))
    left = ops.cast(ops.floor(positions), "int32")
    right = ops.minimum(left + 1, steps - 1)
    weight = ops.expand_dims(positions - ops.cast(left, positions.dtype), -1)
    take = lambda index: ops.take_along_axis(x, ops.expand_dims(index, -1), axis=1)  # noqa: E731
    return take(left) * (1 - weight) + take(right) * weight


class _TimeSeriesAugmentation(layers.Layer):
    def __init__(self, strength, seed=None, **kwargs):
        super().__init__(dtype=kwargs.pop("dtype", "float32"), **kwargs)
        if not 0 <= strength < 1:
            raise ValueError(f"{type(self).__name__} strength={strength!r} is invalid: expected [0, 1)")
        self.strength, self.seed = strength, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        return self.augment(x) if training and self.strength else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "strength": self.strength, "seed": self.seed}

    def _smooth_curve(self, x, knots=4):
        """A smooth random curve ``[b, t, c]`` around 1: normal knots (sd = strength), interpolated."""
        batch, steps, channels = ops.shape(x)[0], x.shape[1], ops.shape(x)[2]
        values = 1 + self.strength * keras.random.normal((batch, knots + 2, channels), seed=self.seed_generator)
        return ops.einsum("bkc,kt->btc", values, ops.convert_to_tensor(_interpolation_matrix(knots + 2, steps)))


@keras.saving.register_keras_serializable(package="kit")
class Jitter(_TimeSeriesAugmentation):
    """Add Gaussian noise with standard deviation ``strength`` (in standardised units)."""

    def augment(self, x):
        return x + self.strength * keras.random.normal(ops.shape(x), seed=self.seed_generator)


@keras.saving.register_keras_serializable(package="kit")
class Scaling(_TimeSeriesAugmentation):
    """Multiply each window's channels by a factor drawn from N(1, ``strength``)."""

    def augment(self, x):
        shape = (ops.shape(x)[0], 1, ops.shape(x)[2])
        return x * (1 + self.strength * keras.random.normal(shape, seed=self.seed_generator))


@keras.saving.register_keras_serializable(package="kit")
class MagnitudeWarp(_TimeSeriesAugmentation):
    """Multiply by a smooth random curve around 1 (knots drawn from N(1, ``strength``))."""

    def augment(self, x):
        return x * self._smooth_curve(x)


@keras.saving.register_keras_serializable(package="kit")
class TimeWarp(_TimeSeriesAugmentation):
    """Speed the window up and slow it down smoothly: read it at warped times (same length)."""

    def augment(self, x):
        steps = x.shape[1]
        speed = ops.maximum(self._smooth_curve(x[..., :1])[..., 0], 0.1)   # [b, t], positive
        elapsed = ops.cumsum(speed, axis=1) - speed[:, :1]
        positions = elapsed / ops.maximum(elapsed[:, -1:], 1e-6) * (steps - 1)
        return _resample(x, positions)


@keras.saving.register_keras_serializable(package="kit")
class WindowCrop(_TimeSeriesAugmentation):
    """Take a random stretch of ``1 - strength`` of the window and stretch it back to full length."""

    def augment(self, x):
        steps = x.shape[1]
        length = (1 - self.strength) * (steps - 1)
        start = keras.random.uniform((ops.shape(x)[0], 1), 0, (steps - 1) - length, seed=self.seed_generator)
        return _resample(x, start + ops.linspace(0.0, length, steps)[None, :])


@keras.saving.register_keras_serializable(package="kit")
class TimeMasking(_TimeSeriesAugmentation):
    """Set a fraction ``strength`` of the time steps to 0 (the mean, in standardised units)."""

    def augment(self, x):
        shape = (ops.shape(x)[0], ops.shape(x)[1], 1)
        keep = keras.random.uniform(shape, seed=self.seed_generator) >= self.strength
        return x * ops.cast(keep, x.dtype)


TIME_SERIES_AUGMENTATIONS = {"jitter": (Jitter, 0.03), "scaling": (Scaling, 0.1),
                             "magnitude_warp": (MagnitudeWarp, 0.2), "time_warp": (TimeWarp, 0.2),
                             "window_crop": (WindowCrop, 0.1), "masking": (TimeMasking, 0.1)}


def time_series_augmentation(names, seed=None, name="augmentation") -> keras.Sequential:
    """The named augmentations (``TIME_SERIES_AUGMENTATIONS``) with their default strengths, in order.

    ``names`` items may be ``name`` or ``name=strength``; each layer gets its own seed.
    """
    steps = []
    for offset, item in enumerate(names):
        key, _, value = item.partition("=")
        if key not in TIME_SERIES_AUGMENTATIONS:
            raise ValueError(f"augmentation {key!r} is unknown; choose from {', '.join(TIME_SERIES_AUGMENTATIONS)}")
        layer, strength = TIME_SERIES_AUGMENTATIONS[key]
        try:
            strength = float(value) if value else strength
        except ValueError:
            raise ValueError(f"augmentation {item!r}: the strength must be a number") from None
        steps.append(layer(strength, seed=None if seed is None else seed + offset, name=key))
    return keras.Sequential(steps, name=name)

"""Data augmentation as Keras layers placed inside the model.

Random layers act only in training (``training=True``), so ``predict``,
``evaluate`` and an exported SavedModel see the images unchanged.
"""

from __future__ import annotations

import keras
from keras import layers


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

"""Blocks shared by several families."""

from __future__ import annotations

import keras
from keras import layers

from zoo import _checks

POOLINGS = (None, "avg", "max")


def check_top(include_top, pooling, classes, classifier_activation):
    """Validate the keras.applications-style top arguments."""
    _checks.choice("include_top", include_top, (True, False))
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

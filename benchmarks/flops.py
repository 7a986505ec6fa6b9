"""Analytical FLOP counts (multiply and add counted separately) for Keras models."""

from __future__ import annotations

import math

import keras


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass for one sample, from Conv2D and Dense layers (the dominant terms).

    Pooling, activations and normalisation are left out; they add well under
    1 % for the convnets measured here.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            out_h, out_w, out_c = layer.output.shape[1:]
            k_h, k_w = layer.kernel_size
            in_c = layer.input.shape[-1]
            total += 2 * out_h * out_w * out_c * k_h * k_w * in_c // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * math.prod(layer.input.shape[1:]) * layer.units
    return total


def training_flops(model: keras.Model) -> int:
    """Forward + backward: the backward pass costs about twice the forward one."""
    return 3 * forward_flops(model)

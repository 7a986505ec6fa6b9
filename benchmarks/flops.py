"""Analytical FLOP counts (multiply and add counted separately) for Keras models."""

from __future__ import annotations

import math

import keras


def flops_of(layer) -> int:
    """Forward FLOPs for one sample of a Conv2D or Dense layer; 0 for any other layer."""
    if isinstance(layer, keras.layers.Conv2D):
        out_h, out_w, out_c = layer.output.shape[1:]
        k_h, k_w = layer.kernel_size
        in_c = layer.input.shape[-1]
        return 2 * out_h * out_w * out_c * k_h * k_w * in_c // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return 2 * math.prod(layer.input.shape[1:]) * layer.units
    return 0


def layer_flops(model: keras.Model) -> dict:
    """Forward FLOPs for one sample of each Conv2D and Dense layer, by layer name (nested models included).

    Pooling, activations and normalisation are left out; they add well under
    1 % for the convnets measured here.
    """
    flops = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops.update(layer_flops(layer))
        elif count := flops_of(layer):
            flops[layer.name] = count
    return flops


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass for one sample, from Conv2D and Dense layers (the dominant terms)."""
    return sum(layer_flops(model).values())


def first_weighted_layer(model: keras.Model):
    """The model's first layer that holds weights (nested models opened), or None.

    Nothing before it trains, so training computes no gradient for its input.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found = first_weighted_layer(layer)
            if found is not None:
                return found
        elif layer.weights:
            return layer
    return None


def training_flops(model: keras.Model) -> int:
    """Forward + backward: the backward pass costs about twice the forward one (input and weight gradients).

    The model's first layer with weights gets no input gradient, so its
    backward pass counts once, not twice.
    """
    first = first_weighted_layer(model)
    return 3 * forward_flops(model) - (flops_of(first) if first is not None else 0)

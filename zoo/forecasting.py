"""Forecasting heads: DLinear, an MLP forecaster and a TCN.

All map windows ``[batch, lookback, features]`` to ``[batch, horizon, targets]``
(``targets`` defaults to ``features``: every column predicted, as in the ETTh1
multivariate protocol).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.errors import ArgumentError
from zoo import _checks
from zoo.layers import channels_to_targets, forecast_head
from zoo.registry import register


@register(task="forecasting", input_kind="window")
def dlinear(lookback=96, features=7, horizon=24, targets=None, moving_average=25, name="dlinear"):
    """DLinear (Zeng et al., 2023): trend = moving average, seasonal = rest; one linear map each over time.

    ``[batch, lookback, features]`` -> ``[batch, horizon, targets]``; channels share the maps.
    The moving average uses 'same' padding that averages only real steps at the
    edges, where the paper repeats the edge values. With ``targets`` other than
    ``features``, one linear map over the channels mixes the per-channel
    forecasts into the target channels.
    """
    targets = _checks.window(lookback, features, horizon, targets)
    _checks.positive_int("moving_average", moving_average)
    if moving_average > lookback:
        raise ArgumentError("moving_average", moving_average, f"<= lookback ({lookback})",
                            f"moving_average={moving_average} is invalid: expected <= lookback ({lookback}).")
    inputs = keras.Input(shape=(lookback, features), name="window")
    trend = layers.AveragePooling1D(moving_average, strides=1, padding="same", name="trend")(inputs)
    seasonal = layers.Subtract(name="seasonal")([inputs, trend])
    # Dense acts on the last axis: put time there, so the map is over time, per channel.
    trend = layers.Dense(horizon, name="trend_linear")(layers.Permute((2, 1), name="trend_t")(trend))
    seasonal = layers.Dense(horizon, name="seasonal_linear")(layers.Permute((2, 1), name="seasonal_t")(seasonal))
    x = layers.Add(name="sum")([trend, seasonal])
    return keras.Model(inputs, channels_to_targets(x, features, targets), name=name)


@register(task="forecasting", input_kind="window")
def mlp_forecaster(lookback=96, features=7, horizon=24, targets=None, hidden_units=(256,),
                   dropout=0.1, name="mlp_forecaster"):
    """MLP forecaster: the flattened window through dense layers -> ``[batch, horizon, targets]``."""
    targets = _checks.window(lookback, features, horizon, targets)
    hidden_units = _checks.int_list("hidden_units", hidden_units, allow_empty=True)
    _checks.fraction("dropout", dropout)
    inputs = keras.Input(shape=(lookback, features), name="window")
    x = layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, forecast_head(x, horizon, targets), name=name)


@register(task="forecasting", input_kind="window")
def tcn_forecaster(lookback=96, features=7, horizon=24, targets=None, filters=64, kernel_size=3,
                   dilations=(1, 2, 4, 8, 16), dropout=0.1, name="tcn_forecaster"):
    """Temporal convolutional network: residual blocks of dilated causal Conv1D; last step -> forecast.

    The receptive field is ``1 + 2 * (kernel_size - 1) * sum(dilations)`` steps.
    """
    targets = _checks.window(lookback, features, horizon, targets)
    _checks.positive_int("filters", filters)
    _checks.positive_int("kernel_size", kernel_size, minimum=2)
    dilations = _checks.int_list("dilations", dilations)
    _checks.fraction("dropout", dropout)
    inputs = keras.Input(shape=(lookback, features), name="window")
    x = layers.Conv1D(filters, 1, name="input_projection")(inputs)
    for b, d in enumerate(dilations, start=1):  # named by position: a dilation may repeat
        residual = x
        for j in (1, 2):
            x = layers.Conv1D(filters, kernel_size, padding="causal", dilation_rate=d,
                              activation="relu", name=f"block{b}_conv{j}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"block{b}_dropout{j}")(x)
        x = layers.Add(name=f"block{b}_residual")([residual, x])
    last = layers.Cropping1D((lookback - 1, 0), name="last_step")(x)
    return keras.Model(inputs, forecast_head(layers.Flatten(name="flatten")(last), horizon, targets), name=name)

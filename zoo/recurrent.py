"""Recurrent networks: SimpleRNN, LSTM and GRU, optionally bidirectional and stacked.

Two tasks share one private builder:

- sequence classification (``simple_rnn``, ``lstm``, ``gru``): token ids
  ``[batch, sequence_length]`` (0 = padding, masked) -> ``[batch, classes]``;
- sequence regression (``*_forecaster``): windows ``[batch, lookback, features]``
  -> ``[batch, horizon, targets]``.

``units`` is one int or a list (one recurrent layer per entry: stacked);
every layer but the last returns sequences. ``bidirectional`` wraps each
layer in ``Bidirectional`` (concatenating both directions).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo import _checks
from zoo.layers import classifier_top, forecast_head
from zoo.registry import register

CELLS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def _recurrent_stack(x, cell, units, bidirectional, dropout):
    for i, width in enumerate(units, start=1):
        layer = CELLS[cell](width, return_sequences=i < len(units), dropout=dropout, name=f"{cell}_{i}")
        if bidirectional:
            layer = layers.Bidirectional(layer, name=f"bi_{cell}_{i}")
        x = layer(x)
    return x


def _check_recurrent(units, bidirectional, dropout):
    units = _checks.int_list("units", units)
    _checks.flag("bidirectional", bidirectional)
    _checks.fraction("dropout", dropout)
    return units


def _classifier(cell, vocabulary_size, sequence_length, embedding_dim, units, bidirectional,
                dropout, classes, classifier_activation, name):
    _checks.positive_int("vocabulary_size", vocabulary_size, minimum=2)
    if sequence_length is not None:
        _checks.positive_int("sequence_length", sequence_length)
    _checks.positive_int("embedding_dim", embedding_dim)
    units = _check_recurrent(units, bidirectional, dropout)
    _checks.classifier_head(classes, classifier_activation)

    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    # mask_zero: padding (id 0) is skipped by the recurrent layers.
    x = layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")(inputs)
    x = _recurrent_stack(x, cell, units, bidirectional, dropout)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, outputs, name=name)


def _forecaster(cell, lookback, features, horizon, targets, units, bidirectional, dropout, name):
    targets = _checks.window(lookback, features, horizon, targets)
    units = _check_recurrent(units, bidirectional, dropout)

    inputs = keras.Input(shape=(lookback, features), name="window")
    x = _recurrent_stack(inputs, cell, units, bidirectional, dropout)
    return keras.Model(inputs, forecast_head(x, horizon, targets), name=name)


@register(task="sequence_classification", input_kind="tokens")
def simple_rnn(vocabulary_size=20_000, sequence_length=None, embedding_dim=64, units=64, bidirectional=False,
               dropout=0.0, classes=2, classifier_activation="softmax", name="simple_rnn"):
    """SimpleRNN (Elman) text classifier: token ids [batch, sequence_length] (0 = padding) -> [batch, classes].

    Args:
        vocabulary_size: number of token ids (0 is padding, 1 usually out-of-vocabulary).
        sequence_length: fixed length, or ``None`` for any length.
        embedding_dim: width of the token embedding.
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the sequence both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs and before the classifier.
        classes: number of classes.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    return _classifier("simple_rnn", vocabulary_size, sequence_length, embedding_dim, units, bidirectional,
                       dropout, classes, classifier_activation, name)


@register(task="forecasting", input_kind="window")
def simple_rnn_forecaster(lookback=96, features=7, horizon=24, targets=None, units=64, bidirectional=False,
                          dropout=0.0, name="simple_rnn_forecaster"):
    """SimpleRNN (Elman) forecaster: [batch, lookback, features] -> [batch, horizon, targets].

    Args:
        lookback: time steps in a window.
        features: channels in a window.
        horizon: time steps forecast.
        targets: channels forecast (default: ``features``, every channel).
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the window both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs.
        name: the model's name.
    """
    return _forecaster("simple_rnn", lookback, features, horizon, targets, units, bidirectional, dropout, name)


@register(task="sequence_classification", input_kind="tokens")
def lstm(vocabulary_size=20_000, sequence_length=None, embedding_dim=64, units=64, bidirectional=False,
         dropout=0.0, classes=2, classifier_activation="softmax", name="lstm"):
    """LSTM text classifier: token ids [batch, sequence_length] (0 = padding) -> [batch, classes].

    Args:
        vocabulary_size: number of token ids (0 is padding, 1 usually out-of-vocabulary).
        sequence_length: fixed length, or ``None`` for any length.
        embedding_dim: width of the token embedding.
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the sequence both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs and before the classifier.
        classes: number of classes.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    return _classifier("lstm", vocabulary_size, sequence_length, embedding_dim, units, bidirectional,
                       dropout, classes, classifier_activation, name)


@register(task="forecasting", input_kind="window")
def lstm_forecaster(lookback=96, features=7, horizon=24, targets=None, units=64, bidirectional=False,
                    dropout=0.0, name="lstm_forecaster"):
    """LSTM forecaster: [batch, lookback, features] -> [batch, horizon, targets].

    Args:
        lookback: time steps in a window.
        features: channels in a window.
        horizon: time steps forecast.
        targets: channels forecast (default: ``features``, every channel).
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the window both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs.
        name: the model's name.
    """
    return _forecaster("lstm", lookback, features, horizon, targets, units, bidirectional, dropout, name)


@register(task="sequence_classification", input_kind="tokens")
def gru(vocabulary_size=20_000, sequence_length=None, embedding_dim=64, units=64, bidirectional=False,
        dropout=0.0, classes=2, classifier_activation="softmax", name="gru"):
    """GRU text classifier: token ids [batch, sequence_length] (0 = padding) -> [batch, classes].

    Args:
        vocabulary_size: number of token ids (0 is padding, 1 usually out-of-vocabulary).
        sequence_length: fixed length, or ``None`` for any length.
        embedding_dim: width of the token embedding.
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the sequence both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs and before the classifier.
        classes: number of classes.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    return _classifier("gru", vocabulary_size, sequence_length, embedding_dim, units, bidirectional,
                       dropout, classes, classifier_activation, name)


@register(task="sequence_classification", input_kind="tokens")
def bilstm(vocabulary_size=20_000, sequence_length=None, embedding_dim=64, units=64, dropout=0.0,
           classes=2, classifier_activation="softmax", name="bilstm"):
    """Bidirectional LSTM text classifier: token ids [batch, sequence_length] (0 = padding) -> [batch, classes].

    The ``lstm`` builder with ``bidirectional=True``: each layer reads the
    sequence forwards and backwards and concatenates the two final states.

    Args:
        vocabulary_size: number of token ids (0 is padding, 1 usually out-of-vocabulary).
        sequence_length: fixed length, or ``None`` for any length.
        embedding_dim: width of the token embedding.
        units: recurrent units per direction; a list stacks one layer per entry.
        dropout: dropout on the recurrent layers' inputs and before the classifier.
        classes: number of classes.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        name: the model's name.
    """
    return _classifier("lstm", vocabulary_size, sequence_length, embedding_dim, units, True,
                       dropout, classes, classifier_activation, name)


@register(task="forecasting", input_kind="window")
def gru_forecaster(lookback=96, features=7, horizon=24, targets=None, units=64, bidirectional=False,
                   dropout=0.0, name="gru_forecaster"):
    """GRU forecaster: [batch, lookback, features] -> [batch, horizon, targets].

    Args:
        lookback: time steps in a window.
        features: channels in a window.
        horizon: time steps forecast.
        targets: channels forecast (default: ``features``, every channel).
        units: recurrent units; a list stacks one layer per entry.
        bidirectional: read the window both ways and concatenate.
        dropout: dropout on the recurrent layers' inputs.
        name: the model's name.
    """
    return _forecaster("gru", lookback, features, horizon, targets, units, bidirectional, dropout, name)

"""Autoencoders: dense, convolutional, linear (= PCA) and denoising.

Each builder returns ``keras.Model(inputs, decoder(encoder(inputs)))``; the
encoder and decoder are functional sub-models reachable as
``model.get_layer("encoder")`` and ``model.get_layer("decoder")``.
Input and output ``[batch, *input_shape]``; the code is ``[batch, latent_dim]``.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from zoo import _checks
from zoo.registry import register

OUTPUT_ACTIVATIONS = ("sigmoid", "linear")
HIDDEN_ACTIVATIONS = ("relu", "elu", "gelu", "tanh", "sigmoid", "leaky_relu")


def _assemble(encoder, decoder, input_shape, name, noise_stddev=0.0):
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if noise_stddev:
        # GaussianNoise acts only in training: the model learns to undo corruption
        # and reconstructs clean inputs at inference.
        x = layers.GaussianNoise(noise_stddev, name="corruption")(x)
    return keras.Model(inputs, decoder(encoder(x)), name=name)


def dense_stack(x, hidden_units, activation, prefix):
    """One Dense layer per entry of ``hidden_units``, named ``{prefix}_1``, ``{prefix}_2``, ..."""
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation=activation, name=f"{prefix}_{i}")(x)
    return x


def dense_encoder_trunk(input_shape, hidden_units, activation):
    """Encoder inputs and its last hidden features ``[batch, hidden_units[-1]]`` (flat input if none)."""
    inputs = keras.Input(shape=input_shape, name="encoder_inputs")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    return inputs, dense_stack(x, hidden_units, activation, "enc_dense")


def dense_decoder(latent_dim, input_shape, hidden_units, activation, output_activation, use_bias=True):
    """Code ``[batch, latent_dim]`` -> ``[batch, *input_shape]``, mirroring the dense encoder."""
    inputs = keras.Input(shape=(latent_dim,), name="decoder_inputs")
    x = dense_stack(inputs, hidden_units[::-1], activation, "dec_dense")
    x = layers.Dense(math.prod(input_shape), activation=output_activation, use_bias=use_bias,
                     name="reconstruction")(x)
    if len(input_shape) > 1:
        x = layers.Reshape(input_shape, name="unflatten")(x)
    return keras.Model(inputs, x, name="decoder")


def conv_encoder_trunk(input_shape, filters):
    """Encoder inputs and flat features after stride-2 convolutions, plus their spatial shape."""
    inputs = keras.Input(shape=input_shape, name="encoder_inputs")
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name=f"enc_conv_{i}")(x)
    return inputs, layers.Flatten(name="flatten")(x), tuple(x.shape[1:])


def conv_decoder(latent_dim, channels, feature_shape, filters, output_activation):
    """Code ``[batch, latent_dim]`` -> ``[batch, H, W, channels]`` by transposed convolutions."""
    inputs = keras.Input(shape=(latent_dim,), name="decoder_inputs")
    x = layers.Dense(math.prod(feature_shape), activation="relu", name="dec_dense")(inputs)
    x = layers.Reshape(feature_shape, name="unflatten")(x)
    for i, width in enumerate(reversed(filters), start=1):
        x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu",
                                   name=f"dec_deconv_{i}")(x)
    x = layers.Conv2D(channels, 3, padding="same", activation=output_activation, name="reconstruction")(x)
    return keras.Model(inputs, x, name="decoder")


def _dense_parts(input_shape, latent_dim, hidden_units, activation, output_activation, use_bias=True):
    inputs, features = dense_encoder_trunk(input_shape, hidden_units, activation)
    encoder = keras.Model(inputs, layers.Dense(latent_dim, use_bias=use_bias, name="code")(features),
                          name="encoder")
    return encoder, dense_decoder(latent_dim, input_shape, hidden_units, activation, output_activation,
                                   use_bias=use_bias)


def _check_common(input_shape, latent_dim, output_activation):
    input_shape = _checks.shape("input_shape", input_shape)
    _checks.positive_int("latent_dim", latent_dim)
    _checks.choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
    return input_shape


@register(task="autoencoder", input_kind="vector")
def dense_autoencoder(input_shape=(784,), latent_dim=32, hidden_units=(256, 128), activation="relu",
                      output_activation="sigmoid", name="dense_autoencoder"):
    """Dense autoencoder: ``[batch, *input_shape]`` -> code ``[batch, latent_dim]`` -> same shape."""
    input_shape = _check_common(input_shape, latent_dim, output_activation)
    hidden_units = _checks.int_list("hidden_units", hidden_units, allow_empty=True)
    _checks.choice("activation", activation, HIDDEN_ACTIVATIONS)
    encoder, decoder = _dense_parts(input_shape, latent_dim, hidden_units, activation, output_activation)
    return _assemble(encoder, decoder, input_shape, name)


@register(task="autoencoder", input_kind="vector")
def denoising_autoencoder(input_shape=(784,), latent_dim=32, hidden_units=(256, 128),
                          noise_stddev=0.2, activation="relu", output_activation="sigmoid",
                          name="denoising_autoencoder"):
    """Dense autoencoder trained on inputs corrupted by Gaussian noise (training only)."""
    input_shape = _check_common(input_shape, latent_dim, output_activation)
    hidden_units = _checks.int_list("hidden_units", hidden_units, allow_empty=True)
    _checks.choice("activation", activation, HIDDEN_ACTIVATIONS)
    _checks.positive_float("noise_stddev", noise_stddev)
    encoder, decoder = _dense_parts(input_shape, latent_dim, hidden_units, activation, output_activation)
    return _assemble(encoder, decoder, input_shape, name, noise_stddev=noise_stddev)


@register(task="autoencoder", input_kind="vector")
def linear_autoencoder(input_shape=(64,), latent_dim=10, name="linear_autoencoder"):
    """Linear autoencoder (no bias, no activation): on centred data it learns PCA's subspace.

    ``[batch, *input_shape]`` -> ``[batch, latent_dim]`` -> ``[batch, *input_shape]``. Minimising
    squared error, the decoder's columns span the top ``latent_dim`` principal
    components (Baldi & Hornik, 1989), though not the components themselves.
    """
    input_shape = _check_common(input_shape, latent_dim, "linear")
    encoder, decoder = _dense_parts(input_shape, latent_dim, (), None, "linear", use_bias=False)
    return _assemble(encoder, decoder, input_shape, name)


@register(task="autoencoder", input_kind="image")
def conv_autoencoder(input_shape=(28, 28, 1), latent_dim=16, filters=(32, 64),
                     output_activation="sigmoid", name="conv_autoencoder"):
    """Convolutional autoencoder: stride-2 convs down, a dense code, transposed convs up.

    ``[batch, H, W, C]`` -> ``[batch, latent_dim]`` -> ``[batch, H, W, C]``; H and W
    divisible by 2**len(filters).
    """
    input_shape = _check_common(input_shape, latent_dim, output_activation)
    filters = _checks.int_list("filters", filters)
    _checks.divisible_image("input_shape", input_shape, 2 ** len(filters))
    inputs, features, feature_shape = conv_encoder_trunk(input_shape, filters)
    encoder = keras.Model(inputs, layers.Dense(latent_dim, name="code")(features), name="encoder")
    decoder = conv_decoder(latent_dim, input_shape[-1], feature_shape, filters, output_activation)
    return _assemble(encoder, decoder, input_shape, name)

"""Variational autoencoder (Kingma & Welling, 2014).

    encoder:  x -> (z_mean, z_log_var)
    sampling: z = z_mean + exp(z_log_var / 2) * epsilon,  epsilon ~ N(0, I)
    decoder:  z -> reconstruction of x

The loss of one sample is the reconstruction error summed over its values
(binary cross-entropy for a sigmoid decoder, squared error for a linear one)
plus ``kl_weight`` times KL(q(z|x) || N(0, I)); the batch loss is its mean.
``fit`` logs ``loss = reconstruction_loss + kl_loss`` (``kl_loss`` is the
weighted KL term, and would include any weight penalties of a custom encoder
or decoder).

``VAE`` is a ``keras.Model`` subclass holding the functional encoder and
decoder. It overrides ``compute_loss`` rather than ``train_step``, so that
``fit(x)`` (no targets), ``evaluate``, callbacks and ``.keras`` saving work as
for any model, on any Keras backend.

    model = zoo.build("vae", input_shape=(28, 28, 1), latent_dim=2)
    model.compile(optimizer="adam")
    model.fit(images, epochs=30)              # images scaled to [0, 1]
    new_images = model.sample(16)             # decoded draws from the prior
"""

from __future__ import annotations

import keras
from keras import layers, ops

from zoo.errors import ArgumentError
from zoo import _checks
from zoo._replicas import per_replica
from zoo.autoencoder import (
    HIDDEN_ACTIVATIONS, conv_decoder, conv_encoder_trunk, dense_decoder, dense_encoder_trunk, dense_stack,
)
from zoo.layers import CompositeModel
from zoo.registry import register

RECONSTRUCTION_LOSSES = {"sigmoid": "binary_crossentropy", "linear": "mse"}


@keras.saving.register_keras_serializable(package="zoo")
class VariationalSampling(layers.Layer):
    """``[z_mean, z_log_var]`` -> a code ``z``; adds ``kl_weight`` x the batch-mean KL divergence as a loss.

    In training ``z`` is drawn with the reparameterisation trick, so gradients
    flow through ``z_mean`` and ``z_log_var``; at inference ``z = z_mean``, so
    reconstructions are deterministic.
    """

    def __init__(self, kl_weight=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.kl_weight = kl_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        z_mean, z_log_var = inputs
        mean32, log_var32 = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        kl = -0.5 * ops.sum(1.0 + log_var32 - ops.square(mean32) - ops.exp(log_var32), axis=-1)
        self.add_loss(self.kl_weight * ops.mean(kl))
        if not training:
            return z_mean
        epsilon = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class VAE(CompositeModel):
    """Encoder ``x -> [z_mean, z_log_var]`` and decoder ``z -> x``, trained with ``fit(x)``.

    ``model(x)`` returns the reconstruction of ``x`` (decoded from ``z_mean``
    at inference); ``model.sample(n)`` decodes ``n`` draws from the prior.
    ``fit(x, y)`` reconstructs ``y`` from ``x`` (a denoising VAE); ``fit(x)``
    reconstructs ``x``.
    """

    PARTS = ("encoder", "decoder")

    def __init__(self, encoder, decoder, kl_weight=1.0, reconstruction_loss="binary_crossentropy",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.reconstruction_loss = reconstruction_loss
        self.seed = seed
        self.sampling = VariationalSampling(kl_weight, seed=seed, name="sampling")
        self.prior_seed = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True  # the encoder and decoder are built functional models

    @property
    def latent_dim(self):
        return self.decoder.input_shape[-1]

    def call(self, inputs, training=False):
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sampling([z_mean, z_log_var], training=training)
        return self.decoder(z, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = ops.cast(x if y is None else y, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.reconstruction_loss == "binary_crossentropy":
            per_value = ops.binary_crossentropy(target, y_pred)
        else:
            per_value = ops.square(target - y_pred)
        per_sample = ops.sum(ops.reshape(per_value, (ops.shape(per_value)[0], -1)), axis=-1)
        reconstruction = ops.mean(per_sample)
        # self.losses holds the KL term added by the sampling layer, plus any weight penalties a
        # custom encoder or decoder brings (the built ones have none). A Python sum, because
        # ops.sum of a list fails on JAX tracers; on JAX only the model's own list is visible.
        regularization = sum(self.losses)
        # Weighted by batch size like Keras' own loss tracker, so the epoch means add up.
        batch_size = ops.cast(ops.shape(per_sample)[0], "float32")
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch_size)
        self.kl_tracker.update_state(regularization, sample_weight=batch_size)
        # Divided by the replica count, as Keras' own losses are under a distribution strategy
        # (Keras' loss tracker multiplies it back).
        return per_replica(reconstruction + regularization)

    def sample(self, n, seed=None):
        """Decode ``n`` codes drawn from the prior N(0, I): ``[n, *input_shape[1:]]`` as NumPy."""
        n = _checks.positive_int("n", n)
        z = keras.random.normal((n, self.latent_dim), seed=self.prior_seed if seed is None else seed)
        return ops.convert_to_numpy(self.decoder(z, training=False))

    def settings(self):
        return {"kl_weight": self.sampling.kl_weight, "reconstruction_loss": self.reconstruction_loss,
                "seed": self.seed}


@register(task="generative", input_kind="image")
def vae(input_shape=(28, 28, 1), latent_dim=2, filters=(32, 64), hidden_units=(16,), activation="relu",
        output_activation="sigmoid", kl_weight=1.0, seed=None, name="vae"):
    """Variational autoencoder: ``[batch, *input_shape]`` -> ``[batch, *input_shape]`` via a ``latent_dim`` code.

    ``(H, W, C)`` inputs get a convolutional encoder and decoder (stride-2
    ``filters``, H and W divisible by 2**len(filters)) with dense
    ``hidden_units`` before the code (cf. keras-io's VAE); flat ``(D,)``
    inputs get dense ``hidden_units`` only. ``output_activation="sigmoid"``
    (data in [0, 1]) trains with binary cross-entropy, ``"linear"`` with
    squared error.
    """
    input_shape = _checks.shape("input_shape", input_shape)
    _checks.positive_int("latent_dim", latent_dim)
    hidden_units = _checks.int_list("hidden_units", hidden_units, allow_empty=True)
    _checks.choice("activation", activation, HIDDEN_ACTIVATIONS)
    _checks.choice("output_activation", output_activation, tuple(RECONSTRUCTION_LOSSES))
    _checks.positive_float("kl_weight", kl_weight)
    _checks.seed(seed)
    filters = _checks.int_list("filters", filters)
    if len(input_shape) == 3:
        _checks.divisible_image("input_shape", input_shape, 2 ** len(filters))
        inputs, x, feature_shape = conv_encoder_trunk(input_shape, filters)
        x = dense_stack(x, hidden_units, activation, "enc_dense")
        decoder = conv_decoder(latent_dim, input_shape[-1], feature_shape, filters, output_activation)
    elif len(input_shape) == 1:
        inputs, x = dense_encoder_trunk(input_shape, hidden_units, activation)
        decoder = dense_decoder(latent_dim, input_shape, hidden_units, activation, output_activation)
    else:
        raise ArgumentError("input_shape", input_shape, "(H, W, C) images or (D,) vectors")
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")
    return VAE(encoder, decoder, kl_weight=kl_weight, reconstruction_loss=RECONSTRUCTION_LOSSES[output_activation],
               seed=seed, name=name)

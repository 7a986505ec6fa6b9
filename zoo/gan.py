"""Generative adversarial networks: DCGAN parts and a GAN model that trains with ``fit``.

The generator maps a latent code ``z ~ N(0, I)`` to an image in [-1, 1]
(tanh); the discriminator maps an image to one logit. ``GAN`` holds both and
alternates their updates in its own ``train_step``, with one of two losses:

- ``"non_saturating"`` (Goodfellow et al., 2014; DCGAN, Radford et al., 2016):
  the discriminator minimises ``-log D(x) - log(1 - D(G(z)))`` and the
  generator ``-log D(G(z))``, which keeps its gradients large early on.
- ``"wasserstein_gp"`` (WGAN-GP, Gulrajani et al., 2017): the critic minimises
  ``mean(D(G(z))) - mean(D(x))`` plus ``gradient_penalty_weight`` x
  ``(||grad D(x_hat)|| - 1)^2`` on random interpolates ``x_hat``, with
  ``critic_steps`` critic updates per generator update; the generator
  minimises ``-mean(D(G(z)))``. The critic has no batch norm, which the
  per-sample penalty requires.

With ``classes`` set the GAN is class-conditional (Mirza & Osindero, 2014):
the generator takes ``[z, label]`` and the discriminator ``[image, label]``.

    gan = zoo.build("dcgan", input_shape=(28, 28, 1), classes=10)
    gan.compile()                       # Adam(2e-4, beta_1=0.5) for both parts
    gan.fit(images, labels, epochs=20)  # images scaled to [-1, 1]
    grid = gan.sample(10, labels=range(10))

The builders use ``keras.layers`` only and build on any backend; the
``train_step`` uses ``tf.GradientTape``, so training needs the TensorFlow
backend.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo import _checks
from zoo._replicas import per_replica
from zoo.layers import CompositeModel
from zoo.registry import register

LOSSES = ("non_saturating", "wasserstein_gp")
# compile()'s default Adam for each loss: Radford et al. (DCGAN); Gulrajani et al., Algorithm 1 (WGAN-GP).
DEFAULT_ADAM = {"non_saturating": {"learning_rate": 2e-4, "beta_1": 0.5},
                "wasserstein_gp": {"learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9}}


def _check_classes(classes):
    if classes is not None:
        _checks.positive_int("classes", classes, minimum=2)


def _check_parts(image_shape, filters, classes, argument):
    image_shape = _checks.shape(argument, image_shape, rank=3)
    filters = _checks.int_list("filters", filters)
    _checks.divisible_image(argument, image_shape, 2 ** len(filters))
    _check_classes(classes)
    return image_shape, filters


@register(task="generative", input_kind="latent")
def dcgan_generator(latent_dim=128, output_shape=(28, 28, 1), filters=(128, 64), classes=None,
                    name="generator"):
    """DCGAN generator: ``z [batch, latent_dim]`` (and ``label [batch]``) -> images ``[batch, H, W, C]`` in [-1, 1].

    A dense projection to ``(H / 2**k, W / 2**k, filters[0])``, then ``k =
    len(filters)`` stride-2 transposed convolutions with batch norm and leaky
    ReLU; H and W divisible by 2**k (4 with the default two ``filters``).
    """
    _checks.positive_int("latent_dim", latent_dim)
    output_shape, filters = _check_parts(output_shape, filters, classes, "output_shape")
    height, width, channels = output_shape
    scale = 2 ** len(filters)
    z = keras.Input(shape=(latent_dim,), name="latent")
    inputs, x = [z], z
    if classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate(name="latent_and_label")(
            [z, layers.Embedding(classes, latent_dim, name="label_embedding")(label)])
    x = layers.Dense(height // scale * width // scale * filters[0], use_bias=False, name="projection")(x)
    x = layers.LeakyReLU(0.2, name="projection_lrelu")(layers.BatchNormalization(name="projection_bn")(x))
    x = layers.Reshape((height // scale, width // scale, filters[0]), name="reshape")(x)
    for i, width_ in enumerate(filters[1:], start=1):
        x = layers.Conv2DTranspose(width_, 4, strides=2, padding="same", use_bias=False, name=f"up{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"up{i}_lrelu")(layers.BatchNormalization(name=f"up{i}_bn")(x))
    images = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh",
                                    dtype="float32", name="image")(x)
    return keras.Model(inputs if classes is not None else z, images, name=name)


@register(task="generative", input_kind="image")
def dcgan_discriminator(input_shape=(28, 28, 1), filters=(64, 128), dropout=0.3, classes=None,
                        name="discriminator"):
    """DCGAN discriminator / WGAN critic: images ``[batch, H, W, C]`` (and ``label [batch]``) -> one logit ``[batch, 1]``.

    ``len(filters)`` stride-2 convolutions (no bias) with leaky ReLU and no batch
    norm (so it also serves as a WGAN-GP critic); H and W divisible by 2**len(filters).
    With ``classes``, an embedding of the label is appended as an extra channel.
    """
    input_shape, filters = _check_parts(input_shape, filters, classes, "input_shape")
    _checks.fraction("dropout", dropout)
    height, width, _ = input_shape
    image = keras.Input(shape=input_shape, name="image")
    inputs, x = [image], image
    if classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        label_plane = layers.Reshape((height, width, 1), name="label_plane")(
            layers.Embedding(classes, height * width, name="label_embedding")(label))
        x = layers.Concatenate(name="image_and_label")([image, label_plane])
    for i, width_ in enumerate(filters, start=1):
        # No bias: under the gradient penalty's second-order gradients TensorFlow's graph optimiser
        # fails to rewrite a fused BiasAdd + LeakyRelu and prints an error (training is unaffected).
        x = layers.Conv2D(width_, 4, strides=2, padding="same", use_bias=False, name=f"down{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
    x = layers.Dropout(dropout, name="dropout")(layers.Flatten(name="flatten")(x))
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs if classes is not None else image, logit, name=name)


def _loss_scaled(optimizer):
    """Wrap ``optimizer`` in a LossScaleOptimizer under ``mixed_float16``, as ``Model.compile`` does.

    float16 gradients of small losses underflow to zero; the wrapper scales the
    loss up before differentiation and the gradients back down before the update.
    """
    policy = keras.mixed_precision.dtype_policy()
    if policy.compute_dtype == "float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@keras.saving.register_keras_serializable(package="zoo")
class GAN(CompositeModel):
    """A generator and a discriminator trained against each other by ``fit``.

    ``model(z)`` (or ``model([z, labels])``) returns generated images;
    ``model.sample(n)`` draws ``z`` itself. ``fit(images)`` trains an
    unconditional GAN, ``fit(images, labels)`` a conditional one; images must
    be floats in [-1, 1], the range of the generator's tanh.
    """

    PARTS = ("generator", "discriminator")

    def __init__(self, generator, discriminator, loss="non_saturating", critic_steps=1,
                 gradient_penalty_weight=10.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.loss_name = loss
        self.critic_steps = critic_steps
        self.gradient_penalty_weight = gradient_penalty_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.built = True  # both parts are built functional models

    @property
    def conditional(self):
        return len(self.generator.inputs) == 2

    @property
    def latent_dim(self):
        return self.generator.inputs[0].shape[-1]

    @property
    def metrics(self):
        trackers = [self.discriminator_loss_tracker, self.generator_loss_tracker]
        return trackers + [self.penalty_tracker] if self.loss_name == "wasserstein_gp" else trackers

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def paper_adam(self) -> dict:
        """The papers' Adam settings for this GAN's loss (DCGAN: rate 2e-4, beta_1 0.5; WGAN-GP: rate 1e-4,
        betas 0 and 0.9): what ``compile`` uses when it is given no optimisers."""
        return dict(DEFAULT_ADAM[self.loss_name])

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Two optimisers; the defaults are the papers' Adam settings for the chosen loss (``paper_adam``)."""
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"GAN.train_step uses tf.GradientTape: set KERAS_BACKEND=tensorflow "
                               f"(the backend is {keras.backend.backend()!r}).")
        adam = self.paper_adam
        self.generator_optimizer = _loss_scaled(generator_optimizer or keras.optimizers.Adam(**adam))
        self.discriminator_optimizer = _loss_scaled(discriminator_optimizer or keras.optimizers.Adam(**adam))
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        # model.optimizer is the generator's, which callbacks such as ReduceLROnPlateau adjust.
        super().compile(optimizer=self.generator_optimizer, **kwargs)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {name: keras.saving.serialize_keras_object(getattr(self, name))
                for name in ("generator_optimizer", "discriminator_optimizer")}

    def compile_from_config(self, config):
        self.compile(**{name: keras.saving.deserialize_keras_object(value) for name, value in config.items()})

    def _labels(self, labels):
        if self.conditional and labels is None:
            raise ValueError("This GAN is class-conditional: call fit(images, labels).")
        if not self.conditional and labels is not None:
            raise ValueError("This GAN is not class-conditional: call fit(images) without labels, "
                             "or build it with classes=N.")
        return None if labels is None else ops.cast(ops.reshape(labels, (-1,)), "int32")

    def _generate(self, batch_size, labels, training):
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        return self.generator(z if labels is None else [z, labels], training=training)

    def _discriminate(self, images, labels, training):
        logits = self.discriminator(images if labels is None else [images, labels], training=training)
        return ops.cast(logits, "float32")

    def _discriminator_loss(self, real_logits, fake_logits):
        if self.loss_name == "non_saturating":
            # -log sigmoid(real) - log(1 - sigmoid(fake)), written stably with softplus.
            return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
        return ops.mean(fake_logits) - ops.mean(real_logits)

    def _generator_loss(self, fake_logits):
        if self.loss_name == "non_saturating":
            return ops.mean(ops.softplus(-fake_logits))  # -log D(G(z))
        return -ops.mean(fake_logits)

    def _with_penalty(self, d_loss, real, fake, labels):
        """WGAN-GP's critic loss adds the gradient penalty (and logs it); the non-saturating loss is as is."""
        if self.loss_name != "wasserstein_gp":
            return d_loss
        penalty = self._gradient_penalty(real, fake, labels)
        self.penalty_tracker.update_state(penalty)
        return d_loss + self.gradient_penalty_weight * penalty

    def _gradient_penalty(self, real, fake, labels):
        import tensorflow as tf

        alpha = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        mixed = real + alpha * (ops.cast(fake, real.dtype) - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            logits = self._discriminate(mixed, labels, training=True)
        gradients = tape.gradient(logits, mixed)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=(1, 2, 3)) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def train_step(self, data):
        import tensorflow as tf

        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = ops.cast(images, "float32")
        labels = self._labels(labels)
        batch_size = ops.shape(images)[0]
        # The critic sees the same real batch in each of its steps, as in keras-io's WGAN-GP.
        for _ in range(self.critic_steps):
            with tf.GradientTape() as tape:
                fake = self._generate(batch_size, labels, training=True)
                d_loss = self._discriminator_loss(self._discriminate(images, labels, training=True),
                                                  self._discriminate(fake, labels, training=True))
                d_loss = self._with_penalty(d_loss, images, fake, labels)
                scaled = self.discriminator_optimizer.scale_loss(per_replica(d_loss))
            weights = self.discriminator.trainable_variables
            self.discriminator_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        with tf.GradientTape() as tape:
            fake = self._generate(batch_size, labels, training=True)
            g_loss = self._generator_loss(self._discriminate(fake, labels, training=True))
            scaled = self.generator_optimizer.scale_loss(per_replica(g_loss))
        weights = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        self.discriminator_loss_tracker.update_state(d_loss)
        self.generator_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        """The same losses on a validation batch, without updates."""
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = ops.cast(images, "float32")
        labels = self._labels(labels)
        fake = self._generate(ops.shape(images)[0], labels, training=False)
        fake_logits = self._discriminate(fake, labels, training=False)
        d_loss = self._discriminator_loss(self._discriminate(images, labels, training=False), fake_logits)
        d_loss = self._with_penalty(d_loss, images, fake, labels)
        self.discriminator_loss_tracker.update_state(d_loss)
        self.generator_loss_tracker.update_state(self._generator_loss(fake_logits))
        return {metric.name: metric.result() for metric in self.metrics}

    def sample(self, n, labels=None, seed=None):
        """``n`` generated images ``[n, H, W, C]`` in [-1, 1] as NumPy; labels default to 0, 1, 2, ... cycled."""
        n = _checks.positive_int("n", n)
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator if seed is None else seed)
        if not self.conditional:
            if labels is not None:
                raise ValueError("labels were given but this GAN is not class-conditional.")
            return ops.convert_to_numpy(self.generator(z, training=False))
        classes = self.generator.get_layer("label_embedding").input_dim
        labels = np.arange(n) % classes if labels is None else np.asarray(list(labels))
        if labels.shape != (n,) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(f"labels={labels.tolist()!r} is invalid: expected {n} class ids in [0, {classes}).")
        labels = ops.convert_to_tensor(labels.astype("int32"))
        return ops.convert_to_numpy(self.generator([z, labels], training=False))

    def settings(self):
        return {"loss": self.loss_name, "critic_steps": self.critic_steps,
                "gradient_penalty_weight": self.gradient_penalty_weight, "seed": self.seed}


def _gan(input_shape, latent_dim, generator_filters, discriminator_filters, dropout, classes, loss,
         critic_steps, gradient_penalty_weight, seed, name):
    # Every argument is checked before either part is built, and errors name this builder's arguments.
    _checks.positive_int("latent_dim", latent_dim)
    input_shape = _checks.shape("input_shape", input_shape, rank=3)
    for argument, filters in (("generator_filters", generator_filters),
                              ("discriminator_filters", discriminator_filters)):
        _checks.divisible_image("input_shape", input_shape, 2 ** len(_checks.int_list(argument, filters)))
    _checks.fraction("dropout", dropout)
    _check_classes(classes)
    _checks.choice("loss", loss, LOSSES)
    _checks.positive_int("critic_steps", critic_steps)
    _checks.positive_float("gradient_penalty_weight", gradient_penalty_weight, allow_zero=True)
    _checks.seed(seed)
    generator = dcgan_generator(latent_dim, input_shape, generator_filters, classes)
    discriminator = dcgan_discriminator(input_shape, discriminator_filters, dropout, classes)
    return GAN(generator, discriminator, loss=loss, critic_steps=critic_steps,
               gradient_penalty_weight=gradient_penalty_weight, seed=seed, name=name)


@register(task="generative", input_kind="image")
def dcgan(input_shape=(28, 28, 1), latent_dim=128, generator_filters=(128, 64),
          discriminator_filters=(64, 128), dropout=0.3, classes=None, seed=None, name="dcgan"):
    """DCGAN with the non-saturating loss: ``z [batch, latent_dim]`` -> images ``[batch, *input_shape]``.

    ``input_shape`` ``(H, W, C)`` with H and W divisible by 4 (2**len(filters));
    ``classes=N`` makes it class-conditional (inputs ``[z, label]``).
    """
    return _gan(input_shape, latent_dim, generator_filters, discriminator_filters, dropout, classes,
                "non_saturating", 1, 0.0, seed, name)


@register(task="generative", input_kind="image")
def wgan_gp(input_shape=(28, 28, 1), latent_dim=128, generator_filters=(128, 64),
            discriminator_filters=(64, 128), classes=None, critic_steps=5, gradient_penalty_weight=10.0,
            seed=None, name="wgan_gp"):
    """WGAN-GP: the DCGAN parts trained with the Wasserstein loss and a gradient penalty.

    ``z [batch, latent_dim]`` -> images ``[batch, *input_shape]``; ``critic_steps``
    critic updates per generator update (5 in the paper), penalty weight 10.
    """
    return _gan(input_shape, latent_dim, generator_filters, discriminator_filters, 0.0, classes,
                "wasserstein_gp", critic_steps, gradient_penalty_weight, seed, name)

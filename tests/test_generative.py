"""The VAE and the GANs: reference sizes, one epoch on the embedded digits, save and reload."""

import keras
import numpy as np
import pytest
from keras import layers
from sklearn.datasets import load_digits

import zoo

DIGITS = load_digits()
IMAGES_01 = (DIGITS.images / 16.0).astype("float32")[..., None]  # [1797, 8, 8, 1] in [0, 1]
IMAGES_PM1 = IMAGES_01 * 2.0 - 1.0  # the generator's tanh range


def test_vae_matches_keras_io_example_sizes():
    """Defaults are keras-io's MNIST VAE: encoder 69,076 and decoder 65,089 parameters."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    reference_encoder = keras.Model(inputs, [layers.Dense(2)(x), layers.Dense(2)(x)])
    latent = keras.Input(shape=(2,))
    x = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(latent))
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    reference_decoder = keras.Model(latent, layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x))

    model = zoo.build("vae")
    assert model.encoder.count_params() == reference_encoder.count_params() == 69_076
    assert model.decoder.count_params() == reference_decoder.count_params() == 65_089
    assert model.count_params() == 134_165


def test_vae_loss_falls_in_one_epoch_on_digits():
    keras.utils.set_random_seed(0)
    model = zoo.build("vae", input_shape=(8, 8, 1), latent_dim=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(IMAGES_01, batch_size=64, verbose=0, return_dict=True)
    history = model.fit(IMAGES_01, epochs=1, batch_size=64, verbose=0)
    after = model.evaluate(IMAGES_01, batch_size=64, verbose=0, return_dict=True)
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(history.history)
    # Untrained, the decoder outputs about 0.5 everywhere: ~44 nats per image. Measured after: ~38.6.
    assert after["loss"] < 0.95 * before["loss"], (before, after)
    # kl_loss is the closed-form KL(N(mean, exp(log_var)) || N(0, I)), averaged over the images:
    # worked out here from the encoder's outputs (evaluate averages per batch of 64, hence rtol).
    z_mean, z_log_var = (np.asarray(t, dtype="float64") for t in model.encoder(IMAGES_01))
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(axis=1)
    np.testing.assert_allclose(after["kl_loss"], kl.mean(), rtol=2e-3)
    np.testing.assert_allclose(after["loss"], after["reconstruction_loss"] + after["kl_loss"], rtol=1e-4)

    samples = model.sample(5, seed=1)
    assert samples.shape == (5, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1


def test_vae_reconstruction_is_deterministic_at_inference_only():
    model = zoo.build("vae", input_shape=(16,), latent_dim=3, hidden_units=(8,), seed=0)
    x = np.random.default_rng(0).random((4, 16)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=True)))


@pytest.mark.parametrize("name, conditional", [
    ("dcgan", False), ("wgan_gp", False), ("dcgan", True), ("wgan_gp", True),
])
def test_gan_trains_one_epoch_on_digits(name, conditional, tmp_path):
    keras.utils.set_random_seed(0)
    kwargs = {"classes": 10} if conditional else {}
    model = zoo.build(name, input_shape=(8, 8, 1), latent_dim=32, seed=0, **kwargs)
    model.compile()
    generator_before = [w.numpy() for w in model.generator.weights]
    data = (IMAGES_PM1, DIGITS.target) if conditional else (IMAGES_PM1,)
    history = model.fit(*data, epochs=1, batch_size=64, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values()), history.history
    assert {"d_loss", "g_loss"} <= set(history.history)
    assert ("gradient_penalty" in history.history) == (name == "wgan_gp")
    assert any(not np.allclose(a, b) for a, b in zip(generator_before, model.generator.get_weights()))

    images = model.sample(10, seed=1)
    assert images.shape == (10, 8, 8, 1)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.01

    # A compiled GAN saves and reloads with both optimisers, safely.
    model.save(tmp_path / "gan.keras")
    reloaded = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    z = np.random.default_rng(0).normal(size=(3, 32)).astype("float32")
    inputs = [z, np.array([1, 2, 3], "int32")] if conditional else z
    np.testing.assert_array_equal(np.asarray(reloaded(inputs)), np.asarray(model(inputs)))
    assert reloaded.compiled and reloaded.loss_name == model.loss_name


def test_conditional_gan_sample_labels():
    model = zoo.build("dcgan", input_shape=(8, 8, 1), latent_dim=8, classes=3)
    assert model.sample(4, labels=[0, 1, 2, 0]).shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match=r"labels=\[0, 5\] is invalid"):
        model.sample(2, labels=[0, 5])


def test_gan_refuses_mismatched_labels():
    unconditional = zoo.build("dcgan", input_shape=(8, 8, 1), latent_dim=8)
    unconditional.compile()
    with pytest.raises(ValueError, match="not class-conditional"):
        unconditional.fit(IMAGES_PM1[:64], DIGITS.target[:64], epochs=1, verbose=0)
    conditional = zoo.build("dcgan", input_shape=(8, 8, 1), latent_dim=8, classes=10)
    conditional.compile()
    with pytest.raises(ValueError, match=r"call fit\(images, labels\)"):
        conditional.fit(IMAGES_PM1[:64], epochs=1, verbose=0)


@pytest.mark.parametrize("image_shape", [(12, 20, 3), (32, 32, 1), (4, 8, 2)])
def test_gan_parts_fit_any_shape_divisible_by_4(image_shape):
    generator = zoo.build("dcgan_generator", latent_dim=16, output_shape=image_shape)
    discriminator = zoo.build("dcgan_discriminator", input_shape=image_shape)
    assert generator.output_shape == (None, *image_shape)
    assert discriminator.output_shape == (None, 1)
    with pytest.raises(ValueError, match="^input_shape=.*divisible by 4"):
        zoo.build("dcgan", input_shape=(image_shape[0] + 2, image_shape[1], image_shape[2]))


# ------------------------------------------------- losses worked out by hand

def _linear_critic(weight_norm, shape=(2, 2, 1)):
    """A critic D(x) = w . x with ||w|| = weight_norm: its gradient is w everywhere."""
    image = keras.Input(shape=shape)
    logit = layers.Dense(1, use_bias=False, name="logit")(layers.Flatten()(image))
    critic = keras.Model(image, logit)
    size = int(np.prod(shape))
    critic.get_layer("logit").set_weights([np.full((size, 1), weight_norm / np.sqrt(size), "float32")])
    return critic


@pytest.mark.parametrize("weight_norm, penalty", [(1.0, 0.0), (2.0, 1.0), (3.0, 4.0)])
def test_gradient_penalty_of_a_linear_critic(weight_norm, penalty):
    """(||grad D|| - 1)^2 = (||w|| - 1)^2: 0 for a unit-norm critic; the penalty weight's unit for norm 2."""
    generator = zoo.build("dcgan_generator", latent_dim=4, output_shape=(4, 4, 1), filters=(8,))
    gan = zoo.gan.GAN(generator, _linear_critic(weight_norm, (4, 4, 1)), loss="wasserstein_gp")
    rng = np.random.default_rng(0)
    real, fake = (rng.normal(size=(5, 4, 4, 1)).astype("float32") for _ in range(2))
    value = float(gan._gradient_penalty(real, fake, None))
    assert value == pytest.approx(penalty, abs=1e-5)


def test_gan_losses_match_their_formulas():
    generator = zoo.build("dcgan_generator", latent_dim=4, output_shape=(4, 4, 1), filters=(8,))
    real = np.array([[2.0], [0.0]], "float32")
    fake = np.array([[-1.0], [1.0]], "float32")
    sigmoid = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    ns = zoo.gan.GAN(generator, _linear_critic(1.0, (4, 4, 1)), loss="non_saturating")
    expected_d = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake)))
    assert float(ns._discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-5)
    assert float(ns._generator_loss(fake)) == pytest.approx(-np.mean(np.log(sigmoid(fake))), rel=1e-5)
    wgan = zoo.gan.GAN(generator, _linear_critic(1.0, (4, 4, 1)), loss="wasserstein_gp")
    assert float(wgan._discriminator_loss(real, fake)) == pytest.approx(0.0 - 1.0)  # mean(fake) - mean(real)
    assert float(wgan._generator_loss(fake)) == pytest.approx(0.0)


def test_gan_under_mixed_float16_scales_its_losses():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = zoo.build("dcgan", input_shape=(8, 8, 1), latent_dim=8, seed=0)
        model.compile()
        assert isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.discriminator_optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(IMAGES_PM1[:128], epochs=1, batch_size=64, verbose=0)
        assert np.isfinite(history.history["g_loss"][-1])
    finally:
        keras.mixed_precision.set_global_policy("float32")

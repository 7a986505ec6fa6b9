"""Every registered builder, driven by the registry, plus the zoo's reference checks."""

import keras
import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import zoo
from zoo.errors import ArgumentError
from conftest import random_inputs

# Big ImageNet-size defaults are exercised at small sizes here; the exact
# 224x224 parameter counts are checked separately below.
SMALL = {name: {"input_shape": (32, 32, 3), "classes": 10} for name in zoo.names("resnet*")}


# Public functions of the family modules that are blocks of a builder, not builders.
BLOCKS = {"basic_block", "bottleneck_block", "conv_decoder", "conv_encoder_trunk", "dense_decoder",
          "dense_encoder_trunk", "dense_stack"}


@pytest.mark.parametrize("family", __import__("zoo.registry").registry.FAMILIES)
def test_the_registry_holds_every_builder_its_family_module_defines(family):
    """Every public function of a family module is registered under its name in that family, or is a named block
    (a builder that lost its @register would drop out of the CLI, the sweeps and these tests silently)."""
    import importlib
    import inspect

    module = importlib.import_module(f"zoo.{family}")
    defined = {name for name, function in inspect.getmembers(module, inspect.isfunction)
               if function.__module__ == module.__name__ and not name.startswith("_")}
    registered = set(zoo.names(family=family))
    assert defined - BLOCKS == registered
    assert all(zoo.entry(name).builder is getattr(module, name) for name in registered)


# resnet101 and resnet152 are resnet50's blocks, more of them: 45M and 60M parameters written and read back
# take 7-10 s each, so they run in the slow tier.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("resnet101", "resnet152") else n
                                  for n in zoo.names()])
def test_builds_runs_saves_and_reloads(name, tmp_path):
    model = zoo.build(name, **SMALL.get(name, {}))
    assert isinstance(model, keras.Model) and not model.compiled
    assert zoo.entry(name).builder.__doc__, f"{name} has no docstring"
    x = random_inputs(model)
    y = np.asarray(model(x, training=False))
    assert y.shape[0] == 3 and np.isfinite(y).all()
    model.save(tmp_path / f"{name}.keras")
    reloaded = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(reloaded(x, training=False)), y)


@pytest.mark.parametrize("name, application", [
    ("resnet50", keras.applications.ResNet50),
    ("resnet101", keras.applications.ResNet101),
    ("resnet152", keras.applications.ResNet152),
])
def test_bottleneck_resnets_match_keras_applications_exactly(name, application):
    ours = zoo.build(name, input_shape=(224, 224, 3), classes=1000).count_params()
    assert ours == application(weights=None).count_params()
    if name == "resnet50":
        assert ours == 25_636_712


@pytest.mark.parametrize("name, published", [("resnet18", 11_689_512), ("resnet34", 21_797_672)])
def test_basic_block_resnets_match_published_counts(name, published):
    model = zoo.build(name)
    assert abs(model.count_params() - published) / published < 0.001
    # The paper's figures count learned parameters only: those match exactly.
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == published


def test_resnet_small_input_stem():
    model = zoo.build("resnet18", input_shape=(28, 28, 1), classes=10, small_inputs=True)
    assert model.output_shape == (None, 10)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    with pytest.raises(ValueError, match="small_inputs=True"):
        zoo.build("resnet18", input_shape=(28, 28, 1))


def test_linear_autoencoder_learns_pca_subspace():
    digits = load_digits().data / 16.0
    x = (digits - digits.mean(axis=0)).astype("float32")
    pca = PCA(10).fit(x)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2)

    keras.utils.set_random_seed(0)
    model = zoo.build("linear_autoencoder", input_shape=(64,), latent_dim=10)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", steps_per_execution=16)
    schedule = keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=5, min_lr=1e-6)
    model.fit(x, x, epochs=150, batch_size=32, verbose=0, callbacks=[schedule])
    ae_mse = np.mean((np.asarray(model(x)) - x) ** 2)
    assert ae_mse <= pca_mse * 1.01, (ae_mse, pca_mse)

    decoder_columns = model.get_layer("decoder").get_layer("reconstruction").kernel.numpy().T
    angles = np.degrees(subspace_angles(decoder_columns, pca.components_.T))
    assert angles.max() < 5, angles


def test_denoising_noise_only_in_training():
    model = zoo.build("denoising_autoencoder", input_shape=(16,), latent_dim=4, hidden_units=(8,))
    x = np.ones((2, 16), "float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=True)))


def test_autoencoder_parts_are_reachable():
    model = zoo.build("conv_autoencoder", input_shape=(28, 28, 1), latent_dim=8)
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert encoder.output_shape == (None, 8)
    assert decoder.output_shape == (None, 28, 28, 1)


def test_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
    y = np.array([0, 1, 1, 0])
    keras.utils.set_random_seed(1)
    model = zoo.build("mlp", input_shape=(2,), classes=2, depth=1, width=8, activation="tanh",
                      initializer="glorot")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  steps_per_execution=25)
    # 300 full-batch steps: the four points 100 times over, in order, as 3 epochs (not 300 epochs' overhead).
    model.fit(np.tile(x, (100, 1)), np.tile(y, 100), epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert (np.asarray(model(x)).argmax(-1) == y).all()


@pytest.mark.parametrize("name, kwargs, shape", [
    ("lstm_forecaster", {"lookback": 24, "features": 3, "horizon": 6, "targets": 1, "units": [8, 4]},
     (None, 6, 1)),
    ("gru_forecaster", {"lookback": 24, "features": 3, "horizon": 6, "targets": 3, "bidirectional": True},
     (None, 6, 3)),
    ("dlinear", {"lookback": 48, "features": 3, "horizon": 12}, (None, 12, 3)),
    ("tcn_forecaster", {"lookback": 48, "features": 3, "horizon": 12}, (None, 12, 3)),
    ("gru", {"units": [16, 8], "bidirectional": True, "classes": 5}, (None, 5)),
])
def test_sequence_output_shapes(name, kwargs, shape):
    assert zoo.build(name, **kwargs).output_shape == shape


def test_recurrent_classifier_masks_padding():
    model = zoo.build("lstm", vocabulary_size=50, units=8)
    tokens = np.array([[5, 7, 9, 0, 0, 0]], "int32")
    shorter = np.array([[5, 7, 9]], "int32")
    np.testing.assert_allclose(np.asarray(model(tokens)), np.asarray(model(shorter)), rtol=1e-5)


def test_channel_independent_patch_transformer():
    model = zoo.build("patch_transformer_forecaster", lookback=32, features=3, horizon=8, patch_length=8,
                      channel_independent=True)
    x = np.random.default_rng(0).normal(size=(2, 32, 3)).astype("float32")
    y = np.asarray(model(x))
    assert y.shape == (2, 8, 3)
    shifted = x.copy()
    shifted[:, :, 1] += 5.0
    y_shifted = np.asarray(model(shifted))
    # Each channel's forecast depends on that channel only, through weights shared by all channels.
    np.testing.assert_array_equal(y_shifted[..., [0, 2]], y[..., [0, 2]])
    assert not np.allclose(y_shifted[..., 1], y[..., 1])
    np.testing.assert_allclose(np.asarray(model(x[..., ::-1])), y[..., ::-1], rtol=1e-5, atol=1e-6)
    wider = zoo.build("patch_transformer_forecaster", lookback=32, features=21, horizon=8, patch_length=8,
                      channel_independent=True)
    assert wider.count_params() == model.count_params()


def test_overlapping_patches_end_at_the_last_step():
    from zoo.layers import Patches

    steps = np.arange(20, dtype="float32")[None, None, :]  # [batch, channel, time]
    patches = np.asarray(Patches(6, 4)(steps))[0, 0]
    # (20 - 6) // 4 + 1 = 4 patches, 4 steps apart, the last one ending at step 19; steps 0-1 left out.
    np.testing.assert_array_equal(patches[:, 0], [2, 6, 10, 14])
    np.testing.assert_array_equal(patches[-1], np.arange(14, 20))
    model = zoo.build("patch_transformer_forecaster", lookback=336, features=7, horizon=96, patch_length=16,
                      stride=8, channel_independent=True, num_blocks=3, num_heads=4, embedding_dim=16, ff_dim=128,
                      dropout=0.3)
    assert model.get_layer("patches").output.shape[1:] == (7, 41, 16)  # PatchTST's 42 with its end padding
    with pytest.raises(ArgumentError, match="or a stride"):
        zoo.build("patch_transformer_forecaster", lookback=100, patch_length=16)
    shared = zoo.build("patch_transformer_forecaster", lookback=100, features=2, horizon=8, patch_length=16, stride=8)
    assert shared.output.shape[1:] == (8, 2)


def test_itransformer_parameters_and_variate_order():
    model = zoo.build("itransformer_forecaster", lookback=96, features=7, horizon=24)
    block = 4 * (256 * 256 + 256) + 2 * 256 + 2 * (256 * 256 + 256) + 2 * 256  # attention, norms, feed-forward
    # The paper's code: Linear(96 -> 256), 2 blocks, LayerNorm, Linear(256 -> 24) per variate.
    assert model.count_params() == (96 * 256 + 256) + 2 * block + 2 * 256 + (256 * 24 + 24)
    x = np.random.default_rng(0).normal(size=(2, 96, 7)).astype("float32")
    order = [3, 1, 0, 2, 6, 5, 4]  # the variates are a set: reordering them reorders the forecasts only
    np.testing.assert_allclose(np.asarray(model(x[..., order])), np.asarray(model(x))[..., order],
                               rtol=1e-4, atol=1e-5)
    assert zoo.build("itransformer_forecaster", lookback=96, features=7, horizon=24, targets=2).output.shape[1:] \
        == (24, 2)


@pytest.mark.parametrize("name, kwargs, expected", [
    # Embedding 20000x64 + a BiLSTM (2 directions x 4 gates x (64 + 64 + 1) x 64) + Dense 128 -> 2.
    ("bilstm", {}, 20_000 * 64 + 2 * 4 * (64 + 64 + 1) * 64 + 128 * 2 + 2),
    # Embedding + Conv1D 3/4/5 x 64 -> 128 filters + Dense 384 -> 2.
    ("conv1d_classifier", {}, 20_000 * 64 + sum(k * 64 * 128 + 128 for k in (3, 4, 5)) + 3 * 128 * 2 + 2),
    # Multinomial logistic regression on 20000 n-gram weights; with a hidden layer of 64.
    ("bag_of_ngrams", {}, 20_000 * 2 + 2),
    ("bag_of_ngrams", {"depth": 1}, 20_000 * 64 + 64 + 64 * 2 + 2),
])
def test_text_classifier_parameter_counts(name, kwargs, expected):
    assert zoo.build(name, **kwargs).count_params() == expected


def test_text_classifiers_match_hand_built_keras_references():
    """The same layers written out with plain Keras give the same parameter counts."""
    import keras
    from keras import layers

    inputs = keras.Input((None,), dtype="int32")
    x = layers.Embedding(20_000, 64)(inputs)
    reference = keras.Model(inputs, layers.Dense(2)(layers.Bidirectional(layers.LSTM(64))(x)))
    assert zoo.build("bilstm").count_params() == reference.count_params()
    pooled = [layers.GlobalMaxPooling1D()(layers.Conv1D(128, k)(x)) for k in (3, 4, 5)]
    reference = keras.Model(inputs, layers.Dense(2)(layers.Concatenate()(pooled)))
    assert zoo.build("conv1d_classifier").count_params() == reference.count_params()

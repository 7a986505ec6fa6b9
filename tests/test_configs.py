"""Random builder configurations drawn by hypothesis.

Valid configurations build, run a forward pass and give the promised output
shape; a valid configuration with one argument replaced by an invalid value
raises ``ValueError`` whose message starts with that argument's name.
"""

import math
import os

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zoo
from conftest import random_inputs
from zoo.autoencoder import HIDDEN_ACTIVATIONS
from zoo.mlp import ACTIVATIONS, BATCH_NORM, INITIALIZERS

ints = st.integers
dropouts = st.floats(0.0, 0.9)
heads = st.sampled_from(["softmax", "sigmoid", "linear", None])


def int_lists(low, high, min_size=1, max_size=3, unique=False):
    return st.lists(ints(low, high), min_size=min_size, max_size=max_size, unique=unique)


@st.composite
def images(draw, divisible_by=1, low=1, high=32, channels=3):
    """(H, W, C) with H, W multiples of ``divisible_by`` in [low, high]."""
    multiples = ints(max(1, math.ceil(low / divisible_by)), max(1, high // divisible_by))
    return (draw(multiples) * divisible_by, draw(multiples) * divisible_by, draw(ints(1, channels)))


def classifier_args(draw, classes_low=2):
    return {"classes": draw(ints(classes_low, 10)),
            "classifier_activation": draw(st.sampled_from(["softmax", "sigmoid", "linear", None]))}


def top_args(draw):
    return {**classifier_args(draw), "include_top": draw(st.booleans()),
            "pooling": draw(st.sampled_from([None, "avg", "max"]))}


def window_args(draw, lookback_multiple=1):
    return {"lookback": draw(ints(1, 6)) * lookback_multiple if lookback_multiple > 1 else draw(ints(1, 24)),
            "features": draw(ints(1, 4)), "horizon": draw(ints(1, 8))}


def expected_classifier(kwargs):
    return (2, kwargs["classes"]) if kwargs.get("include_top", True) else None


def expected_forecast(kwargs):
    return (2, kwargs["horizon"], kwargs.get("targets") or kwargs["features"])


@st.composite
def mlp(draw):
    return {"input_shape": draw(st.one_of(st.tuples(ints(1, 16)), st.tuples(ints(1, 5), ints(1, 5)))),
            **classifier_args(draw), "depth": draw(ints(0, 3)), "width": draw(ints(1, 16)),
            "activation": draw(st.sampled_from(ACTIVATIONS)),
            "initializer": draw(st.sampled_from(list(INITIALIZERS))), "dropout": draw(dropouts),
            "batch_norm": draw(st.sampled_from(BATCH_NORM)), "l1": draw(st.floats(0, 0.01)),
            "l2": draw(st.floats(0, 0.01))}


@st.composite
def convnet(draw):
    filters = draw(int_lists(1, 8, max_size=2))
    padding = draw(st.sampled_from(["same", "valid"]))
    size = 1
    for _ in filters:
        size = size * 2 + (2 if padding == "valid" else 0)
    return {"input_shape": draw(images(low=size, high=size + 8)), "filters": filters, "padding": padding,
            "dropout": draw(dropouts), **top_args(draw)}


@st.composite
def vgg(draw):
    blocks = draw(int_lists(1, 8, max_size=3))
    return {"input_shape": draw(images(low=2 ** len(blocks), high=16)), "block_filters": blocks,
            "convs_per_block": draw(ints(1, 2)), "batch_norm": draw(st.booleans()),
            "spatial_dropout": draw(dropouts), "dropout": draw(dropouts), **top_args(draw)}


@st.composite
def resnet18(draw):
    return {"input_shape": draw(images(low=8, high=24)), "small_inputs": True, **top_args(draw)}


@st.composite
def text_classifier(draw):
    return {"vocabulary_size": draw(ints(2, 60)), "sequence_length": draw(st.one_of(st.none(), ints(1, 12))),
            "embedding_dim": draw(ints(1, 8)), "units": draw(st.one_of(ints(1, 6), int_lists(1, 6))),
            "bidirectional": draw(st.booleans()), "dropout": draw(dropouts), **classifier_args(draw)}


@st.composite
def bilstm(draw):
    kwargs = draw(text_classifier())
    del kwargs["bidirectional"]
    return kwargs


@st.composite
def conv1d_classifier(draw):
    kernel_sizes = draw(int_lists(1, 4, unique=True))  # one branch per width
    return {"vocabulary_size": draw(ints(2, 60)),
            "sequence_length": draw(st.one_of(st.none(), ints(max(kernel_sizes), 12))),
            "embedding_dim": draw(ints(1, 8)), "filters": draw(ints(1, 8)), "kernel_sizes": kernel_sizes,
            "dropout": draw(dropouts), **classifier_args(draw)}


@st.composite
def bag_of_ngrams(draw):
    return {"input_shape": draw(st.tuples(ints(1, 32))), "depth": draw(ints(0, 2)), "width": draw(ints(1, 16)),
            "dropout": draw(dropouts), "l2": draw(st.floats(0, 0.01)), **classifier_args(draw)}


@st.composite
def recurrent_forecaster(draw):
    return {**window_args(draw), "targets": draw(ints(1, 4)),
            "units": draw(st.one_of(ints(1, 6), int_lists(1, 6))), "bidirectional": draw(st.booleans()),
            "dropout": draw(dropouts)}


@st.composite
def dlinear(draw):
    kwargs = window_args(draw)
    return {**kwargs, "moving_average": draw(ints(1, kwargs["lookback"])),
            "targets": draw(st.one_of(st.none(), ints(1, 4)))}


@st.composite
def mlp_forecaster(draw):
    return {**window_args(draw), "targets": draw(st.one_of(st.none(), ints(1, 4))),
            "hidden_units": draw(int_lists(1, 16, min_size=0)), "dropout": draw(dropouts)}


@st.composite
def tcn_forecaster(draw):
    return {**window_args(draw), "targets": draw(st.one_of(st.none(), ints(1, 4))), "filters": draw(ints(1, 8)),
            "kernel_size": draw(ints(2, 4)), "dilations": draw(int_lists(1, 8)), "dropout": draw(dropouts)}


def encoder_args(draw):
    num_heads = draw(ints(1, 3))
    return {"num_heads": num_heads, "embedding_dim": num_heads * draw(ints(1, 4)), "ff_dim": draw(ints(1, 16)),
            "num_blocks": draw(ints(1, 2)), "dropout": draw(dropouts)}


@st.composite
def transformer_classifier(draw):
    return {"vocabulary_size": draw(ints(2, 60)), "sequence_length": draw(ints(1, 12)), **encoder_args(draw),
            **classifier_args(draw)}


@st.composite
def patch_transformer_forecaster(draw):
    patch_length = draw(ints(1, 6))
    stride = draw(st.one_of(st.none(), ints(1, 6)))
    window = window_args(draw, lookback_multiple=patch_length) if stride is None else {
        **window_args(draw), "lookback": patch_length + draw(ints(0, 12))}
    return {**window, "patch_length": patch_length, "stride": stride,
            **encoder_args(draw), "channel_independent": draw(st.booleans()),
            "targets": draw(st.one_of(st.none(), ints(1, 4)))}


@st.composite
def itransformer_forecaster(draw):
    return {**window_args(draw), **encoder_args(draw), "targets": draw(st.one_of(st.none(), ints(1, 4)))}


@st.composite
def graph_args(draw):
    return {"features": draw(ints(1, 12)), "hidden_units": draw(ints(1, 8)), "dropout": draw(dropouts),
            "l2": draw(st.sampled_from([0.0, 5e-4])), **classifier_args(draw)}


@st.composite
def gat(draw):
    return {**draw(graph_args()), "heads": draw(ints(1, 3)), "output_heads": draw(ints(1, 2))}


@st.composite
def dense_autoencoder(draw):
    return {"input_shape": draw(st.tuples(ints(1, 32))), "latent_dim": draw(ints(1, 8)),
            "hidden_units": draw(int_lists(1, 16, min_size=0)),
            "activation": draw(st.sampled_from(HIDDEN_ACTIVATIONS)),
            "output_activation": draw(st.sampled_from(["sigmoid", "linear"]))}


@st.composite
def denoising_autoencoder(draw):
    return {**draw(dense_autoencoder()), "noise_stddev": draw(st.floats(0.01, 1.0))}


@st.composite
def conv_autoencoder(draw):
    filters = draw(int_lists(1, 8))
    return {"input_shape": draw(images(divisible_by=2 ** len(filters), high=32)), "filters": filters,
            "latent_dim": draw(ints(1, 8)), "output_activation": draw(st.sampled_from(["sigmoid", "linear"]))}


@st.composite
def vae(draw):
    filters = draw(int_lists(1, 8, max_size=2))
    shape = draw(st.one_of(images(divisible_by=2 ** len(filters), high=16), st.tuples(ints(1, 32))))
    return {"input_shape": shape, "filters": filters, "latent_dim": draw(ints(1, 4)),
            "hidden_units": draw(int_lists(1, 16, min_size=0, max_size=2)),
            "activation": draw(st.sampled_from(HIDDEN_ACTIVATIONS)),
            "output_activation": draw(st.sampled_from(["sigmoid", "linear"])),
            "kl_weight": draw(st.floats(0.01, 2.0)), "seed": draw(st.one_of(st.none(), ints(0, 99)))}


@st.composite
def gan_args(draw):
    generator_filters = draw(int_lists(1, 8, max_size=2))
    discriminator_filters = draw(int_lists(1, 8, max_size=2))
    scale = 2 ** max(len(generator_filters), len(discriminator_filters))
    return {"input_shape": draw(images(divisible_by=scale, high=16)), "latent_dim": draw(ints(1, 16)),
            "generator_filters": generator_filters, "discriminator_filters": discriminator_filters,
            "classes": draw(st.one_of(st.none(), ints(2, 5))), "seed": draw(st.one_of(st.none(), ints(0, 99)))}


@st.composite
def dcgan(draw):
    return {**draw(gan_args()), "dropout": draw(dropouts)}


@st.composite
def wgan_gp(draw):
    return {**draw(gan_args()), "critic_steps": draw(ints(1, 5)),
            "gradient_penalty_weight": draw(st.floats(0.0, 20.0))}


@st.composite
def perceptron(draw):
    return {"input_shape": (draw(ints(1, 16)),), "output": draw(st.sampled_from(["sign", "step"])),
            "learning_rate": draw(st.floats(0.01, 2.0))}


def generated(kwargs):
    return (2, *kwargs["input_shape"])


# builder name -> (strategy for valid keyword arguments, the output shape they promise or None)
SPACES = {
    "mlp": (mlp(), expected_classifier),
    "convnet": (convnet(), expected_classifier),
    "vgg": (vgg(), expected_classifier),
    "resnet18": (resnet18(), expected_classifier),
    "lstm": (text_classifier(), expected_classifier),
    "gru": (text_classifier(), expected_classifier),
    "simple_rnn": (text_classifier(), expected_classifier),
    "bilstm": (bilstm(), expected_classifier),
    "conv1d_classifier": (conv1d_classifier(), expected_classifier),
    "bag_of_ngrams": (bag_of_ngrams(), expected_classifier),
    "lstm_forecaster": (recurrent_forecaster(), expected_forecast),
    "gru_forecaster": (recurrent_forecaster(), expected_forecast),
    "simple_rnn_forecaster": (recurrent_forecaster(), expected_forecast),
    "dlinear": (dlinear(), expected_forecast),
    "mlp_forecaster": (mlp_forecaster(), expected_forecast),
    "tcn_forecaster": (tcn_forecaster(), expected_forecast),
    "transformer_classifier": (transformer_classifier(), expected_classifier),
    "patch_transformer_forecaster": (patch_transformer_forecaster(), expected_forecast),
    "itransformer_forecaster": (itransformer_forecaster(), expected_forecast),
    "dense_autoencoder": (dense_autoencoder(), lambda kw: (2, *kw["input_shape"])),
    "denoising_autoencoder": (denoising_autoencoder(), lambda kw: (2, *kw["input_shape"])),
    "conv_autoencoder": (conv_autoencoder(), lambda kw: (2, *kw["input_shape"])),
    "vae": (vae(), lambda kw: (2, *kw["input_shape"])),
    "dcgan": (dcgan(), generated),
    "wgan_gp": (wgan_gp(), generated),
    "perceptron": (perceptron(), lambda kw: (2, 1)),
    "gcn": (graph_args(), lambda kw: (2, kw["classes"])),  # 2 nodes
    "gat": (gat(), lambda kw: (2, kw["classes"])),
    "graphsage": (graph_args(), lambda kw: (2, kw["classes"])),
}

# Values that are wrong for every argument of a kind.
NAN, INF = float("nan"), float("inf")
BAD = {
    "int": [0, -3, 2.5, "8", True, None],
    "int_or_zero": [-1, 2.5, "8", True, None],
    "int_or_none": [0, -3, 2.5, "8", True],
    "fraction": [-0.1, 1.0, 1.5, NAN, "0.1", True, None],
    "float_or_zero": [-0.01, NAN, INF, "0", True, None],
    "float": [0.0, -1.0, NAN, INF, "1", True, None],
    "flag": [1, 0, "yes", None],
    "choice": ["bogus", 3, ("relu",)],
    "shape": [(), (0, 4), (8.5, 8, 1), "28x28", -1, None, (True, 8, 1)],
    "int_list": [(), [0], [-3, 4], "64", [2.5], None],
    "int_list_or_empty": [[0], [-3, 4], "64", [2.5], None],
    "classes_or_none": [1, 0, -2, 2.5, "10"],
    "seed": [-1, 2.5, "0"],
}

TOP = {"classes": "int", "classifier_activation": "choice", "include_top": "flag", "pooling": "choice"}
CLASSIFIER = {"classes": "int", "classifier_activation": "choice"}
TEXT = {"vocabulary_size": "int", "sequence_length": "int_or_none", "embedding_dim": "int", "units": "int_list",
        "bidirectional": "flag", "dropout": "fraction", **CLASSIFIER}
WINDOW = {"lookback": "int", "features": "int", "horizon": "int"}
RECURRENT_FORECASTER = {**WINDOW, "targets": "int_or_none", "units": "int_list", "bidirectional": "flag",
                        "dropout": "fraction"}
ENCODER = {"num_heads": "int", "embedding_dim": "int", "ff_dim": "int", "num_blocks": "int", "dropout": "fraction"}
DENSE_AE = {"input_shape": "shape", "latent_dim": "int", "hidden_units": "int_list_or_empty",
            "activation": "choice", "output_activation": "choice"}
GAN = {"input_shape": "shape", "latent_dim": "int", "generator_filters": "int_list",
       "discriminator_filters": "int_list", "classes": "classes_or_none", "seed": "seed"}

# builder name -> {argument: kind}
KINDS = {
    "mlp": {"input_shape": "shape", "depth": "int_or_zero", "width": "int", "activation": "choice",
            "initializer": "choice", "dropout": "fraction", "batch_norm": "choice", "l1": "float_or_zero",
            "l2": "float_or_zero", **CLASSIFIER},
    "convnet": {"input_shape": "shape", "filters": "int_list", "padding": "choice", "dropout": "fraction", **TOP},
    "vgg": {"input_shape": "shape", "block_filters": "int_list", "convs_per_block": "int", "batch_norm": "flag",
            "spatial_dropout": "fraction", "dropout": "fraction", **TOP},
    "resnet18": {"input_shape": "shape", "small_inputs": "flag", **TOP},
    "lstm": TEXT, "gru": TEXT, "simple_rnn": TEXT,
    "bilstm": {k: v for k, v in TEXT.items() if k != "bidirectional"},
    "conv1d_classifier": {"vocabulary_size": "int", "sequence_length": "int_or_none", "embedding_dim": "int",
                          "filters": "int", "kernel_sizes": "int_list", "dropout": "fraction", **CLASSIFIER},
    "bag_of_ngrams": {"input_shape": "shape", "depth": "int_or_zero", "width": "int", "dropout": "fraction",
                      "l2": "float_or_zero", **CLASSIFIER},
    "lstm_forecaster": RECURRENT_FORECASTER, "gru_forecaster": RECURRENT_FORECASTER,
    "simple_rnn_forecaster": RECURRENT_FORECASTER,
    "dlinear": {**WINDOW, "targets": "int_or_none", "moving_average": "int"},
    "mlp_forecaster": {**WINDOW, "targets": "int_or_none", "hidden_units": "int_list_or_empty", "dropout": "fraction"},
    "tcn_forecaster": {**WINDOW, "targets": "int_or_none", "filters": "int", "kernel_size": "int",
                       "dilations": "int_list", "dropout": "fraction"},
    "transformer_classifier": {"vocabulary_size": "int", "sequence_length": "int", **ENCODER, **CLASSIFIER},
    "patch_transformer_forecaster": {**WINDOW, "targets": "int_or_none", "patch_length": "int", **ENCODER,
                                     "channel_independent": "flag", "stride": "int_or_none"},
    "itransformer_forecaster": {**WINDOW, "targets": "int_or_none", **ENCODER},
    "dense_autoencoder": DENSE_AE,
    "denoising_autoencoder": {**DENSE_AE, "noise_stddev": "float"},
    "conv_autoencoder": {"input_shape": "shape", "latent_dim": "int", "filters": "int_list",
                         "output_activation": "choice"},
    "vae": {**DENSE_AE, "filters": "int_list", "kl_weight": "float", "seed": "seed"},
    "dcgan": {**GAN, "dropout": "fraction"},
    "wgan_gp": {**GAN, "critic_steps": "int", "gradient_penalty_weight": "float_or_zero"},
    "perceptron": {"input_shape": "shape", "output": "choice", "learning_rate": "float"},
    "gcn": {"features": "int", "hidden_units": "int", "dropout": "fraction", "l2": "float_or_zero", **CLASSIFIER},
    "gat": {"features": "int", "hidden_units": "int", "dropout": "fraction", "l2": "float_or_zero",
            "heads": "int", "output_heads": "int", **CLASSIFIER},
    "graphsage": {"features": "int", "hidden_units": "int", "dropout": "fraction", "l2": "float_or_zero",
                  **CLASSIFIER},
}

SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_spaces_cover_the_registry():
    """Every registered builder family is exercised; the ResNets share one builder (resnet18 stands in)."""
    assert set(SPACES) == set(KINDS)
    uncovered = set(zoo.names()) - set(SPACES)
    assert uncovered == {"lenet5", "linear_autoencoder", "mlp_regressor", "dcgan_generator",
                         "dcgan_discriminator", "resnet34", "resnet50", "resnet101", "resnet152"}


# One token (a single patch or position) attending to itself: Keras warns that the softmax is over one key.
@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
@SETTINGS
@given(st.sampled_from(sorted(SPACES)).flatmap(
    lambda name: st.tuples(st.just(name), SPACES[name][0])))
def test_valid_configurations_build_and_run(case):
    name, kwargs = case
    keras.backend.clear_session()
    model = zoo.build(name, **kwargs)
    x = random_inputs(model, batch=2, vocabulary_size=kwargs.get("vocabulary_size", 50))
    y = np.asarray(model(x, training=False))
    assert np.isfinite(y).all()
    expected = SPACES[name][1](kwargs)
    assert y.shape == expected if expected else y.shape[0] == 2


@SETTINGS
@given(st.data())
def test_invalid_configurations_name_the_argument(data):
    name = data.draw(st.sampled_from(sorted(KINDS)), label="builder")
    kwargs = data.draw(SPACES[name][0], label="valid kwargs")
    argument = data.draw(st.sampled_from(sorted(KINDS[name])), label="argument")
    if "include_top" in kwargs and argument in CLASSIFIER:
        kwargs["include_top"] = True  # classes and its activation are checked only with a top
    kwargs[argument] = data.draw(st.sampled_from(BAD[KINDS[name][argument]]), label="bad value")
    with pytest.raises(zoo.ArgumentError, match=rf"^{argument}=") as caught:
        zoo.build(name, **kwargs)
    assert caught.value.argument == argument and caught.value.value is kwargs[argument]


# Every (builder, argument, invalid value) of the hypothesis test above, exhaustively, from the
# builder's defaults (a valid configuration): the same contract without relying on sampling.
EXHAUSTIVE = [(name, argument, value) for name in sorted(KINDS) for argument, kind in sorted(KINDS[name].items())
              for value in BAD[kind]
              # with the defaults' shapes, a 1-entry shape or list is the only rank the default accepts
              if not (name == "perceptron" and argument == "input_shape" and value == -1)]


@pytest.mark.parametrize("name, argument, value", EXHAUSTIVE,
                         ids=[f"{n}-{a}-{v!r}" for n, a, v in EXHAUSTIVE])
def test_every_invalid_value_names_its_argument(name, argument, value):
    with pytest.raises(zoo.ArgumentError, match=rf"^{argument}=") as caught:
        zoo.build(name, **{argument: value})
    assert caught.value.argument == argument and caught.value.value is value and caught.value.allowed

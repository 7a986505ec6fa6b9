import keras
import pytest

import zoo


def test_names_and_pattern():
    assert {"perceptron", "mlp", "convnet", "lenet5"} <= set(zoo.names())
    assert zoo.names("conv*") == ["conv1d_classifier", "conv_autoencoder", "convnet"]
    assert zoo.names("resnet*") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]  # natural order
    assert zoo.names(task="forecasting", family="forecasting") == ["dlinear", "mlp_forecaster", "tcn_forecaster"]
    assert zoo.entry("lstm").input_kind == "tokens" and zoo.entry("lstm_forecaster").default_input_shape == (96, 7)
    assert zoo.names() == sorted(zoo.names(), key=zoo.registry.natural_key)


def test_build_returns_uncompiled_model():
    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)
    assert isinstance(model, keras.Model)
    assert not model.compiled
    assert model.output_shape == (None, 10)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model name 'convnett'.*Did you mean 'convnet'"):
        zoo.build("convnett")


@pytest.mark.parametrize("name, kwargs, message", [
    ("mlp", {"widht": 64}, r"^mlp takes no argument 'widht' \(did you mean 'width'\?\); its arguments: "
                           r"input_shape, classes, depth, width, "),
    # a forecaster's input is its window: Python's own TypeError named neither
    ("lstm_forecaster", {"input_shape": (96, 7)}, r"^lstm_forecaster takes no argument 'input_shape'; its arguments: "
                                                  r"lookback, features, horizon, targets, "),
])
def test_an_argument_the_builder_does_not_take_names_the_ones_it_does(name, kwargs, message):
    with pytest.raises(zoo.UnknownArgumentError, match=message) as caught:
        zoo.build(name, **kwargs)
    assert isinstance(caught.value, TypeError) and caught.value.argument in kwargs


def test_a_type_error_inside_a_builder_is_a_bug_not_a_model_arg_error(monkeypatch):
    """The kit turned every TypeError into '--model-arg: ...'; a bug inside a builder keeps its traceback."""
    import argparse

    from applications.kit.run import build_model
    from zoo import registry

    def broken(**kwargs):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    import dataclasses

    monkeypatch.setitem(registry._REGISTRY, "mlp", dataclasses.replace(registry.entry("mlp"), builder=broken))
    with pytest.raises(TypeError, match="unsupported operand"):
        build_model(argparse.Namespace(model="mlp", model_arg=[]), input_shape=(4,), classes=2)


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("convnet", task="image_classification", input_kind="image")(lambda: None)


def test_classic_mnist_convnet_matches_keras_io():
    """padding='valid' is keras-io's mnist_convnet layer for layer."""
    reference = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model = zoo.build("convnet", padding="valid")
    assert model.count_params() == reference.count_params() == 34_826


def test_lenet5_has_the_classic_parameter_count():
    assert zoo.build("lenet5").count_params() == 61_706


@pytest.mark.parametrize("name, kwargs, argument", [
    ("convnet", {"input_shape": (28, 28)}, "input_shape"),
    ("convnet", {"input_shape": (8, 8, 1), "padding": "valid"}, "input_shape"),
    ("convnet", {"classes": 0}, "classes"),
    ("convnet", {"dropout": 1.5}, "dropout"),
    ("convnet", {"padding": "full"}, "padding"),
    ("lenet5", {"input_shape": (8, 8, 1)}, "input_shape"),
    ("mlp", {"activation": "swishy"}, "activation"),
    ("mlp", {"depth": -1}, "depth"),
    ("mlp", {"classes": 1, "classifier_activation": "softmax"}, "classes"),
    ("perceptron", {"input_shape": (0,)}, "input_shape"),
    ("perceptron", {"learning_rate": -1.0}, "learning_rate"),
])
def test_invalid_arguments_name_the_argument(name, kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}="):
        zoo.build(name, **kwargs)


def test_a_builder_outside_the_family_modules_is_refused():
    """The family is the module that defines a builder: one defined elsewhere has none to take."""
    with pytest.raises(ValueError, match="is defined in test_registry, not in a family module of the zoo"):
        zoo.register("stray_builder", task="classification", input_kind="vector")(lambda: None)

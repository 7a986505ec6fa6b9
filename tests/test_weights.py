"""zoo weights=: layers matched by name (or Keras' position keys), heads of other shapes left new, ImageNet offline."""

import h5py
import keras
import numpy as np
import pytest

import zoo
from zoo.weights import WeightsError


def test_keras_applications_resnet50_weights_load_into_the_zoos_resnet50(tmp_path, capsys):
    """keras.applications' ResNet50 (random weights, no download) saved and loaded into the zoo's: same outputs."""
    reference = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    reference.save_weights(tmp_path / "resnet50.weights.h5")
    model = zoo.build("resnet50", input_shape=(64, 64, 3), weights=tmp_path / "resnet50.weights.h5")
    assert capsys.readouterr().out.strip() == (f"Weights: loaded 107 layers from {tmp_path / 'resnet50.weights.h5'}; "
                                               "every layer with weights loaded")
    image = np.random.default_rng(0).uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(image)), np.asarray(reference(image)), rtol=1e-5, atol=1e-7)
    for ours, theirs in zip(model.weights, reference.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_a_run_folder_loads_by_name_and_a_head_of_other_classes_stays_new(tmp_path, capsys):
    source = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)
    (tmp_path / "run").mkdir()
    source.save(tmp_path / "run" / "model.keras")
    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=49, weights=tmp_path / "run")
    line = capsys.readouterr().out.strip()
    # conv1 and conv2 loaded; the head's kernel and bias have other shapes
    assert line == (f"Weights: loaded 2 layers from {tmp_path / 'run'}; left new: logits (3136x10, 10 in the "
                    "source, 3136x49, 49 here)")
    for name in ("conv_1", "conv_2"):
        for ours, theirs in zip(model.get_layer(name).weights, source.get_layer(name).weights):
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_a_legacy_h5_file_loads_by_layer_name_with_keras_applications_head_name(tmp_path, capsys):
    """keras.applications' downloads are Keras 2 files: groups named by layer, the classifier Dense 'predictions'."""
    source = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)
    with h5py.File(tmp_path / "legacy.h5", "w") as f:
        names = []
        for layer in source.layers:
            if layer.weights:
                name = "predictions" if layer.name == "logits" else layer.name
                names.append(name.encode())
                group = f.create_group(name)
                group.attrs["weight_names"] = [f"{name}/w{i}:0".encode() for i in range(len(layer.weights))]
                for i, w in enumerate(layer.get_weights()):
                    group.create_dataset(f"{name}/w{i}:0", data=w)
        f.attrs["layer_names"] = names
    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10, weights=tmp_path / "legacy.h5")
    assert "every layer with weights loaded" in capsys.readouterr().out
    image = np.random.default_rng(1).uniform(size=(1, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(image)), np.asarray(source(image)))


def test_imagenet_offline_and_not_cached_is_one_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsError, match=r"the ImageNet weights of resnet50 are not in the Keras cache \(.*"
                                           r"resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5\) and cannot "
                                           r"be downloaded \(URL fetch failure"):
        zoo.build("resnet50", include_top=False, pooling="avg", weights="imagenet")
    with pytest.raises(WeightsError, match="exists for resnet50, resnet101, resnet152 only, not vgg"):
        zoo.build("vgg", weights="imagenet")


def test_a_source_that_fits_no_layer_is_an_error(tmp_path):
    zoo.build("dlinear").save(tmp_path / "dlinear.keras")
    with pytest.raises(WeightsError, match="no layer of convnet matches .* by name and shape"):
        zoo.build("convnet", input_shape=(28, 28, 1), weights=tmp_path / "dlinear.keras")
    with pytest.raises(WeightsError, match="does not exist"):
        zoo.build("convnet", weights=tmp_path / "missing.keras")

"""Defects a review found in the zoo, each pinned by a test that failed before its fix."""

import pathlib
import re
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import zoo
from conftest import ROOT

FORECASTERS = zoo.names(task="forecasting")


@pytest.mark.parametrize("name", FORECASTERS)
def test_every_forecaster_defaults_targets_to_features_and_shares_one_horizon(name):
    model = zoo.build(name, lookback=32, features=3, **({"patch_length": 8} if "patch" in name else {}))
    assert model.output_shape == (None, 24, 3)  # horizon 24 and targets = features, for every forecaster
    assert zoo.entry(name).arguments["horizon"] == 24


@pytest.mark.parametrize("name", FORECASTERS)
def test_every_forecaster_takes_targets(name):
    extra = {"patch_length": 8} if "patch" in name else {}
    model = zoo.build(name, lookback=32, features=3, horizon=6, targets=1, **extra)
    assert model.output_shape == (None, 6, 1)
    assert model(np.zeros((2, 32, 3), "float32")).shape == (2, 6, 1)


def test_augmentation_layers_draw_different_numbers():
    from applications.kit.augmentation import image_augmentation

    block = image_augmentation(rotation=0.1, translation=0.1, zoom=0.1, seed=7)
    seeds = [layer.seed for layer in block.layers]
    assert len(set(seeds)) == 3, seeds


def test_transformer_classifier_ignores_padding():
    """Changing what sits at padded positions (their position embeddings) leaves the output unchanged."""
    keras.utils.set_random_seed(0)
    model = zoo.build("transformer_classifier", vocabulary_size=50, sequence_length=8, embedding_dim=8,
                      num_heads=2, ff_dim=8, dropout=0.0)
    tokens = np.array([[5, 7, 9, 0, 0, 0, 0, 0]], "int32")
    before = np.asarray(model(tokens))
    positions = model.get_layer("position_embedding").position_embedding
    table = positions.embeddings.numpy()
    table[3:] = np.random.default_rng(1).normal(size=table[3:].shape) * 5
    positions.embeddings.assign(table)
    np.testing.assert_allclose(np.asarray(model(tokens)), before, rtol=1e-5, atol=1e-6)


def test_conv1d_classifier_refuses_a_repeated_kernel_size():
    """Found by the hypothesis test: kernel_sizes=[1, 1] named two layers conv_1, deep inside Keras."""
    with pytest.raises(ValueError, match=r"^kernel_sizes=\[3, 3\] is invalid: expected a list of distinct "
                                         r"integers \(one Conv1D branch per width"):
        zoo.build("conv1d_classifier", vocabulary_size=50, kernel_sizes=[3, 3])


def test_perceptron_fit_with_zero_epochs():
    model = zoo.build("perceptron", input_shape=(2,))
    model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: nothing was trained
        history = model.fit(np.ones((4, 2), "float32"), np.array([0, 1, 0, 1]), epochs=0, verbose=0)
    assert history.epoch == [] and model.converged is False


def test_perceptron_docs_match_fit_shuffling():
    module_doc = zoo.registry.entry("perceptron").builder.__module__
    text = sys.modules[module_doc].__doc__
    assert "in order" not in text.split("Within a batch")[0]
    assert "shuffle=False" in text


@pytest.mark.parametrize("name", zoo.names())
def test_uniform_arguments_and_metadata(name):
    entry = zoo.entry(name)
    arguments = entry.arguments
    assert "image_shape" not in arguments and "embed_dim" not in arguments
    if entry.input_kind in ("image", "vector"):
        assert "input_shape" in arguments
    if entry.family == "resnet":
        return  # one shared builder, checked by the other tests; building five ResNets here is slow
    # The metadata's default input shape is the built model's, without building it in the CLI.
    model = zoo.build(name)
    part = getattr(model, "generator", None) if entry.input_kind == "latent" else None
    if name in ("dcgan", "wgan_gp"):
        assert model.discriminator.input_shape[1:] == entry.default_input_shape
    elif name == "vae":
        assert model.encoder.input_shape[1:] == entry.default_input_shape
    elif entry.input_kind == "graph":  # node features, then the edge list
        assert model.input_shape[0][1:] == entry.default_input_shape and model.input_shape[1][1:] == (2,)
    else:
        assert tuple((part or model).input_shape[1:]) == entry.default_input_shape


def test_public_builders_are_plain_functions_with_args_docs():
    """No builder gets its name or docstring at run time: grep and IDEs see them."""
    source = "".join(p.read_text() for p in (ROOT / "zoo").glob("*.py"))
    assert not re.search(r"\.__(name|qualname|doc)__ = ", source)
    for name in zoo.names("resnet*") + ["lstm", "gru", "simple_rnn", "lstm_forecaster", "perceptron"]:
        builder = zoo.entry(name).builder
        assert builder.__name__ == name and re.search(rf"^def {name}\(", source, re.M)
        assert "Args:" in builder.__doc__


def test_python_m_zoo_is_quiet_does_not_import_applications_and_prints_the_readme_table():
    """``python -m zoo`` builds every model to count its parameters: one run checks its quiet start,
    its imports, and that the README's builder table is what it prints today."""
    from zoo.__main__ import END, START

    script = ("import runpy, sys; sys.argv = ['zoo']; runpy.run_module('zoo', run_name='__main__'); "
              "assert not any(m == 'applications' or m.startswith('applications.') for m in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                           "HOME": str(pathlib.Path.home())})
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert "| `resnet18` |" in result.stdout
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme
    in_readme = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert in_readme == result.stdout.strip(), "README's builder table is stale: run `make zoo-table`"


@pytest.mark.parametrize("readme, message", [
    ("missing.md", "missing.md: cannot read it (No such file or directory)"),
    (".", "cannot read it (Is a directory)"),
    ("plain.md", "has no <!-- zoo-table:start --> ... <!-- zoo-table:end --> markers: add them"),
])
def test_python_m_zoo_readme_it_cannot_rewrite_is_a_usage_error_before_any_model_is_built(
        readme, message, tmp_path, monkeypatch, capsys):
    import zoo.__main__ as zoo_main

    (tmp_path / "plain.md").write_text("# a README without the table's markers\n")
    monkeypatch.setattr(zoo_main, "table", lambda: pytest.fail("built the table before checking --readme"))
    monkeypatch.setattr(sys, "argv", ["zoo", "--readme", str(tmp_path / readme)])
    with pytest.raises(SystemExit) as exit_:
        zoo_main.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err, err


def test_importing_packages_has_no_side_effects():
    script = ("import os, sys; import zoo, applications, applications.kit; "
              "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'heavy import'; "
              "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr

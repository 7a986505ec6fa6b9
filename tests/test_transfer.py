"""Transfer learning in the kit: --init-from, --freeze, --labels-per-class (digits on the embedded 8x8 digits)."""

import json

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import sys

import pandas as pd

from conftest import assert_one_line_error, kill_and_resume, run_in_process

COMMON = ["--model", "convnet", "--epochs", "1", "--verbose", "0", "--precision", "float32"]


def digits(*args, capsys, output):
    from applications.digits import main

    return run_in_process(main, *COMMON, "--output", output, *args, capsys=capsys)


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A digits run on the embedded digits (10 classes)."""
    from applications.digits import main

    work = tmp_path_factory.mktemp("source")
    code, out, err = run_in_process(main, *COMMON, "--source", "embedded", "--output", work)
    assert code == 0, err
    return next((work / "digits").glob("2*"))


@pytest.fixture
def three_classes(tmp_path):
    """The 8x8 digits 0, 1 and 2 only, as an NPZ: a target with other classes."""
    x, y = load_digits(return_X_y=True)
    keep = y < 3
    path = tmp_path / "three.npz"
    np.savez(path, x=x[keep].reshape(-1, 8, 8), y=y[keep])
    return path


def test_init_from_a_run_with_other_classes_replaces_the_head_and_loads_the_rest(source_run, three_classes,
                                                                                 tmp_path, capsys):
    code, out, err = digits("--data", three_classes, "--init-from", source_run, capsys=capsys,
                            output=tmp_path / "runs")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("Weights:"))
    assert line == (f"Weights: loaded 2 layers from {source_run}; left new: logits (256x10, 10 in the source, "
                    "256x3, 3 here)")


def test_freeze_backbone_leaves_the_backbone_bit_identical(source_run, three_classes, tmp_path, capsys):
    code, out, err = digits("--data", three_classes, "--init-from", source_run, "--freeze", "backbone",
                            "--epochs", "3", capsys=capsys, output=tmp_path / "runs")
    assert code == 0, err
    assert "Frozen: the first 2 of 3 layers with weights" in out and "training logits" in out
    source = keras.saving.load_model(source_run / "model.keras", safe_mode=True)
    trained = keras.saving.load_model(next((tmp_path / "runs" / "digits").glob("2*/model.keras")), safe_mode=True)
    from zoo.weights import layers_with_weights

    before = {layer.name: layer for layer in layers_with_weights(source, learned_only=True)}
    after = list(layers_with_weights(trained, learned_only=True))
    for layer in after[:-1]:
        for a, b in zip(layer.get_weights(), before[layer.name].get_weights()):
            np.testing.assert_array_equal(a, b)
    assert after[-1].name == "logits" and after[-1].get_weights()[0].shape[-1] == 3


def test_labels_per_class_takes_a_stratified_subset(tmp_path, capsys):
    code, out, err = digits("--source", "embedded", "--labels-per-class", "3", capsys=capsys,
                            output=tmp_path / "runs")
    assert code == 0, err
    assert "--labels-per-class 3: training on 30 of " in out
    metrics = json.loads(next((tmp_path / "runs" / "digits").glob("2*/metrics.json")).read_text())
    assert metrics["split"]["train"] == 30 and metrics["split"]["labels_per_class"] == 3
    code, out, err = digits("--source", "embedded", "--labels-per-class", "5000", capsys=capsys,
                            output=tmp_path / "runs")
    assert_one_line_error(code, err, "--labels-per-class 5000: the training split has", "its smallest; use at most")


def test_labels_per_class_is_the_same_subset_for_the_same_seed():
    from applications.digits import Digits
    from applications.kit.run import label_budget, parse_args

    task = Digits()
    args = parse_args(task, ["--source", "embedded", "--labels-per-class", "4"])
    prepared = task.load(args)
    first, second = label_budget(args, prepared), label_budget(args, prepared)
    np.testing.assert_array_equal(first.train[0], second.train[0])
    assert np.bincount(first.train[1]).tolist() == [4] * 10
    other = label_budget(parse_args(task, ["--source", "embedded", "--labels-per-class", "4", "--seed", "1"]),
                         prepared)
    assert not np.array_equal(first.train[0], other.train[0])


def test_init_from_another_application_or_no_matching_layer_is_one_line(tmp_path, capsys):
    import zoo

    other = tmp_path / "sentiment_run"
    other.mkdir()
    (other / "metrics.json").write_text(json.dumps({"application": "sentiment"}))
    code, out, err = digits("--source", "embedded", "--init-from", other, capsys=capsys, output=tmp_path / "runs")
    assert_one_line_error(code, err, f"--init-from {other} is a run of sentiment, not digits")
    zoo.build("dlinear").save(tmp_path / "dlinear.keras")
    code, out, err = digits("--source", "embedded", "--init-from", tmp_path / "dlinear.keras", capsys=capsys,
                            output=tmp_path / "runs")
    assert_one_line_error(code, err, "--init-from: no layer of", "matches", "by name and shape")
    code, out, err = digits("--source", "embedded", "--freeze", "backbone", "--init-from", tmp_path / "none.keras",
                            capsys=capsys, output=tmp_path / "runs")
    assert_one_line_error(code, err, "none.keras does not exist")


def test_two_phases_share_one_history_and_bn_stays_fixed_in_the_second(three_classes, tmp_path, capsys):
    code, out, err = digits("--data", three_classes, "--epochs", "2",
                            "--fine-tune-epochs", "2", "--fine-tune-learning-rate", "1e-4", "--model", "vgg",
                            capsys=capsys, output=tmp_path / "runs")
    assert code == 0, err
    assert "Frozen: the first" in out and "Fine-tuning: " in out and "at rate 0.0001" in out
    run_dir = next((tmp_path / "runs" / "digits").glob("2*"))
    history = pd.read_csv(run_dir / "history.csv")
    assert history["phase"].tolist() == [1, 1, 2, 2] and history["epoch"].tolist() == [0, 1, 2, 3]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 4
    # Batch normalisation's statistics are those phase 1 ended with (frozen there, in inference mode after).
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    phase1 = keras.saving.load_model(run_dir / "phase1" / "best.keras", safe_mode=True)
    norms = [layer for layer in model.get_layer("vgg").layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms
    for layer in norms:
        for a, b in zip(layer.get_weights(), phase1.get_layer("vgg").get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # two processes of two phases each, one killed
def test_two_phase_run_resumes_exactly_after_a_kill_in_phase_two(tmp_path):
    def command(out):
        return [sys.executable, "-m", "applications.digits", "--source", "embedded", "--model", "convnet",
                "--epochs", "2", "--fine-tune-epochs", "4", "--deterministic", "--verbose", "0",
                "--precision", "float32", "--output", str(out)]

    kill_and_resume(command, "digits", tmp_path, epochs=4, kill_after=1, phase="phase2", epochs_before=2)

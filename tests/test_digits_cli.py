"""The digits command line, in process: one-line errors with exit code 2, every optimiser, schedule
and model, clipping, label mapping."""

import json

import numpy as np
import pandas as pd
import pytest

from applications.digits import image_classifiers, main
from applications.kit.optimisation import OPTIMIZERS, SCHEDULES
from conftest import assert_one_line_error, run_in_process

FAST = ["--source", "embedded", "--model", "convnet", "--verbose", "0", "--precision", "float32"]


@pytest.fixture
def bad_inputs(tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    (corrupt / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 4)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 broken")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(100, 8, 8)).astype("float32")
    images[5, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=images, y=np.arange(100) % 10)
    np.savez(tmp_path / "one_class.npz", x=rng.integers(0, 256, size=(100, 8, 8)).astype("uint8"),
             y=np.zeros(100, dtype=int))
    pixels, labels = rng.integers(0, 256, size=(100, 8, 8)), np.arange(100) % 10
    for name, x, y in [("text", pixels.astype(str), labels), ("flat", pixels.reshape(100, 64), labels),
                       ("scaled", pixels / 255.0, labels), ("negative", pixels - 20.0, labels),
                       ("fractional", np.minimum(pixels, 254) + 0.5, labels), ("one_hot", pixels, np.eye(10)[labels])]:
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)
    return tmp_path


@pytest.mark.parametrize("args, fragments", [
    (["--data", "{tmp}/missing"], ["no such file", "check the path"]),
    (["--data", "{tmp}/corrupt"], ["corrupt", "re-download"]),
    (["--data", "{tmp}/corrupt.npz"], ["is not an NPZ of arrays", "np.savez"]),
    (["--data", "{tmp}/nan.npz"], ["NaN", "clean or drop"]),
    (["--data", "{tmp}/one_class.npz"], ["at least two classes"]),
    (["--data", "{tmp}/text.npz"], ["images have dtype <U", "expected numbers"]),
    (["--data", "{tmp}/flat.npz"], ["images have shape (100, 64)", "[N, H, W]"]),
    (["--data", "{tmp}/scaled.npz"], ["scaled to [0, 1]", "raw pixel values in [0, 255]"]),
    (["--data", "{tmp}/negative.npz"], ["pixel values span [-20.0, ", "expected [0, 255]"]),
    (["--data", "{tmp}/fractional.npz"], ["fractional values", "0-255 (uint8)"]),
    (["--data", "{tmp}/one_hot.npz"], ["labels have shape (100, 10)", "one label per example"]),
    (["--model", "convnett"], ["--model convnett is not offered by digits", "did you mean convnet?"]),
    (["--model", "mlp_regressor"], ["not offered by digits"]),
    (["--epochs", "-3"], ["--epochs", "must be 1 or more"]),
    (["--seed", "-1"], ["--seed", "must be 0 or more"]),
    (["--seed", "99999999999999"], ["--seed", "must be at most 2**32 - 1"]),  # was NumPy's ValueError
    (["--source", "embedded", "--test-fraction", "0.001"], ["--test-fraction 0.001", "at least one per class"]),
    (["--source", "embedded", "--schedule", "cosine", "--learning-rate", "-0.1"], ["--learning-rate"]),
    (["--source", "embedded", "--epochs", "2", "--warmup-epochs", "3"], ["--warmup-epochs", "no training"]),
    (["--source", "embedded", "--clip-norm", "1", "--clip-value", "1"], ["--clip-norm and --clip-value"]),
    (["--source", "embedded", "--model", "resnet18"], ["small_inputs=True", "--resize 32"]),
    (["--source", "embedded", "--model", "lenet5"], ["--resize 12"]),
    (["--source", "embedded", "--model-arg", "bogus=1"], ["--model-arg: vgg takes no argument 'bogus'",
                                                           "its arguments: input_shape, classes"]),
    (["--model-arg", "notkeyvalue"], ["KEY=VALUE"]),
])
def test_bad_input_is_one_line_and_exit_2(bad_inputs, args, fragments, capsys):
    args = [a.format(tmp=bad_inputs) for a in args]
    code, _, err = run_in_process(main, *args, "--output", bad_inputs / "runs", capsys=capsys)
    assert_one_line_error(code, err, *fragments)


def test_a_bad_builder_argument_gets_no_image_size_hint(tmp_path, capsys):
    code, _, err = run_in_process(main, *FAST, "--model", "mlp", "--model-arg", "width=0", "--output", tmp_path,
                                  capsys=capsys)
    assert_one_line_error(code, err, "--model mlp: width=", "is invalid")
    assert "--resize" not in err  # "expected an integer >= 1" is not an image size
    assert "can be set with --model-arg" not in err  # the user set it: no "the default width" hint


def test_labels_1_to_10_map_to_ten_classes(tmp_path, capsys):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "shifted.npz", x=np.round(digits.images * 255 / 16).astype("uint8"), y=digits.target + 1)
    code, _, err = run_in_process(main, "--data", tmp_path / "shifted.npz", *FAST[2:], "--epochs", "2",
                                  "--output", tmp_path / "runs", "--export", "--export-dir", tmp_path / "m",
                                  capsys=capsys)
    assert code == 0, err
    metrics = json.loads(next((tmp_path / "runs" / "digits").glob("2*/metrics.json")).read_text())
    assert metrics["labels"] == [str(d) for d in range(1, 11)]  # no phantom class 0
    assert len(metrics["confusion_matrix"]) == 10
    metadata = json.loads((tmp_path / "m" / "digits" / "1" / "metadata.json").read_text())
    assert metadata["labels"] == metrics["labels"] and metadata["outputs"]["probabilities"] == [-1, 10]


@pytest.mark.parametrize("option, value", [("--optimizer", o) for o in OPTIMIZERS]
                         + [("--schedule", s) for s in SCHEDULES])
def test_each_optimiser_and_schedule_trains_two_epochs(option, value, tmp_path, capsys):
    code, _, err = run_in_process(main, *FAST, "--epochs", "2", option, value, "--learning-rate", "0.01",
                                  "--warmup-epochs", "1", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    (run_dir,) = (tmp_path / "digits").glob("2*")
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 2 and history["loss"].iloc[1] < history["loss"].iloc[0]
    assert json.loads((run_dir / "metrics.json").read_text())["arguments"][option[2:]] == value
    assert (run_dir / "learning_rate.png").read_bytes()[:4] == b"\x89PNG"


def test_learning_rate_plot_shows_warm_up_then_decay(tmp_path, monkeypatch, capsys):
    from applications.kit import reporting

    plotted = {}
    monkeypatch.setattr(reporting, "plot_learning_rate",
                        lambda steps, rates, per_epoch, path: plotted.update(rates=np.asarray(rates), per_epoch=per_epoch))
    code, _, err = run_in_process(main, *FAST, "--epochs", "4", "--schedule", "cosine", "--warmup-epochs", "1",
                                  "--learning-rate", "0.01", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    rates, per_epoch = plotted["rates"], plotted["per_epoch"]
    assert len(rates) == 4 * per_epoch
    warmup = rates[:per_epoch]
    assert (np.diff(warmup) > 0).all() and warmup[-1] == pytest.approx(0.01, rel=1e-4)
    assert (np.diff(rates[per_epoch:]) <= 1e-9).all() and rates[-1] < 0.001


@pytest.mark.parametrize("clip", [[], ["--clip-norm", "1e-4"], ["--clip-value", "1e-5"]])
def test_clipping_tames_a_huge_learning_rate(clip, tmp_path, capsys):
    """SGD at rate 1e4 blows the loss up; clipped gradients keep each step small, and the loss sane."""
    code, _, err = run_in_process(main, *FAST[:-2], "--precision", "float32", "--epochs", "3",
                                  "--optimizer", "sgd", "--schedule", "constant", "--learning-rate", "1e4",
                                  *clip, "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    loss = pd.read_csv(next((tmp_path / "digits").glob("2*/history.csv")))["loss"].to_numpy()
    if clip:
        assert np.isfinite(loss).all() and loss.max() < 20, loss  # cross-entropy of 10 classes starts at 2.3
    else:
        assert not np.isfinite(loss).all() or loss.max() > 1e3, loss


# Each model offered by --model, with the options its error names for 8x8 images.
MODEL_OPTIONS = {"lenet5": ["--resize", "12"]}
for _name in image_classifiers():
    if _name.startswith("resnet"):
        MODEL_OPTIONS[_name] = ["--model-arg", "small_inputs=True"]


# The deeper ResNets share one builder with resnet18 and take 20-100 s each here: `make test-slow`.
@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow)
                                   if m in ("resnet34", "resnet50", "resnet101", "resnet152")
                                   else m for m in image_classifiers()])
def test_every_model_trains_one_epoch_on_the_embedded_digits(model, tmp_path, capsys):
    # Batch 128: 11 steps of resnet18's 11M-parameter Adam update instead of 41 (20 s to 15 s here).
    code, out, err = run_in_process(main, "--source", "embedded", "--model", model, *MODEL_OPTIONS.get(model, []),
                                    "--epochs", "1", "--batch-size", "128", "--verbose", "0", "--output", tmp_path,
                                    capsys=capsys)
    assert code == 0, err
    assert np.isfinite(pd.read_csv(next((tmp_path / "digits").glob("2*/history.csv")))["loss"]).all()

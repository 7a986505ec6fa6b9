"""The digits application end to end: accuracy on real data, run files, export, resume."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import kill_and_resume, run_app, run_in_process


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    """The README's run command (embedded digits, default model) plus --export, run once."""
    work = tmp_path_factory.mktemp("digits")
    result = run_app("applications.digits", "--source", "embedded", "--export",
                     "--output", work / "runs", "--export-dir", work / "saved_models", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = next((work / "runs" / "digits").glob("2*"))
    return work, run_dir, result


def test_reaches_accuracy_floor_on_embedded_digits(embedded_run):
    _, run_dir, result = embedded_run
    assert "Data: embedded scikit-learn digits" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.985
    assert metrics["data_source"].startswith("embedded scikit-learn digits")
    assert metrics["split"] == {"kind": "random", "train": 1293, "validation": 144, "test": 360}
    assert np.array(metrics["confusion_matrix"]).sum() == 360
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert all({"precision", "recall"} <= set(v) for v in metrics["per_class"].values())


def test_writes_history_and_plots(embedded_run):
    _, run_dir, _ = embedded_run
    history = pd.read_csv(run_dir / "history.csv")
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history.columns)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    for png in ("learning_curves.png", "confusion_matrix.png", "learning_rate.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_matches_keras_model_in_a_fresh_process(embedded_run):
    work, run_dir, result = embedded_run
    export = work / "saved_models" / "digits" / "1"
    assert f"Exported SavedModel to {export}" in result.stdout
    metadata = json.loads((export / "metadata.json").read_text())
    assert metadata["labels"] == [str(d) for d in range(10)]
    assert metadata["version"] == 1 and "test_accuracy" in metadata["metrics"]
    assert metadata["precision_policy"] in ("float32", "mixed_bfloat16")

    # The Keras model's class ids on the test split, loaded in safe mode.
    import keras

    from applications.kit.images import load_embedded
    from applications.kit import data

    embedded = load_embedded()
    _, _, (x_test, y_test) = data.stratified_split(embedded.x[..., None], embedded.y,
                                                   test_fraction=0.2, validation_fraction=0.1, seed=42)
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    keras_ids = np.asarray(model(x_test.astype("float32"), training=False)).argmax(-1)
    np.save(work / "x_test.npy", x_test[..., 0])  # [N, H, W] uint8, as a client sends

    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
        images = np.load({str(work / "x_test.npy")!r})
        ids3 = serve(images=tf.constant(images))["class_id"].numpy()
        ids4 = serve(images=tf.constant(images[..., None]))["class_id"].numpy()
        assert (ids3 == ids4).all()
        np.save({str(work / "served_ids.npy")!r}, ids3)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    served_ids = np.load(work / "served_ids.npy")
    np.testing.assert_array_equal(served_ids, keras_ids)
    assert (served_ids == y_test).mean() >= 0.985

    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    shown = subprocess.run([cli, "show", "--dir", str(export), "--all"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "serving_default" in shown.stdout and "class_id" in shown.stdout


def test_exporting_twice_makes_versions_1_and_2(embedded_run, tmp_path):
    import keras
    import tensorflow as tf

    from applications.digits import serving_signature
    from applications.kit.export import export_saved_model

    _, run_dir, _ = embedded_run
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    serve, signature = serving_signature(model, (8, 8, 1))
    paths = [export_saved_model(model, "digits", serving_fn=serve, input_signature=signature,
                                metadata={}, root=tmp_path) for _ in range(2)]
    assert [p.name for p in paths] == ["1", "2"]
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == ["1", "2"]  # no staging left
    # Version 1 was not rewritten by the second export: its metadata still says version 1.
    assert json.loads((paths[0] / "metadata.json").read_text())["version"] == 1
    serve_loaded = tf.saved_model.load(str(paths[1])).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="8x8"):
        serve_loaded(images=tf.zeros((1, 9, 9), tf.uint8))


def test_killed_run_resumes_exactly(tmp_path):
    """With --deterministic: one uninterrupted run, and one killed by SIGKILL after epoch 2 and rerun,
    give identical history rows, bit-identical final weights, and the rerun uses one run folder."""
    def command(out):
        return [sys.executable, "-m", "applications.digits", "--source", "embedded", "--model", "convnet",
                "--epochs", "4", "--augment", "0.05", "--deterministic", "--verbose", "0", "--output", str(out)]

    kill_and_resume(command, "digits", tmp_path, epochs=4)


def test_changed_data_starts_afresh_and_says_so(tmp_path, capsys):
    from applications.digits import main

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, size=(60, 8, 8)).astype("uint8"), np.arange(60) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    args = ["--data", tmp_path / "d.npz", "--model", "mlp", "--epochs", "1", "--verbose", "0",
            "--output", tmp_path / "runs", "--test-fraction", "0.2"]
    backup = tmp_path / "runs" / "digits" / "backup"
    backup.mkdir(parents=True)
    # An interrupted run's record with another data fingerprint under this command's key.
    from applications.digits import Digits
    from applications.kit.run import parse_args, run_folders

    run_folders(parse_args(Digits(), [str(a) for a in args]), Digits(), "0123456789abcdef")
    code, out, err = run_in_process(main, *args, capsys=capsys)
    assert code == 0, err
    assert "The data changed since the interrupted run" in out and "starting afresh" in out


def test_offline_falls_back_to_embedded_in_seconds(tmp_path):
    from applications.kit.data import internet_reachable

    if internet_reachable():
        pytest.skip("online: MNIST would be downloaded, so the offline fallback cannot be observed")
    result = run_app("applications.digits", "--epochs", "1", "--model", "convnet",
                     "--output", tmp_path / "runs", cwd=tmp_path,
                     env={"KERAS_HOME": str(tmp_path / "keras"), "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert result.returncode == 0, result.stderr
    assert "falling back to the embedded digits" in result.stdout
    assert "the internet is unreachable" in result.stdout  # says why, not just that it failed
    # tensorflow-datasets' probe warned of a "variant folder ... has no dataset_info.json" that does not exist
    assert "WARNING:absl" not in result.stderr, result.stderr
    assert "Downloading data from" not in result.stdout  # keras.datasets announced a download, then failed
    assert "Data: embedded scikit-learn digits" in result.stdout


def test_source_mnist_offline_is_a_clear_error(tmp_path):
    from applications.kit.data import internet_reachable

    if internet_reachable():
        pytest.skip("online: MNIST would be downloaded")
    result = run_app("applications.digits", "--source", "mnist", "--output", tmp_path / "runs",
                     cwd=tmp_path, env={"KERAS_HOME": str(tmp_path / "keras"),
                                        "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert result.returncode == 2
    assert "--source embedded" in result.stderr and "Traceback" not in result.stderr
    assert "the internet is unreachable" in result.stderr


def test_real_mnist_idx_through_data_flag(shared_data, tmp_path, capsys):
    from applications.digits import main

    code, out, err = run_in_process(main, "--data", shared_data / "mnist", "--model", "convnet", "--epochs", "2",
                                    "--output", tmp_path / "runs", capsys=capsys)
    assert code == 0, err
    assert "Data: IDX files in" in out and "10000 images of 28x28" in out
    metrics = json.loads(next((tmp_path / "runs" / "digits").glob("2*/metrics.json")).read_text())
    assert metrics["test_accuracy"] >= 0.9  # two epochs on 7.2k real MNIST digits

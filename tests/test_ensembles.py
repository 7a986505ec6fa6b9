"""--ensemble N: members trained (and resumable) each, one averaged model evaluated and exported."""

import json
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import run_in_process


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    from applications.digits import main

    work = tmp_path_factory.mktemp("ensemble")
    code, out, err = run_in_process(main, "--source", "embedded", "--model", "convnet", "--epochs", "3",
                                    "--ensemble", "3", "--precision", "float32", "--verbose", "0", "--output",
                                    work / "runs", "--export",
                                    "--export-dir", work / "exports")
    assert code == 0, out + err
    return work, next((work / "runs" / "digits").glob("2*")), out


def test_the_export_averages_the_members_and_passes_the_serving_check(ensemble_run, capsys):
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from applications.serving import main as serving_main

    work, run_dir, _ = ensemble_run
    export = work / "exports" / "digits" / "1"
    code, out, err = run_in_process(serving_main, "check", export, "--no-cli", capsys=capsys)
    assert code == 0 and "checks passed" in out, out + err
    images = np.round(load_digits().images[:16, ..., None] * 255 / 16).astype("uint8")
    served = tf.saved_model.load(str(export)).signatures["serving_default"](images=tf.constant(images))
    members = [keras.saving.load_model(run_dir / f"member_{i}" / "model.keras", safe_mode=True) for i in (1, 2, 3)]
    mean = np.mean([np.asarray(m(images.astype("float32"), training=False), "float32") for m in members], axis=0)
    np.testing.assert_allclose(served["probabilities"].numpy(), mean, atol=1e-5)


def test_metrics_report_each_member_and_the_ensemble_beats_their_mean(ensemble_run):
    """Measured: ensemble 0.942 against members 0.922, 0.936, 0.939 (mean 0.932) on the embedded digits."""
    _, run_dir, out = ensemble_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    members = metrics["members"]
    assert members["kind"] == "seeds" and len(members["each"]) == 3
    assert metrics["test_accuracy"] >= members["mean"]["test_accuracy"]
    assert "Ensemble member 3 of 3 (seed 44)" in out


def test_a_run_stopped_after_two_members_trains_only_the_third_when_rerun(tmp_path, capsys, monkeypatch):
    from applications.digits import main
    from applications.kit import run

    fit, calls = run.fit, []

    def stop_at_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("stopped")
        return fit(*args, **kwargs)

    argv = ["--source", "embedded", "--model", "convnet", "--epochs", "2", "--ensemble", "3", "--precision",
            "float32", "--verbose", "0", "--output", tmp_path]
    monkeypatch.setattr(run, "fit", stop_at_the_third)
    with pytest.raises(RuntimeError, match="stopped"):
        run_in_process(main, *argv, capsys=capsys)
    monkeypatch.setattr(run, "fit", fit)
    code, out, err = run_in_process(main, *argv, capsys=capsys)
    assert code == 0, err
    assert "Ensemble member 1 of 3: trained in an earlier run" in out
    assert "Ensemble member 2 of 3: trained in an earlier run" in out
    assert "Ensemble member 3 of 3 (seed 44)" in out
    assert len(list((tmp_path / "digits").glob("2*"))) == 1  # one run folder, continued


def test_a_snapshot_ensemble_saves_a_member_at_each_cosine_cycles_end(tmp_path, capsys):
    """One run of 6 epochs in 3 cycles: 3 snapshots, the rate back at its start after each cycle, the export
    the members' mean. Measured: members 0.886, 0.928, 0.936 (mean 0.917), the ensemble 0.933."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from applications.digits import main

    code, out, err = run_in_process(main, "--source", "embedded", "--model", "convnet", "--epochs", "6",
                                    "--ensemble", "3", "--ensemble-kind", "snapshot", "--precision", "float32",
                                    "--verbose", "0", "--output", tmp_path / "runs", "--export", "--export-dir",
                                    tmp_path / "exports", capsys=capsys)
    assert code == 0, out + err
    assert "6 epochs in 3 cosine cycles of 2" in out
    run_dir = next((tmp_path / "runs" / "digits").glob("2*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["members"]["kind"] == "snapshot" and len(metrics["members"]["each"]) == 3
    assert metrics["epochs_run"] == 6  # one run, not three
    assert metrics["test_accuracy"] >= metrics["members"]["mean"]["test_accuracy"]
    rates = pd.read_csv(run_dir / "history.csv")["learning_rate"].to_numpy()
    # logged after each epoch: the rate of the next step, mid-cycle (half the start) then restarted
    np.testing.assert_allclose(rates, [1e-3, 2e-3] * 3, rtol=1e-4)
    images = np.round(load_digits().images[:16, ..., None] * 255 / 16).astype("uint8")
    served = tf.saved_model.load(str(tmp_path / "exports" / "digits" / "1")).signatures["serving_default"](
        images=tf.constant(images))
    members = [keras.saving.load_model(run_dir / "snapshots" / f"snapshot_{i}.keras", safe_mode=True)
               for i in (1, 2, 3)]
    outputs = [np.asarray(m(images.astype("float32"), training=False), "float32") for m in members]
    assert not np.allclose(outputs[0], outputs[2], atol=1e-3)  # three different models
    np.testing.assert_allclose(served["probabilities"].numpy(), np.mean(outputs, axis=0), atol=1e-5)


def test_a_snapshot_ensemble_killed_mid_run_resumes_to_the_same_members(tmp_path):
    from conftest import kill_and_resume

    def command(output):
        return [sys.executable, "-m", "applications.digits", "--source", "embedded", "--model", "convnet",
                "--epochs", "6", "--ensemble", "3", "--ensemble-kind", "snapshot", "--deterministic",
                "--precision", "float32", "--verbose", "0", "--output", str(output)]

    whole, parts = kill_and_resume(command, "digits", tmp_path, epochs=6, kill_after=3, phase="snapshots")
    for i in (1, 2, 3):
        a = keras.saving.load_model(whole / "snapshots" / f"snapshot_{i}.keras", safe_mode=True).get_weights()
        b = keras.saving.load_model(parts / "snapshots" / f"snapshot_{i}.keras", safe_mode=True).get_weights()
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_snapshot_epochs_that_do_not_divide_into_the_cycles_are_a_one_line_error(tmp_path, capsys):
    from applications.digits import main
    from conftest import assert_one_line_error

    common = ["--source", "embedded", "--ensemble", "3", "--ensemble-kind", "snapshot", "--output", tmp_path]
    code, out, err = run_in_process(main, *common, "--epochs", "10", capsys=capsys)
    assert_one_line_error(code, err, "10 epochs do not divide by 3: use --epochs 9 or 12")
    code, out, err = run_in_process(main, *common, "--epochs", "2", capsys=capsys)
    assert_one_line_error(code, err, "2 epochs do not divide by 3: use --epochs 3")
    code, out, err = run_in_process(main, *common, "--epochs", "6", "--fine-tune-epochs", "2", capsys=capsys)
    assert_one_line_error(code, err, "has no fine-tuning phase: drop --fine-tune-epochs")
    assert not (tmp_path / "digits").exists()

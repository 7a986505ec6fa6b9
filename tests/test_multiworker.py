"""``--strategy multiworker``: two worker processes on loopback train one model (MultiWorkerMirroredStrategy).

Each test starts two processes of the same command with their own
``TF_CONFIG`` and checks that both finish, that they end with identical
weights (batch-norm moving statistics included), that worker 0 alone writes
the run folder's place and the export, and that the model learned.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, assert_one_line_error, free_port, run_app, run_in_process


def run_workers(module, *args, cwd, count=2, timeout=400):
    """Start ``count`` workers of ``python -m module args --strategy multiworker``; their (code, output)s."""
    workers = [f"127.0.0.1:{free_port()}" for _ in range(count)]
    processes = []
    for index in range(count):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": json.dumps(config)}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", module, *map(str, args), "--strategy", "multiworker"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in processes]
        return [(p.returncode, output) for p, output in zip(processes, outputs)]
    finally:
        for process in processes:
            process.kill()


def run_folder(output, app):
    (folder,) = (output / app).glob("2*")
    return folder


def weights(folder):
    import applications.compression  # noqa: F401  (registers the objects the saved models name)
    import applications.sentiment  # noqa: F401
    import zoo.gan  # noqa: F401
    import zoo.vae  # noqa: F401

    return keras.saving.load_model(folder / "model.keras").get_weights()


def assert_same_weights(chief_folder, worker_folder):
    chief, worker = weights(chief_folder), weights(worker_folder)
    assert len(chief) == len(worker)
    different = [i for i, (a, b) in enumerate(zip(chief, worker)) if not np.array_equal(a, b)]
    assert not different, f"weights {different} differ between the workers"


def test_two_workers_train_the_digits_app_to_identical_weights_and_it_learns(tmp_path):
    results = run_workers("applications.digits", "--source", "embedded", "--model", "convnet", "--epochs", "1",
                          "--precision", "float32", "--output", tmp_path / "runs", "--export",
                          "--export-dir", tmp_path / "exports", cwd=tmp_path)
    for code, output in results:
        assert code == 0, output[-3000:]
        assert "2 replicas" in output
    chief, worker = run_folder(tmp_path / "runs", "digits"), run_folder(tmp_path / "runs" / "worker-1", "digits")
    assert_same_weights(chief, worker)
    pd.testing.assert_frame_equal(pd.read_csv(chief / "history.csv"), pd.read_csv(worker / "history.csv"))
    # Learned in one epoch on held-out digits (measured 0.84; chance 0.10).
    assert json.loads((chief / "metrics.json").read_text())["test_accuracy"] >= 0.6
    # Worker 0 exports once; the other worker writes nothing outside its own folder.
    assert [p.name for p in (tmp_path / "exports" / "digits").iterdir()] == ["1"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["digits", "worker-1"]


@pytest.mark.slow  # two-worker training is in the quick tier (digits convnet)
def test_two_workers_keep_batch_norm_statistics_identical(tmp_path):
    # vgg normalises every block: each worker would move its own statistics if they were not synchronised.
    results = run_workers("applications.digits", "--source", "embedded", "--model", "vgg", "--epochs", "1",
                          "--output", tmp_path, cwd=tmp_path)
    for code, output in results:
        assert code == 0, output[-3000:]
    assert_same_weights(run_folder(tmp_path, "digits"), run_folder(tmp_path / "worker-1", "digits"))


@pytest.mark.slow  # a process of its own; mirrored has no quick-tier test (multi-worker has one)
def test_mirrored_strategy_trains_on_the_devices_of_this_machine(tmp_path):
    # No GPU here: one replica (tuning's --cpu-devices 2 test runs the two-replica mirrored path).
    result = run_app("applications.digits", "--source", "embedded", "--model", "convnet", "--epochs", "1",
                     "--strategy", "mirrored", "--output", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_folder(tmp_path, "digits") / "metrics.json").read_text())["arguments"]["strategy"] == \
        "mirrored"


@pytest.mark.slow
@pytest.mark.parametrize("module, app, args", [
    ("applications.sentiment", "sentiment", ["--data", ROOT.parent / "shared/data/imdb/imdb_reviews_2499.csv"]),
    ("applications.forecasting", "forecast", []),
    ("applications.compression", "compression", ["train"]),
    ("applications.generation", "generation", ["train", "--classifier-epochs", "1", "--samples", "100"]),
    ("applications.generation", "generation", ["train", "--model", "vae", "--classifier-epochs", "1",
                                               "--samples", "100"]),
])
def test_every_application_trains_on_two_workers(tmp_path, module, app, args):
    if any("shared/data" in str(a) for a in args) and not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("../shared/data is absent")
    results = run_workers(module, *args, "--epochs", "1", "--output", tmp_path, cwd=tmp_path)
    for code, output in results:
        assert code == 0, output[-3000:]
    assert_same_weights(run_folder(tmp_path, app), run_folder(tmp_path / "worker-1", app))


@pytest.mark.parametrize("strategy, tf_config, fragment", [
    ("multiworker", None, "needs TF_CONFIG"),
    ("multiworker", "{not json", "TF_CONFIG is not a cluster description"),
    ("multiworker", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
     "task worker 3 is not"),
    ("multiworker", '{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}', "HOST:PORT"),
    ("mirrored", "", "TF_CONFIG='' is not JSON: --strategy mirrored (one machine) needs no TF_CONFIG; unset it"),
])
def test_a_missing_or_wrong_tf_config_is_a_one_line_error(strategy, tf_config, fragment, monkeypatch, capsys,
                                                          tmp_path):
    from applications import digits

    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    code, _, err = run_in_process(digits.main, "--source", "embedded", "--strategy", strategy,
                                  "--output", tmp_path, capsys=capsys)
    assert_one_line_error(code, err, fragment)


def test_cross_validation_is_not_distributed(monkeypatch, capsys, tmp_path):
    from applications import digits

    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}')
    code, _, err = run_in_process(digits.main, "--source", "embedded", "--strategy", "multiworker", "--cv", "3",
                                  "--output", tmp_path, capsys=capsys)
    assert_one_line_error(code, err, "--cv", "drop --strategy multiworker")


@pytest.mark.slow
def test_two_workers_killed_after_epoch_2_resume_exactly(tmp_path):
    """SIGKILL both workers once their backups hold 2 epochs; the rerun ends as the uninterrupted run did."""
    import time

    args = ["--source", "embedded", "--model", "vgg", "--epochs", "4", "--deterministic", "--verbose", "0"]
    assert all(code == 0 for code, _ in run_workers("applications.digits", *args, "--output", tmp_path / "whole",
                                                    cwd=tmp_path))
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]

    def start():
        return [subprocess.Popen(
            [sys.executable, "-m", "applications.digits", *args, "--output", str(tmp_path / "killed"),
             "--strategy", "multiworker"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
            for index in range(2)]

    def backed_up(folder):
        states = list(folder.glob("digits/backup/*/state/state.json"))
        try:
            return json.loads(states[0].read_text())["epoch"] if states else 0
        except ValueError:  # being written
            return 0

    processes, deadline = start(), time.monotonic() + 300
    while backed_up(tmp_path / "killed") < 2 or backed_up(tmp_path / "killed" / "worker-1") < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
        time.sleep(0.2)
    for process in processes:
        process.kill()
        process.wait()
    assert [p.wait(timeout=300) for p in start()] == [0, 0]
    whole, killed = run_folder(tmp_path / "whole", "digits"), run_folder(tmp_path / "killed", "digits")
    assert_same_weights(whole, killed)
    assert (whole / "history.csv").read_bytes() == (killed / "history.csv").read_bytes()

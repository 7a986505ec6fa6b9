"""The training kit: a new application in a few lines, train() on self-compiling models, optimisers,
schedules, warm-up, clipping, exact resume of generative models."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pandas as pd
import pytest

from applications.kit import data, precision
from applications.kit.errors import UsageError
from applications.kit.optimisation import (SCHEDULES, OptimisationError, OptimiserSettings,
                                           learning_rate_schedule)
from applications.kit.run import Prepared, Serving, Task, build_model, main_for, open_run
from conftest import ROOT, run_in_process


# ------------------------------------------------- a new application in a few lines

class Wine(Task):
    """scikit-learn's wine data (178 real samples, 13 features, 3 cultivars) with the zoo's mlp."""

    name = "wine"
    defaults = {"epochs": 40, "batch_size": 16, "learning_rate": 3e-3}
    models = ["mlp"]
    default_model = "mlp"

    def load(self, args):
        from sklearn.datasets import load_wine
        from sklearn.preprocessing import StandardScaler

        x, y = load_wine(return_X_y=True)
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data.stratified_split(
            x.astype("float32"), y, test_fraction=0.25, validation_fraction=0.15, seed=args.seed)
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_va, x_te = (scaler.transform(a).astype("float32") for a in (x_tr, x_va, x_te))
        return Prepared(train=(x_tr, y_tr), validation=(x_va, y_va), test=(x_te, y_te),
                        source="scikit-learn wine", info={"labels": ["0", "1", "2"]})

    def build(self, args, prepared):
        return build_model(args, input_shape=(13,), classes=3)

    def loss(self, args):
        return "sparse_categorical_crossentropy"

    def metrics(self, args):
        return ["accuracy"]

    def evaluate(self, model, prepared, args, run_dir):
        x, y = prepared.test
        return {"test_accuracy": float((np.asarray(model(x)).argmax(-1) == y).mean())}

    def serving(self, model, prepared, args):
        import tensorflow as tf

        def serve(features):
            return {"probabilities": model(features, training=False)}

        return Serving(serve, [tf.TensorSpec([None, 13], tf.float32, name="features")],
                       {"inputs": {"features": [-1, 13]}})


def test_a_new_application_runs_end_to_end_through_the_skeleton(tmp_path, capsys):
    code, out, err = run_in_process(main_for(Wine()), "--output", tmp_path / "runs", "--export",
                                    "--export-dir", tmp_path / "models", "--verbose", "0", capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "runs" / "wine").glob("2*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.9  # 45 held-out wines; a linear model gets ~0.97
    assert metrics["data_source"] == "scikit-learn wine" and metrics["labels"] == ["0", "1", "2"]
    assert metrics["application"] == "wine"  # so another application's --from refuses this folder
    with pytest.raises(UsageError, match="a wine run, not a digits one; give the folder that kerazoo-digits printed"):
        open_run(run_dir, "digits", "kerazoo-digits")
    for png in ("learning_curves.png", "learning_rate.png"):
        assert (run_dir / png).read_bytes()[:4] == b"\x89PNG"
    assert len(pd.read_csv(run_dir / "history.csv")) == metrics["epochs_run"]
    export = tmp_path / "models" / "wine" / "1"
    metadata = json.loads((export / "metadata.json").read_text())
    assert metadata["precision_policy"] == metrics["precision_policy"]
    x_test = Wine().load(type("A", (), {"seed": 42})()).test[0][:5]
    np.save(tmp_path / "x.npy", x_test)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
        out = serve(features=tf.constant(np.load({str(tmp_path / "x.npy")!r})))["probabilities"]
        assert out.dtype == tf.float32, out.dtype
        np.save({str(tmp_path / "p.npy")!r}, out.numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), np.asarray(model(x_test), "float32"),
                               rtol=1e-2, atol=1e-3)


def test_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_in_process(main_for(Wine()), "--output", blocker / "runs", capsys=capsys)
    assert code == 2 and "--output" in err and "not writable" in err and "Traceback" not in err


@pytest.mark.parametrize("export_dir, message", [
    ("file", "--export-dir {tmp}/file is a file: choose a folder"),
    ("file/exports", "--export-dir {tmp}/file/exports cannot be a folder of exports (Not a directory"),
])
def test_an_export_dir_that_cannot_be_one_is_refused_before_training(export_dir, message, tmp_path, capsys):
    """It was a NotADirectoryError traceback after the whole training run."""
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run_in_process(main_for(Wine()), "--export", "--export-dir", tmp_path / export_dir,
                                  "--output", tmp_path / "runs", capsys=capsys)
    assert code == 2 and message.format(tmp=tmp_path) in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()  # nothing was trained


# ------------------------------------------------- optimisers and schedules

@pytest.mark.parametrize("settings, message", [
    (OptimiserSettings(learning_rate=-0.1, schedule="cosine"), "--learning-rate"),
    (OptimiserSettings(warmup_epochs=5), "--warmup-epochs"),
    (OptimiserSettings(clip_norm=1.0, clip_value=1.0), "both given"),
    (OptimiserSettings(clip_norm=-1.0), "--clip-norm"),
    (OptimiserSettings(weight_decay=-1.0), "--weight-decay"),
])
def test_invalid_optimisation_settings(settings, message):
    with pytest.raises(OptimisationError, match=message):
        settings.check(epochs=5)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_warm_up_then_decay(schedule):
    settings = OptimiserSettings(learning_rate=0.1, schedule=schedule, warmup_epochs=2)
    rate = learning_rate_schedule(settings, steps_per_epoch=10, epochs=10)
    if schedule == "plateau":
        assert rate == 0.1  # a settable constant; its warm-up is PlateauWarmup
        return
    rates = np.asarray(keras.ops.convert_to_numpy(rate(np.arange(100))))
    np.testing.assert_allclose(rates[:20], 0.1 * np.arange(1, 21) / 20, rtol=1e-5)  # linear warm-up
    assert rates[20] == pytest.approx(0.1, rel=1e-5)
    if schedule == "constant":
        assert np.allclose(rates[20:], 0.1)
    else:
        assert rates[99] < 0.05  # decayed by the end


# ------------------------------------------------- train() on self-compiling and loss-only models

GENERATIVE_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, keras
    from sklearn.datasets import load_digits
    import zoo
    from applications.kit import data, training
    name, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keras.utils.set_random_seed(0)
    images = (load_digits().images / 16.0).astype("float32")[..., None]
    if name == "dcgan":
        model = zoo.build("dcgan", input_shape=(8, 8, 1), latent_dim=8, seed=0)
        model.compile()                      # its own two optimisers
        x, monitor = images * 2 - 1, "g_loss"
    else:
        model = zoo.build("vae", input_shape=(8, 8, 1), latent_dim=2, seed=0)
        x, monitor = images, "loss"          # the loss it computes itself
    pipeline = data.TrainingPipeline(x, batch_size=64, seed=0)
    result = training.train(model, pipeline, epochs=epochs, run_dir=out, backup_dir=out + "/backup",
                            monitor=monitor, verbose=0)
    model.save_weights(out + "/final.weights.h5")
    print("RESUMED", result.resumed_from_epoch, "MONITOR", result.monitor)
""")


# Three processes each; the VAE's (which monitors its total loss like any compiled model) runs with `make test-slow`.
@pytest.mark.parametrize("name, logged", [("dcgan", "g_loss"), pytest.param("vae", "kl_loss", marks=pytest.mark.slow)])
def test_train_fits_generative_models_and_resumes_them_after_sigkill(name, logged, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(GENERATIVE_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    epochs = 5
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()
    done = subprocess.run([sys.executable, str(script), name, str(whole), str(epochs)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"MONITOR {'g_loss' if name == 'dcgan' else 'loss'}" in done.stdout

    first = subprocess.Popen([sys.executable, str(script), name, str(parts), str(epochs)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = parts / "backup" / "state" / "state.json"
    deadline = time.monotonic() + 240
    try:
        while not (state.exists() and json.loads(state.read_text())["epoch"] >= 2):
            assert first.poll() is None, "training ended before the kill"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    second = subprocess.run([sys.executable, str(script), name, str(parts), str(epochs)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"RESUMED {killed_at}" in second.stdout

    a, b = pd.read_csv(whole / "history.csv"), pd.read_csv(parts / "history.csv")
    assert logged in a.columns and list(a["epoch"]) == list(range(epochs)) == list(b["epoch"])
    # Same seed, same shuffle order, same RNG and optimiser state: the same numbers (CPU, no op
    # determinism asked here, so allow float round-off).
    np.testing.assert_allclose(a.drop(columns="epoch").to_numpy(), b.drop(columns="epoch").to_numpy(),
                               rtol=1e-4, atol=1e-5)


# ------------------------------------------------- the backup itself

def test_a_kill_at_any_point_of_a_backup_leaves_one_that_restores_exactly(tmp_path, monkeypatch):
    """Kill epoch 3's backup while it writes its archive, at the rename of state.json, and while it deletes
    epoch 2's archive: each kill happens (the test checks it did), and epoch 2's or 3's backup is left whole."""
    import pathlib

    from applications.kit.callbacks import ExactBackup

    x = np.random.default_rng(0).random((64, 4)).astype("float32")
    y = x.sum(axis=1)

    def model_and_backup(backup_dir):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dropout(0.2), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.optimizer.build(model.trainable_variables)
        backup = ExactBackup(backup_dir, [])
        backup.set_model(model)
        return model, backup

    class Killed(Exception):
        pass

    def half_written_archive(file, **arrays):  # np.savez killed half way through its zip
        real_savez(file, **arrays)
        data = pathlib.Path(file).read_bytes()
        pathlib.Path(file).write_bytes(data[: len(data) // 2])
        raise Killed

    def killed(*args, **kwargs):
        raise Killed

    real_savez = np.savez
    kill_points = {"archive": (np, "savez", half_written_archive, 2),
                   "rename": (os, "replace", killed, 2),
                   "cleanup": (pathlib.Path, "unlink", killed, 3)}
    for point, (owner, name, replacement, expected_epoch) in kill_points.items():
        backup_dir = tmp_path / point
        model, backup = model_and_backup(backup_dir)
        values = {}
        for epoch in (1, 2, 3):
            model.fit(x, y, epochs=1, batch_size=16, verbose=0)
            values[epoch] = [keras.ops.convert_to_numpy(v) for v in backup._variables()]
            if epoch < 3:
                backup.on_epoch_end(epoch - 1)
        monkeypatch.setattr(owner, name, replacement)
        with pytest.raises(Killed):  # the kill point is reached
            backup.on_epoch_end(2)  # epoch 3's backup
        monkeypatch.undo()

        epoch = ExactBackup.epoch_in(backup_dir)
        assert epoch == expected_epoch, f"killed at the {point}: the backup of epoch {epoch} is left"
        fresh, restorer = model_and_backup(backup_dir)
        restorer.on_train_begin()
        assert fresh._initial_epoch == epoch
        for restored, saved in zip(restorer._variables(), values[epoch], strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored), saved)


def test_a_batch_smaller_than_the_replicas_is_a_one_line_error(tmp_path):
    import argparse

    from applications.kit import run

    class EightReplicas:
        num_replicas_in_sync = 8

    prepared = run.Prepared(train=(np.zeros((64, 4), "float32"), np.zeros(64)), validation=None, test=None,
                            source="zeros")
    args = argparse.Namespace(batch_size=4, seed=0)
    with pytest.raises(UsageError, match="--batch-size 4 is smaller than the 8 replicas it is split over: "
                                         "use --batch-size 8 or more"):
        run.fit(run.Task(), args, prepared, None, tmp_path, tmp_path / "backup", strategy=EightReplicas())


def test_a_backup_that_does_not_fit_the_model_is_a_one_line_error(tmp_path):
    from applications.kit.callbacks import ExactBackup

    state = tmp_path / "state"
    state.mkdir()
    np.savez(state / "arrays.npz", rng_0=np.zeros(2))  # the layout an older version wrote
    (state / "state.json").write_text(json.dumps({"epoch": 2, "callbacks": {}}))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    backup = ExactBackup(tmp_path, [])
    backup.set_model(model)
    with pytest.raises(UsageError, match="holds 0 variables, this model has .*delete that folder"):
        backup.on_train_begin()


def test_train_leaves_the_callers_warning_filters_as_they_were(tmp_path):
    import warnings

    from applications.kit import training

    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    rng = np.random.default_rng(0)
    # A dataset of unknown length (the kit's TrainingPipeline states its own): Keras learns it by running out.
    unknown_length = (tf.data.Dataset.from_tensor_slices((rng.normal(size=(40, 4)).astype("float32"),
                                                         rng.normal(size=40)))
                      .filter(lambda x, y: True).batch(8))
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        training.train(model, unknown_length, epochs=2, run_dir=tmp_path, backup_dir=tmp_path / "backup",
                       loss="mse", steps_per_epoch=5, verbose=0, log=lambda *_: None)
        assert warnings.filters[0][0] == "always"  # the caller's own filter is still the first
    assert list(warnings.filters) == before
    assert not [w for w in caught if "ran out of data" in str(w.message)]  # Keras' length probe stays quiet


def _examples(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=n).astype("float32")


def _batches(n=40):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(_examples(n)).batch(8)


# What a user of the kit's train() may pass by mistake, and the one line it gets (the case, with the error of
# Keras, pandas or TensorFlow it raised before, or what it did instead).
TRAIN_MISTAKES = {
    # an endless first epoch
    "train repeats": (dict(train_data=lambda: _batches().repeat()),
                      r"^train_data repeats forever, so an epoch would never end: drop its \.repeat\(\)"),
    "validation repeats": (dict(validation_data=lambda: _batches().repeat()),
                           r"^validation_data repeats forever, so an epoch would never end"),
    # AttributeError: 'tuple' object has no attribute 'cardinality'
    "arrays": (dict(train_data=_examples), r"^train_data is a tuple: expected a tf\.data\.Dataset of batches, "
                                           r"or arrays wrapped as data\.TrainingPipeline\(x, y, batch_size=\.\.\., "),
    # ValueError from inside Sequential.call()
    "unbatched": (dict(train_data=lambda: _batches().unbatch()),
                  r"^train_data yields single examples of shape \(4,\), and the model takes batches of "
                  r"\(None, 4\): batch it \(e\.g\. \.batch\(32\)\)"),
    # "monitor='loss' is not a logged value: this model logs ; ..."
    "empty": (dict(train_data=lambda: _batches().take(0)), r"^train_data is empty: it has no batches"),
    "empty validation": (dict(validation_data=lambda: _batches().take(0)), r"^validation_data is empty"),
    # pandas' EmptyDataError reading the history no epoch wrote
    "no epochs": (dict(epochs=lambda: 0), r"^epochs=0 is invalid: expected an integer >= 1"),
    # trained on, to a NaN loss
    "NaN": (dict(train_data=lambda: data.TrainingPipeline(np.full((40, 4), np.nan, "float32"), _examples()[1],
                                                          batch_size=8, seed=0)),
            r"^the inputs \(x\) contain NaN or infinite values in 40 of 40 examples; clean or drop them first"),
    "infinite target": (dict(train_data=lambda: data.TrainingPipeline(_examples()[0], np.r_[np.inf, np.zeros(39)],
                                                                      batch_size=8, seed=0)),
                        r"^the targets \(y\) contain NaN or infinite values in 1 of 40 examples"),
}


@pytest.mark.parametrize("case", TRAIN_MISTAKES)
def test_train_refuses_what_it_cannot_train_on_in_one_line(case, tmp_path):
    from applications.kit import training

    changes, message = TRAIN_MISTAKES[case]
    arguments = {"train_data": _batches, "validation_data": _batches, "epochs": lambda: 2}
    arguments.update(changes)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=message):  # (a TrainingPipeline checks its arrays as it is made)
        training.train(model, **{name: make() for name, make in arguments.items()}, run_dir=tmp_path,
                       backup_dir=tmp_path / "backup", loss="mse", steps_per_epoch=5, verbose=0, log=lambda *_: None)
    assert not (tmp_path / "backup").exists()  # refused before training


def test_train_takes_what_keras_takes_and_makes_its_run_folder(tmp_path):
    """What the checks above must let through: epochs from NumPy, a Sequential built by its first batch, and
    batches of shape (None,) for a model taking (None, 1), which Keras reshapes; a run folder not made yet."""
    import tensorflow as tf

    from applications.kit import training

    model = keras.Sequential([keras.layers.Dense(1)])
    result = training.train(model, _batches(), _batches(), epochs=np.int64(2), run_dir=tmp_path,
                            backup_dir=tmp_path / "backup", loss="mse", verbose=0, log=lambda *_: None)
    assert list(result.history["epoch"]) == [0, 1]
    x, y = _examples()
    scalars = tf.data.Dataset.from_tensor_slices((x[:, 0], y)).batch(8)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    training.train(model, scalars, epochs=1, run_dir=tmp_path / "scalars", backup_dir=tmp_path / "scalars" / "backup",
                   loss="mse", verbose=0, log=lambda *_: None)


def test_train_traces_its_steps_once(tmp_path):
    """Keras makes the optimiser's slots and the metrics' variables inside the first trace of its step,
    and a tf.function that makes variables is traced again: train() builds them first (one trace each)."""
    from applications.kit import training

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    traces = {"train": 0, "test": 0}

    def counted(kind, step):
        def traced(batch):
            traces[kind] += 1  # Python runs here only while TensorFlow traces
            return step(batch)
        return traced

    model.train_step, model.test_step = counted("train", model.train_step), counted("test", model.test_step)
    rng = np.random.default_rng(0)
    pipeline = data.TrainingPipeline(rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 3, 40),
                                     batch_size=8, seed=0)
    training.train(model, pipeline, pipeline.dataset, epochs=2, run_dir=tmp_path, backup_dir=tmp_path / "backup",
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=2,
                   verbose=0, log=lambda *_: None)
    assert traces == {"train": 1, "test": 1}


@pytest.mark.parametrize("monitor, mode, message", [
    ("val_acc", "max", r"monitor='val_acc' is not a logged value: this model logs loss, val_loss; monitor one of"),
    ("val_loss", "minimum", r"mode='minimum' is invalid: expected 'min', 'max' or 'auto'"),
])
def test_a_monitor_that_is_not_logged_is_an_error_not_a_warning(monitor, mode, message, tmp_path):
    """Keras' callbacks only warn about a missing monitor and train on without them: a typo must fail."""
    from applications.kit import training

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    rng = np.random.default_rng(0)
    pipeline = data.TrainingPipeline(rng.normal(size=(40, 4)).astype("float32"), rng.normal(size=40), batch_size=8,
                                     seed=0)
    validation = pipeline.dataset.take(1)
    with pytest.raises(ValueError, match=message):
        training.train(model, pipeline, validation, epochs=3, run_dir=tmp_path, backup_dir=tmp_path / "backup",
                       loss="mse", monitor=monitor, mode=mode, verbose=0, log=lambda *_: None)
    assert not (tmp_path / "backup").exists()  # it stopped before the first backup


@pytest.mark.parametrize("flags, gpus, warned", [
    ("avx512f avx512_bf16", [], True),  # this machine: float16 is emulated
    ("avx512f avx512_fp16 amx_fp16", [], False),
    ("avx512f", ["GPU:0"], False),
])
def test_mixed_float16_on_a_cpu_without_float16_warns(flags, gpus, warned, monkeypatch):
    import warnings

    import tensorflow as tf

    monkeypatch.setattr(precision, "cpu_flags", lambda: set(flags.split()))
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert precision.configure_precision("mixed_float16") == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    messages = [str(w.message) for w in caught if "float16" in str(w.message)]
    assert bool(messages) == warned, messages
    if warned:
        assert "--precision auto" in messages[0] and "mixed_bfloat16" in messages[0]

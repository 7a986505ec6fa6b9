"""Issue 30's defects, one test each (each watched failing before its fix)."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_in_process


# ------------------------------------------------- 1. mixed precision must not round raw inputs

@pytest.fixture(scope="module")
def series_around_1e5(tmp_path_factory):
    """An hourly load around 1e5 whose daily swing (+-50) is smaller than bfloat16's spacing there (512)."""
    path = tmp_path_factory.mktemp("raw") / "load.csv"
    hours = np.arange(800)
    load = 1e5 + 50 * np.sin(2 * np.pi * hours / 24) + np.random.default_rng(0).normal(0, 5, len(hours))
    pd.DataFrame({"date": pd.date_range("2020-01-01", periods=len(hours), freq="h"), "load": load}).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("revin", [False, True])
def test_forecast_standardises_raw_readings_in_float32_under_a_mixed_policy(series_around_1e5, policy, revin):
    """The same weights give the float32 model's forecast (raw units) within 1e-3 relative under a mixed policy.

    Before the fix the ``Normalization`` ran in the policy's dtype: bfloat16 rounded every reading to a
    multiple of 512 (the forecast was off by hundreds), float16 overflowed to inf (NaN forecasts).
    """
    import keras

    from applications.forecasting import Forecasting
    from applications.kit.run import parse_args

    task = Forecasting()
    args = parse_args(task, ["--data", str(series_around_1e5), "--lookback", "48", "--horizon", "24",
                             "--revin" if revin else "--no-revin"])
    prepared = task.load(args)
    x_test = prepared.test[0][:64]
    mean, std = prepared.info["mean"][0], prepared.info["std"][0]

    def raw_forecast(model):
        return np.asarray(model(x_test), dtype="float64") * std + mean

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    reference = task.build(args, prepared)
    expected = raw_forecast(reference)
    keras.mixed_precision.set_global_policy(policy)
    mixed = task.build(args, prepared)
    mixed.set_weights(reference.get_weights())
    forecast = raw_forecast(mixed)
    np.testing.assert_allclose(forecast, expected, rtol=1e-3)
    # Sharper: in units of the series' spread, the mixed model's own rounding moves the forecast by
    # about a hundredth; the rounded readings moved it by several spreads.
    assert np.abs(forecast - expected).max() / std < 0.1
    assert mixed.get_layer("standardise").compute_dtype == "float32"


@pytest.mark.parametrize("model", ["conv_autoencoder", "linear_autoencoder"])
def test_compression_scales_pixels_in_float32_under_a_mixed_policy(model):
    """Rescaling and the linear model's centring see raw pixels: they compute in float32 whatever the policy."""
    import keras

    from applications.compression import Compression
    from applications.kit.run import Prepared, parse_args

    task = Compression()
    images = np.random.default_rng(0).integers(0, 256, size=(20, 8, 8, 1), dtype=np.uint8)
    args = parse_args(task, ["--model", model])
    prepared = Prepared(train=(images, images / 255), validation=None, test=images, source="test",
                        info={"image_shape": [8, 8, 1]})
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    built = task.build(args, prepared)
    raw = [layer for part in built.layers if isinstance(part, keras.Model) for layer in part.layers
           if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))]
    assert raw and all(layer.compute_dtype == "float32" for layer in raw)


# ------------------------------------------------- 2. the learning-rate plot draws the rates training used

class RateRecorder:
    """A callback that records the rate each step trained with (Keras calls batch hooks once per execution)."""

    def __new__(cls):
        import keras

        from applications.kit.precision import inner_optimizer

        class Recorder(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.rates, self.start = [], None

            def on_train_batch_begin(self, batch, logs=None):
                # The updates the (inner) optimiser applies: under mixed_float16 the loss scale skips some
                self.start = int(inner_optimizer(self.model.optimizer).iterations.numpy())
                optimizer = inner_optimizer(self.model.optimizer)
                self.scheduled = float(keras.ops.convert_to_numpy(optimizer._get_current_learning_rate()))

            def on_train_batch_end(self, batch, logs=None):
                # The plateau's warm-up sets the variable at batch begin, after this recorder's hook:
                # the variable at the execution's end is what it ran with.
                optimizer = inner_optimizer(self.model.optimizer)
                rate = (self.scheduled if isinstance(optimizer._learning_rate,
                                                     keras.optimizers.schedules.LearningRateSchedule)
                        else float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
                self.rates += [rate] * (int(optimizer.iterations.numpy()) - self.start)

        return Recorder()


def _train_and_plot(tmp_path, settings, *, steps_per_execution, epochs, policy="float32"):
    """Train a small regression with ``settings``; return (the rates it used, the rates the plot draws)."""
    import keras

    from applications.kit import data, training
    from applications.kit.optimisation import learning_rate_per_step

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)).astype("float32")
    weights = np.array([1.0, -2.0, 0.5, 3.0], "float32")
    # The validation targets are the training targets' opposite: the better the fit, the worse val_loss,
    # so the plateau halves the rate every 3 epochs.
    validation = data.make_dataset(x, -(x @ weights), batch_size=80)
    pipeline = data.TrainingPipeline(x, x @ weights, batch_size=8, seed=0)  # 10 steps an epoch
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    recorder = RateRecorder()
    result = training.train(model, pipeline, validation, epochs=epochs, run_dir=tmp_path, loss="mse",
                            backup_dir=tmp_path / "backup", optimiser=settings, callbacks=[recorder],
                            steps_per_execution=steps_per_execution, verbose=0, log=lambda *_: None)
    _, plotted = learning_rate_per_step(model.optimizer, result.history, result.steps_per_epoch, settings,
                                        steps_per_execution=model.steps_per_execution)
    return np.array(recorder.rates), plotted


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_the_plateau_plot_draws_its_warm_up_and_halvings_where_training_had_them(tmp_path, steps_per_execution):
    """Plateau halvings were drawn one epoch late, and a warm-up of 1.5 epochs of 10 steps (15) with executions
    of 4 steps stopped at 13/15 of the peak: no execution starts at step 15 exactly."""
    from applications.kit.optimisation import OptimiserSettings

    settings = OptimiserSettings(learning_rate=0.01, schedule="plateau", warmup_epochs=1.5).check(9)
    used, plotted = _train_and_plot(tmp_path, settings, steps_per_execution=steps_per_execution, epochs=9)
    assert len(used) == 90 and used.max() == pytest.approx(0.01)  # the warm-up reached the peak
    assert sorted(set(np.round(used[15:], 8)), reverse=True)[:2] == [0.01, 0.005]  # and the plateau halved it
    np.testing.assert_allclose(plotted, used, rtol=1e-6)


def test_the_plot_reads_the_schedule_inside_the_loss_scale_optimizer(tmp_path):
    """Under mixed_float16 compile wraps the optimiser: its own rate is a constant, the schedule is inside."""
    from applications.kit.optimisation import OptimiserSettings

    settings = OptimiserSettings(learning_rate=0.01, schedule="cosine", warmup_epochs=1).check(4)
    used, plotted = _train_and_plot(tmp_path, settings, steps_per_execution=1, epochs=4, policy="mixed_float16")
    assert used.max() == pytest.approx(0.01) and used[-1] < 0.002  # warm-up to the peak, then the cosine
    np.testing.assert_allclose(plotted, used, rtol=1e-6)


def test_the_plateau_warm_up_reaches_every_optimiser_of_a_gan(tmp_path):
    """PlateauWarmup set model.optimizer only: a GAN's discriminator trained at its full rate from the start."""
    import keras

    from applications.kit.optimisation import PlateauWarmup, optimizers_of

    class TwoOptimisers(keras.Model):
        def __init__(self):
            inputs = keras.Input((2,))
            super().__init__(inputs, keras.layers.Dense(1)(inputs))
            self.second_optimizer = keras.optimizers.Adam(0.5)

    model = TwoOptimisers()
    model.compile(keras.optimizers.Adam(0.5), "mse")
    warmup = PlateauWarmup(0.5, 10)
    warmup.set_model(model)
    warmup.on_train_batch_begin(0)
    assert len(optimizers_of(model)) == 2
    rates = [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in optimizers_of(model)]
    assert rates == pytest.approx([0.05, 0.05])


# ------------------------------------------------- 4. a crash in the evaluation keeps the trained model

def test_a_crash_in_the_evaluation_keeps_the_model_and_the_rerun_only_evaluates(tmp_path, capsys):
    """evaluate() ran after the backup was deleted and before model.save: a crash there lost the training."""
    import keras

    from applications.kit.run import main_for
    from test_kit import Wine

    class FailsOnce(Wine):
        failures = 1

        def evaluate(self, model, prepared, args, run_dir):
            if FailsOnce.failures:
                FailsOnce.failures -= 1
                raise RuntimeError("the evaluation crashed")
            return super().evaluate(model, prepared, args, run_dir)

    argv = ["--output", tmp_path / "runs", "--epochs", "6", "--verbose", "0", "--precision", "float32"]
    with pytest.raises(RuntimeError, match="the evaluation crashed"):
        run_in_process(main_for(FailsOnce()), *argv, capsys=capsys)
    assert "the same command evaluates it again without training" in capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs" / "wine").glob("2*")
    trained = keras.saving.load_model(run_dir / "model.keras", safe_mode=True).get_weights()
    history = (run_dir / "history.csv").read_bytes()
    assert not (run_dir / "metrics.json").exists()

    code, out, err = run_in_process(main_for(FailsOnce()), *argv, capsys=capsys)
    assert code == 0, err
    assert "Training finished in an earlier run (6 epochs)" in out and "Epoch" not in out
    assert (run_dir / "history.csv").read_bytes() == history  # no epoch trained again
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.8 and metrics["epochs_run"] == 6
    for saved, again in zip(trained, keras.saving.load_model(run_dir / "model.keras").get_weights(), strict=True):
        np.testing.assert_array_equal(saved, again)
    assert not any((tmp_path / "runs" / "wine" / "backup").iterdir())  # deleted once the folder is complete


# ------------------------------------------------- 5. a file whose existence marks progress is written whole

def test_write_json_leaves_the_old_file_or_the_new_one_never_a_part(tmp_path, monkeypatch):
    """A kill in the middle of writing left a truncated metrics.json (a fold marked done, a run.json unreadable)."""
    import pathlib

    from applications.kit import reporting

    target = tmp_path / "metrics.json"
    reporting.write_json(target, {"fold": 1, "test_accuracy": 0.9})

    class Killed(Exception):
        pass

    real_write_text = pathlib.Path.write_text

    def killed_half_way(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise Killed

    monkeypatch.setattr(pathlib.Path, "write_text", killed_half_way)
    with pytest.raises(Killed):
        reporting.write_json(target, {"fold": 2, "test_accuracy": 0.95, "epochs_run": 12})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"fold": 1, "test_accuracy": 0.9}
    reporting.write_json(target, {"fold": 2})
    assert json.loads(target.read_text()) == {"fold": 2}
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["metrics.json"]


def test_the_quality_classifier_is_trained_by_the_kit_into_a_cache_two_runs_can_share(tmp_path, monkeypatch):
    """generation trained it by calling the digits application in process (which reseeded the global
    generators and swapped the dtype policy), through an images file two runs sharing the cache deleted
    under each other. Now: the kit's train(), a staging folder renamed into place, no other application."""
    import keras

    from applications import digits
    from applications.generation import quality
    from applications.kit.images import load_embedded

    def no_digits(argv):
        raise AssertionError("generation called the digits application")

    monkeypatch.setattr(digits, "main", no_digits)
    embedded = load_embedded()
    prepared = type("P", (), {"images": (embedded.x[:400, ..., None], embedded.y[:400]),
                              "info": {"labels": [str(d) for d in range(10)]}})()
    args = type("A", (), {"classifier_epochs": 2, "seed": 0})()
    keras.mixed_precision.set_global_policy("float32")
    classifier = quality.quality_classifier(args, prepared, tmp_path / "run")
    assert keras.config.dtype_policy().name == "float32"
    (folder,) = (tmp_path / "classifiers").iterdir()
    assert {"metrics.json", "model.keras", "history.csv"} <= {p.name for p in folder.iterdir()}
    assert classifier.features(embedded.x[:5, ..., None]).shape[0] == 5
    # A second run that finds another's classifier already in place keeps it and leaves no staging folder.
    quality._CLASSIFIERS.clear()
    before = (folder / "model.keras").stat().st_mtime_ns
    quality.train_quality_classifier(*prepared.images, 10, folder, args)
    assert (folder / "model.keras").stat().st_mtime_ns == before
    assert [p.name for p in (tmp_path / "classifiers").iterdir()] == [folder.name]


# ------------------------------------------------- 8. early stopping's best value survives a resume

def test_a_resumed_run_keeps_early_stoppings_best_epoch_and_weights(tmp_path):
    """Keras 3 sets EarlyStopping's comparison up lazily at the first epoch's end; were the restored best
    reset there, the first resumed epoch would always 'improve'. Killed just after the best epoch of a
    non-monotone validation curve, the resumed run must end with the same best epoch and weights."""
    import keras
    import tensorflow as tf

    from applications.kit import data, training
    from applications.kit.optimisation import OptimiserSettings

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32")).astype("float32")
    x_val = rng.normal(size=(32, 4)).astype("float32")
    y_val = (x_val @ np.array([1.0, -2.0, 0.5, 1.0], "float32") + rng.normal(0, 1, 32)).astype("float32")

    class Killed(Exception):
        pass

    class KillAt(keras.callbacks.Callback):
        def __init__(self, epoch):
            super().__init__()
            self.epoch = epoch

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.epoch:
                raise Killed  # the backup of the epoch before is complete

    def run(folder, callbacks=()):
        keras.utils.set_random_seed(0)
        tf.config.experimental.enable_op_determinism()
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(1)])
        pipeline = data.TrainingPipeline(x, y, batch_size=16, seed=0)
        result = training.train(model, pipeline, data.make_dataset(x_val, y_val, batch_size=32), epochs=14,
                                 run_dir=folder, backup_dir=folder / "backup", loss="mse", callbacks=callbacks,
                                 optimiser=OptimiserSettings(learning_rate=0.02, schedule="constant"),
                                 verbose=0, log=lambda *_: None)
        return model, result

    whole, result = run(tmp_path / "whole")
    losses = result.history["val_loss"].to_numpy()
    best = int(losses.argmin())
    assert 0 < best < 12 and (np.diff(losses) > 0).any() and (np.diff(losses) < 0).any()  # not monotone
    assert losses[best + 1] > losses[best]  # the first resumed epoch is worse than the best so far
    with pytest.raises(Killed):
        run(tmp_path / "parts", [KillAt(best + 2)])
    resumed, result_resumed = run(tmp_path / "parts")
    assert result_resumed.resumed_from_epoch == best + 2
    np.testing.assert_array_equal(result_resumed.history["val_loss"], losses)
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # both restored the best epoch's weights


# ------------------------------------------------- bad input: one line, exit code 2, no traceback

def _wine_run(folder):
    """A finished run folder of the test kit's wine application (trained for 2 epochs)."""
    from applications.kit.run import main_for
    from test_kit import Wine

    code, _, err = run_in_process(main_for(Wine()), "--output", folder, "--epochs", "2", "--verbose", "0")
    assert code == 0, err
    return next((folder / "wine").glob("2*"))


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    return _wine_run(tmp_path_factory.mktemp("wine"))


def _lambda_model(run):
    import keras

    inputs = keras.Input((13,))
    keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(run / "model.keras")


@pytest.mark.parametrize("damage, fragment", [
    (lambda run: (run / "metrics.json").write_text("{not json"), "its metrics.json is not readable JSON"),
    (lambda run: (run / "metrics.json").write_text("[1, 2]"), "its metrics.json holds a JSON list"),
    (lambda run: (run / "model.keras").write_bytes((run / "model.keras").read_bytes()[:2000]),
     "model.keras cannot be loaded as a Keras model"),
    (_lambda_model, "holds Python code (a Lambda layer), which loading would run: it is refused"),
], ids=["metrics-not-json", "metrics-a-list", "model-truncated", "model-with-lambda"])
def test_a_damaged_run_folder_given_to_from_is_one_line(wine_run, tmp_path, damage, fragment):
    import shutil

    from applications.kit.errors import UsageError
    from applications.kit.run import open_run

    run = tmp_path / "run"
    shutil.copytree(wine_run, run)
    damage(run)
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as caught:
        open_run(run, "wine", "the wine application")
    assert "\n" not in str(caught.value)


def test_predict_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    from applications.sentiment import main

    (tmp_path / "texts.txt").write_bytes(b"A fine film\n\xff\xfe not text \x80\n")
    code, _, err = run_in_process(main, "predict", "--from", tmp_path, "--file", tmp_path / "texts.txt", capsys=capsys)
    assert code == 2 and "is not UTF-8 text (byte 0xff at offset 12); save it as UTF-8" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"a,b\n1,2\n", bytes(4096)], ids=["csv-renamed", "zero-filled"])
def test_a_file_that_is_not_an_npz_never_suggests_unpickling_it(tmp_path, content):
    from applications.kit import data
    from applications.kit.errors import DataError

    path = tmp_path / "images.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"is not an NPZ of arrays \(.*\); save the arrays with np.savez") as caught:
        data.load_npz(path)
    assert "pickle" not in str(caught.value)


# ------------------------------------------------- bad input: silent wrong answers on images

def test_16_bit_grey_pngs_are_scaled_by_their_real_range_and_the_source_says_so(tmp_path):
    """Pillow's 8-bit conversion clipped every value above 255: a 12-bit scan became nearly all white."""
    from PIL import Image

    from applications.kit.images import load_images

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 4001, size=(8, 8)).astype(np.uint16)).save(tmp_path / label / f"{i}.png")
    raw = np.stack([np.asarray(Image.open(p)) for p in sorted(tmp_path.rglob("*.png"))])
    dataset = load_images(tmp_path)
    assert dataset.x.dtype == np.uint8 and dataset.x.shape == (6, 8, 8, 1)
    np.testing.assert_array_equal(dataset.x[..., 0], np.round(raw * (255 / raw.max())).astype(np.uint8))
    assert f"values 0-{raw.max()}, scaled to 0-255 by 255/{raw.max()}" in dataset.source


def test_boolean_images_are_read_as_black_and_white_and_the_source_says_so(tmp_path):
    """x > 127 saved as booleans trained as 0/1 pixels, black after Rescaling(1/255), without a word."""
    from applications.kit.images import load_embedded, load_images

    digits = load_embedded()
    np.savez(tmp_path / "binary.npz", x=digits.x[:50] > 127, y=digits.y[:50])
    dataset = load_images(tmp_path / "binary.npz")
    assert set(np.unique(dataset.x)) == {0, 255}
    np.testing.assert_array_equal(dataset.x[..., 0] == 255, digits.x[:50] > 127)
    assert "boolean images read as 0 and 255" in dataset.source


# ------------------------------------------------- bad input: tables and IDX files

def test_a_table_that_is_a_folder_or_not_text_is_refused_at_once(tmp_path):
    """A folder was 'no such file'; a 2 GB file of NUL bytes grew past 8 GB in pandas before failing."""
    import time

    from applications.kit import data
    from applications.kit.errors import DataError

    (tmp_path / "reviews").mkdir()
    with pytest.raises(DataError, match=r"is a folder; give the CSV or TSV file itself"):
        data.read_table(tmp_path / "reviews")
    nul = tmp_path / "zeros.csv"
    with open(nul, "wb") as file:
        file.truncate(512 * 2**20)  # 512 MiB of NUL bytes, sparse on disk
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"is not a text table \(it holds NUL bytes\); give a CSV or TSV file"):
        data.read_table(nul)
    assert time.perf_counter() - started < 1.0


def test_a_table_that_fails_to_parse_names_the_separator_its_header_holds(tmp_path):
    """A ';'-separated table whose texts hold commas failed in pandas' parser with only 'pass --sep'."""
    from applications.kit import data
    from applications.kit.errors import DataError

    path = tmp_path / "reviews.csv"
    path.write_text("text;label\nGood, really good;pos\nBad, slow, long, dull;neg\n")
    with pytest.raises(DataError, match=r"its header looks ';'-separated: pass --sep ';'"):
        data.read_table(path)


def test_an_idx_file_is_checked_by_its_header_before_its_body_is_read(tmp_path, monkeypatch):
    """load_idx read the whole file (2.9 GB resident for a 2 GB file) before looking at its 4-byte magic."""
    import builtins

    from applications.kit import data
    from applications.kit.errors import DataError

    path = tmp_path / "big-images-idx3-ubyte"
    with open(path, "wb") as file:
        file.write(b"PK\x03\x04")
        file.truncate(64 * 2**20)
    read_sizes = []
    real_open = builtins.open

    def tracking_open(*args, **kwargs):
        handle = real_open(*args, **kwargs)
        real_read = handle.read

        def read(size=-1):
            read_sizes.append(size)
            return real_read(size)

        handle.read = read
        return handle

    monkeypatch.setattr(builtins, "open", tracking_open)
    with pytest.raises(DataError, match="is not an IDX file"):
        data.load_idx(path)
    monkeypatch.undo()
    assert read_sizes and all(0 <= size <= 64 for size in read_sizes)  # the header only

    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape)
    (tmp_path / "ok").write_bytes(header + images.tobytes())
    np.testing.assert_array_equal(data.load_idx(tmp_path / "ok"), images)
    (tmp_path / "long").write_bytes(header + images.tobytes() + b"\0")
    with pytest.raises(DataError, match=r"promises shape \(2, 3, 4\) \(40 bytes\) but it has 41"):
        data.load_idx(tmp_path / "long")


# ------------------------------------------------- bad input: time columns

def test_a_time_column_is_found_by_parsing_not_by_its_name(capsys):
    """'Datum' was taken for a text feature (with a hint to one-hot encode it); 'Month' of 1949-01 too."""
    from applications.forecasting.series import series_from_frame

    frame = pd.DataFrame({"Month": [f"{1949 + m // 12}-{m % 12 + 1:02d}" for m in range(36)],
                          "Passengers": np.arange(36.0) * 3 + 100})
    series = series_from_frame(frame.iloc[::-1], source="air.csv")  # rows out of order: the time orders them
    assert series.columns == ["Passengers"] and series.values[0, 0] == 100 and series.values[-1, 0] == 205
    german = pd.DataFrame({"Datum": pd.date_range("2020-01-01", periods=30, freq="D").strftime("%Y-%m-%d"),
                           "Last": np.arange(30.0)})
    assert series_from_frame(german, source="last.csv").columns == ["Last"]


def test_integer_unix_seconds_are_read_as_seconds_and_other_numbers_refused(capsys):
    """pd.to_datetime read Unix seconds as nanoseconds: every row fell on 1 January 1970, silently."""
    from applications.forecasting.series import parse_timestamps
    from applications.kit.errors import DataError

    seconds = pd.Series(1_577_836_800 + 3600 * np.arange(48))  # 2020-01-01 00:00 UTC, hourly
    notes = []
    stamps = parse_timestamps(seconds, "time", source="load.csv", notes=notes)
    assert stamps.iloc[0] == pd.Timestamp("2020-01-01") and stamps.iloc[1] - stamps.iloc[0] == pd.Timedelta("1h")
    assert notes == ["load.csv: 'time' read as Unix time in seconds (2020-01-01 00:00:00 to 2020-01-02 23:00:00)"]
    millis = parse_timestamps(seconds * 1000, "time", source="load.csv")
    assert millis.iloc[-1] == pd.Timestamp("2020-01-02 23:00")
    with pytest.raises(DataError, match=r"holds numbers \(1 to 48\) that are not Unix time"):
        parse_timestamps(pd.Series(np.arange(1, 49)), "time", source="load.csv")


def test_a_model_argument_refused_by_the_builder_leaves_no_run_folder_behind(tmp_path, capsys):
    """The run folder and the backup key were made before the builder refused: an empty folder was left."""
    from applications.kit.run import main_for
    from test_kit import Wine

    code, _, err = run_in_process(main_for(Wine()), "--output", tmp_path, "--model-arg", "width=-3", capsys=capsys)
    assert code == 2 and "--model mlp: width=-3 is invalid" in err
    assert not list((tmp_path / "wine").glob("2*")) and not list((tmp_path / "wine").glob("backup/*"))


def test_swapped_text_and_label_columns_name_the_fix_not_a_whole_review(tmp_path, capsys):
    """With the columns swapped, every review was a class: the error printed a whole review as its name."""
    from applications.sentiment import main

    review = "An astonishing film, " * 30
    rows = [{"label": f"{review} number {i}", "text": "pos" if i % 2 else "neg"} for i in range(60)]
    pd.DataFrame(rows).to_csv(tmp_path / "swapped.csv", index=False)
    code, _, err = run_in_process(main, "--data", tmp_path / "swapped.csv", "--output", tmp_path, capsys=capsys)
    assert code == 2 and "the labels hold 60 different values for 60 examples" in err
    assert "--text-column and --label-column" in err and len(err) < 400, err


# ------------------------------------------------- 7. evaluate subcommands check the data they reload

def test_compression_evaluate_refuses_data_that_changed_since_training(tmp_path, capsys):
    """evaluate reloaded the data from the run's recorded arguments and evaluated whatever the file held now."""
    from applications import compression
    from applications.kit.images import load_embedded

    images = load_embedded().x[:300]
    np.savez(tmp_path / "digits.npz", x=images)
    code, _, err = run_in_process(compression.main, "train", "--data", tmp_path / "digits.npz", "--model", "dense",
                                  "--epochs", "1", "--verbose", "0", "--output", tmp_path / "runs", capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "runs" / "compression").glob("2*"))
    code, out, err = run_in_process(compression.main, "evaluate", "--from", run_dir, capsys=capsys)
    assert code == 0, err  # the same data: evaluated
    np.savez(tmp_path / "digits.npz", x=images[::-1])
    code, _, err = run_in_process(compression.main, "evaluate", "--from", run_dir, capsys=capsys)
    assert code == 2 and "changed since the run trained on it" in err and len(err.strip().splitlines()) == 1


def test_cross_validation_trains_each_fold_under_the_strategy_asked_for(tmp_path, monkeypatch):
    """--cv K --strategy mirrored made the strategy, then trained every fold on the default one."""
    import tensorflow as tf

    import applications.kit.run as kit_run
    from applications.sentiment import Sentiment

    pd.DataFrame({"text": [f"text {i}" for i in range(30)], "label": np.arange(30) % 2}).to_csv(
        tmp_path / "t.csv", index=False)
    strategies = []

    def fake_fit(task, args, fold, optimiser, run_dir, backup_dir, **options):
        strategies.append(options.get("strategy"))
        return None, type("Result", (), {"history": [0]})(), {"test_accuracy": 0.5}

    monkeypatch.setattr(kit_run, "fit", fake_fit)
    kit_run.run(Sentiment(), ["--data", str(tmp_path / "t.csv"), "--cv", "3", "--strategy", "mirrored",
                              "--output", str(tmp_path)])
    assert len(strategies) == 3 and all(isinstance(s, tf.distribute.MirroredStrategy) for s in strategies)


def test_a_gans_papers_betas_reach_both_optimisers_through_the_kits_settings():
    """generation read zoo.gan.DEFAULT_ADAM and set the betas on the optimisers after the kit made them;
    now new_optimizer(beta_1=...) changes the OptimiserSettings the kit makes them from."""
    import argparse

    import zoo
    from applications.generation import Generation
    from applications.kit.errors import OptimisationError
    from applications.kit.optimisation import OptimiserSettings, make_optimizer

    settings = OptimiserSettings(learning_rate=2e-4, schedule="constant").check(5)
    model = zoo.build("wgan_gp", input_shape=(8, 8, 1), latent_dim=4)
    Generation().compile(model, argparse.Namespace(model="wgan_gp", optimizer="adam"),
                         lambda **changes: make_optimizer(__import__("dataclasses").replace(settings, **changes).check(5),
                                                          steps_per_epoch=10, epochs=5))
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)  # --learning-rate, not the paper's 1e-4
    with pytest.raises(OptimisationError, match="beta_1=0.5 applies to adam and adamw"):
        OptimiserSettings(optimizer="sgd", beta_1=0.5).check(5)

"""The forecasting application: CSV handling, leak-free scaling, windows, baselines, export, errors, resume."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import kill_and_resume, run_in_process


@pytest.fixture(scope="module")
def co2_run(tmp_path_factory):
    """The default data (statsmodels' weekly CO2), DLinear with RevIN, exported."""
    work = tmp_path_factory.mktemp("forecast")
    from applications.forecasting import main

    code, out, err = run_in_process(main, "--revin", "--epochs", "8", "--export", "--output", work / "runs",
                                    "--export-dir", work / "saved_models")
    assert code == 0, out + err
    return work, next((work / "runs" / "forecast").glob("2*")), out


def test_default_data_beats_the_naive_baselines(co2_run):
    _, run_dir, out = co2_run
    assert "Data: Mauna Loa weekly CO2" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["targets"] == ["co2"] and metrics["lookback"] == 96 and metrics["horizon"] == 24
    assert metrics["season"] in (52, 53)  # weekly data: a year is 52.18 weeks
    baselines = metrics["baselines"]
    assert {"last value", "ridge"} <= set(baselines) and any(k.startswith("seasonal naive") for k in baselines)
    assert metrics["test_mse"] < baselines["last value"]["mse"]
    assert metrics["test_mse"] < min(v["mse"] for k, v in baselines.items() if k.startswith("seasonal naive"))
    # Holt-Winters (trend and the yearly season), fitted on the training weeks and rolled forward, beats the
    # last value on CO2.
    assert baselines["exponential smoothing"]["mse"] < baselines["last value"]["mse"]
    # The original-scale scores are those of the saved model's forecasts in ppm against the CO2 readings
    # themselves: the test windows cut here by plain indexing (each forecast starts in the last 20 % of the rows,
    # its lookback may reach back before them), scored with scikit-learn.
    import keras
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    from applications.forecasting.application import load_co2

    ppm = load_co2(max_gap=24).values[:, 0]
    start, lookback, horizon = int(len(ppm) * 0.7) + int(len(ppm) * 0.1), 96, 24
    starts = range(start, len(ppm) - horizon + 1)
    x = np.stack([ppm[s - lookback:s] for s in starts])[..., None]
    y = np.stack([ppm[s:s + horizon] for s in starts])
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    forecast = np.asarray(model.predict(x, verbose=0))[..., 0] * metrics["std"][0] + metrics["mean"][0]
    assert metrics["test_mse_original"] == pytest.approx(mean_squared_error(y, forecast), rel=1e-3)
    assert metrics["test_mae_original"] == pytest.approx(mean_absolute_error(y, forecast), rel=1e-3)
    for png in ("forecasts.png", "error_by_horizon.png", "learning_curves.png", "learning_rate.png"):
        assert (run_dir / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # a fresh process per app: digits' and sentiment's exports are in the quick tier
def test_export_takes_raw_windows_in_a_fresh_process(co2_run):
    import keras

    import applications.forecasting.application  # noqa: F401  registers RevIN and the augmentation layers

    work, run_dir, _ = co2_run
    export = work / "saved_models" / "forecast" / "1"
    metadata = json.loads((export / "metadata.json").read_text())
    window = np.array(metadata["example_request"]["instances"], dtype="float32")
    assert window.shape == (1, 96, 1) and 300 < window.mean() < 400  # raw ppm, not standardised
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    info = json.loads((run_dir / "metrics.json").read_text())
    expected = np.asarray(model(window), dtype="float32") * info["std"][0] + info["mean"][0]
    np.save(work / "window.npy", window)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
        np.save({str(work / "served.npy")!r}, serve(window=tf.constant(np.load({str(work / "window.npy")!r})))["forecast"].numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    served = np.load(work / "served.npy")
    assert served.shape == (1, 24, 1)
    np.testing.assert_allclose(served, expected, rtol=1e-4)  # ppm, float32 (RevIN and the head are float32)

    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    ran = subprocess.run([cli, "run", "--dir", str(export), "--tag_set", "serve", "--signature_def",
                          "serving_default", "--inputs", f"window={work / 'window.npy'}"],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "forecast" in ran.stdout


def test_scaler_sees_the_training_rows_only(tmp_path):
    """Changing every validation and test value leaves the scaler (and the training windows) unchanged."""
    from applications.forecasting import Forecasting
    from applications.kit.run import parse_args

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400).cumsum(), "b": rng.normal(size=400)})
    frame.to_csv(tmp_path / "one.csv", index=False)
    changed = frame.copy()
    changed.iloc[280:] = changed.iloc[280:] * 1000 + 5  # rows after the 70% training part
    changed.to_csv(tmp_path / "two.csv", index=False)
    task = Forecasting()
    prepared = [task.load(parse_args(task, ["--data", str(tmp_path / name), "--lookback", "10",
                                            "--horizon", "5"])) for name in ("one.csv", "two.csv")]
    assert prepared[0].info["mean"] == prepared[1].info["mean"]
    assert prepared[0].info["std"] == prepared[1].info["std"]
    np.testing.assert_allclose(prepared[0].info["mean"], frame.iloc[:280].mean(), rtol=1e-5)
    np.testing.assert_array_equal(prepared[0].train[0], prepared[1].train[0])
    assert not np.array_equal(prepared[0].test[1], prepared[1].test[1])


def test_windows_follow_the_split_and_the_ett_protocol():
    from applications.forecasting.series import make_windows

    values = np.arange(100, dtype="float32")[:, None].repeat(2, axis=1)
    values[:, 1] += 1000
    x, y = make_windows(values, lookback=10, horizon=5, targets=1, start=70, end=90)
    # Forecasts start at rows 70..85 (the last ends at row 89); inputs reach back 10 rows before 70.
    assert x.shape == (16, 10, 2) and y.shape == (16, 5, 1)
    np.testing.assert_array_equal(x[0, :, 0], np.arange(60, 70))
    np.testing.assert_array_equal(y[0, :, 0], np.arange(70, 75))
    np.testing.assert_array_equal(y[-1, :, 0], np.arange(85, 90))
    x, _ = make_windows(values, lookback=10, horizon=5, targets=1, start=0, end=70)
    np.testing.assert_array_equal(x[0, :, 0], np.arange(0, 10))  # the first window needs 10 rows of history
    assert len(make_windows(values, lookback=10, horizon=5, targets=1, start=95, end=100)[0]) == 1
    assert make_windows(values, lookback=10, horizon=5, targets=1, start=96, end=100) is None
    # The windows are views of the series, not a copy of each window.
    x, y = make_windows(values, lookback=10, horizon=5, targets=1, start=0, end=100)
    assert np.shares_memory(x, values) and np.shares_memory(y, values) and not x.flags.writeable


def test_csv_columns_categoricals_and_gaps(capsys):
    from applications.forecasting.series import series_from_frame

    frame = pd.DataFrame({
        "date": ["2020-01-03", "2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05", "2020-01-06"],
        "load": [np.nan, 1.0, 2.0, np.nan, np.nan, 6.0],
        "temp": [13.0, 11.0, 12.0, 14.0, 15.0, 16.0],
        "wind": ["N", "S", "N", "E", "S", "N"],
    })
    series = series_from_frame(frame, source="t", targets=["load"], features=["temp", "wind"], categorical=["wind"],
                               max_gap=3)
    assert series.columns == ["load", "temp", "wind=E", "wind=N", "wind=S"]  # targets first
    assert str(series.time[0].date()) == "2020-01-01"  # sorted by the date column
    np.testing.assert_array_equal(series.values[:, 0], [1, 2, 2, 2, 2, 6])  # forward-filled
    np.testing.assert_array_equal(series.values[:, 3], [0, 1, 1, 0, 0, 1])  # wind=N one-hot
    assert series.notes == ["t: forward-filled 3 missing values (gaps of at most --max-gap 3 steps)"]  # the run
    assert capsys.readouterr().out == ""  # prints what loading changed (Prepared.notes); the loader prints nothing
    leading = series_from_frame(pd.DataFrame({"a": [np.nan, 1.0, 2.0], "b": [1.0, 2.0, 3.0]}), source="t")
    assert len(leading.values) == 2  # the leading row without a value is dropped


def test_time_steps_missing_from_a_regular_series_become_gaps(capsys):
    """Rows left out of an hourly series are put back as missing values, so no window spans the hole."""
    from applications.kit.errors import DataError
    from applications.forecasting.series import series_from_frame

    hours = pd.date_range("2020-01-01", periods=10, freq="h")
    frame = pd.DataFrame({"time": hours.astype(str), "a": np.arange(10.0)}).drop(index=[3, 4])
    series = series_from_frame(frame, source="t", max_gap=2)
    np.testing.assert_array_equal(series.values[:, 0], [0, 1, 2, 2, 2, 5, 6, 7, 8, 9])
    assert list(series.time) == list(hours)
    assert "t: 2 time steps of 01:00:00 are missing (the longest gap: 2 steps after 2020-01-01 02:00:00); they " \
           "are filled as missing values" in series.notes
    with pytest.raises(DataError, match=r"2 missing values in a row from row 3 \(2020-01-01 03:00:00\), more than "
                                        "--max-gap 1"):
        series_from_frame(frame, source="t", max_gap=1)

    # A calendar frequency is regular as it is; uneven steps off any grid are kept and reported.
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    regular = series_from_frame(pd.DataFrame({"time": months, "a": np.arange(24.0)}), source="m")
    assert len(regular.values) == 24 and regular.notes == []
    uneven = series_from_frame(pd.DataFrame({"time": months.delete(5), "a": np.arange(23.0)}), source="m")
    assert len(uneven.values) == 23
    assert uneven.notes[0].startswith("m: the time steps are uneven (28 days to 61 days), so rows are taken as "
                                      "consecutive steps; give --freq")
    assert capsys.readouterr().out == ""


def test_time_column_formats_that_pandas_alone_would_refuse(capsys):
    """Formats varying by row, and local time across a daylight-saving change, are read; ambiguity is an error."""
    from applications.kit.errors import DataError
    from applications.forecasting.series import series_from_frame

    # Midnight written as a bare date, as spreadsheets do: pandas' one inferred format fails on the next row.
    stamps = ["2020-01-01", "2020-01-01 01:00", "2020-01-01 02:00", "2020-01-01 03:00"]
    series = series_from_frame(pd.DataFrame({"date": stamps, "a": [1.0, 2.0, 3.0, 5.0]}), source="t")
    assert list(series.time) == list(pd.date_range("2020-01-01", periods=4, freq="h"))
    # Paris on the night clocks go forward: 01:00+01:00 is followed by 03:00+02:00, one hour later.
    local = ["2020-03-29T00:00:00+01:00", "2020-03-29T01:00:00+01:00", "2020-03-29T03:00:00+02:00",
             "2020-03-29T04:00:00+02:00"]
    series = series_from_frame(pd.DataFrame({"date": local, "a": [1.0, 2.0, 3.0, 5.0]}), source="t")
    assert list(series.time) == list(pd.date_range("2020-03-28 23:00", periods=4, freq="h", tz="UTC"))
    assert series.notes == ["t: the timestamps in 'date' carry different UTC offsets (a daylight-saving change?); "
                            "they are read as UTC"]
    # Some with an offset, some without: no instant can be assumed for the others.
    with pytest.raises(DataError, match=r"^--time-column 'date' could not be read as dates \(unconverted data "
                                        r"remains .*\); write them as ISO 8601 \(2020-01-31 13:00\)$"):
        series_from_frame(pd.DataFrame({"date": ["2020-01-01T00:00:00", local[1]], "a": [1.0, 2.0]}), source="t")


def test_dayfirst_reads_day_month_year_dates_and_keeps_iso_dates(capsys, recwarn):
    """--dayfirst: 01/02/2020 is 1 February; without it a day-first file gets a hint, not pandas' advice."""
    from applications.kit.errors import DataError
    from applications.forecasting.series import series_from_frame

    notes = []

    def times(stamps, **options):
        frame = pd.DataFrame({"date": stamps, "a": np.arange(float(len(stamps)))})
        series = series_from_frame(frame, source="t", **options)
        notes[:] = series.notes
        return list(series.time)

    monthly = ["01/01/2020", "01/02/2020", "01/03/2020", "01/04/2020"]  # every day <= 12: pandas reads them as days
    assert times(monthly, dayfirst=True) == list(pd.date_range("2020-01-01", periods=4, freq="MS"))
    assert times(monthly) == list(pd.date_range("2020-01-01", periods=4, freq="D"))  # month first, as pandas does
    dotted = ["31.01.2020 22:00", "31.01.2020 23:00", "01.02.2020 00:00", "01.02.2020 01:00"]
    assert times(dotted, dayfirst=True) == list(pd.date_range("2020-01-31 22:00", periods=4, freq="h"))
    iso = ["2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"]  # pandas' dayfirst alone read 2020-01-02 as 1 Feb
    assert times(iso, dayfirst=True) == list(pd.date_range("2020-01-02", periods=4, freq="D"))
    # The first date is ambiguous, so pandas takes month/day/year and fails on 13/01: the error names --dayfirst.
    with pytest.raises(DataError, match=r"write them as ISO 8601 \(2020-01-31 13:00\) \(or pass --dayfirst if they "
                                        r"are day/month/year\)$"):
        times(["12/01/2020", "13/01/2020", "14/01/2020"])
    assert times(["12/01/2020", "13/01/2020", "14/01/2020"], dayfirst=True) == list(
        pd.date_range("2020-01-12", periods=3, freq="D"))
    # A first date that can only be day first: pandas reads it so and warns "pass dayfirst=True"; we say it once.
    assert times(["13/01/2020", "14/01/2020"]) == list(pd.date_range("2020-01-13", periods=2, freq="D"))
    assert notes == ["t: the dates in 'date' are read as day/month/year, as their first, '13/01/2020', can only "
                     "be; pass --dayfirst to say so"]
    assert capsys.readouterr().out == ""
    assert not [w for w in recwarn if "dayfirst" in str(w.message)]


def test_freq_puts_a_calendar_series_on_its_grid(capsys):
    """--freq MS: months left out come back as missing values; timestamps off the grid are an error."""
    from applications.kit.errors import DataError
    from applications.forecasting.series import series_from_frame

    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    frame = pd.DataFrame({"time": months.delete([5, 6]), "a": np.arange(22.0)})
    series = series_from_frame(frame, source="m", freq="MS")
    assert list(series.time) == list(months)
    np.testing.assert_array_equal(series.values[:9, 0], [0, 1, 2, 3, 4, 4, 4, 5, 6])
    assert series.notes == ["m: 2 time steps of --freq MS are missing (the longest gap: 2 steps after 2020-05-01 "
                            "00:00:00); they are filled as missing values", "m: forward-filled 2 missing values "
                            "(gaps of at most --max-gap 24 steps)"]
    with pytest.raises(DataError, match=r"22 of the 22 timestamps are not on a --freq ME grid \(the first: 2020-01-01"):
        series_from_frame(frame, source="m", freq="ME")
    with pytest.raises(DataError, match="no two timestamps are one --freq D step apart"):
        series_from_frame(frame, source="m", freq="D")
    with pytest.raises(DataError, match="no time column for --freq MS: name it with --time-column"):
        series_from_frame(frame.drop(columns="time"), source="m", freq="MS")
    # A column of dates is the time column whatever its name.
    assert list(series_from_frame(frame.rename(columns={"time": "month"}), source="m", freq="MS").time) == list(months)
    # A regular series on its --freq is left as it is, silently.
    regular = series_from_frame(pd.DataFrame({"time": months, "a": np.arange(24.0)}), source="m", freq="MS")
    assert len(regular.values) == 24 and regular.notes == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("stamps, message", [
    (["2020-01-01", "2020-01-01", "2020-01-02"], "the time column repeats 1 timestamps (the first: 2020-01-01"),
    (["2020-01-01", None, "2020-01-03"], "the time column has empty values"),
])
def test_repeated_or_empty_timestamps_are_an_error(stamps, message):
    from applications.kit.errors import DataError
    from applications.forecasting.series import series_from_frame

    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        series_from_frame(pd.DataFrame({"time": stamps, "a": [1.0, 2.0, 3.0]}), source="t")


def test_seasonal_naive_and_ridge_baselines_are_exact_where_they_should_be():
    from applications.forecasting import detect_season, fit_ridge, last_value, seasonal_naive

    steps = np.arange(2000)
    periodic = np.sin(2 * np.pi * steps / 24).astype("float32")
    assert detect_season(periodic, max_lag=100) == 24
    windows = np.stack([periodic[i:i + 48] for i in range(0, 1900, 7)])[..., None]
    future = np.stack([periodic[i + 48:i + 60] for i in range(0, 1900, 7)])[..., None]
    np.testing.assert_allclose(seasonal_naive(windows, 12, 1, 24), future, atol=1e-5)
    np.testing.assert_array_equal(last_value(windows, 12, 1), np.repeat(windows[:, -1:], 12, axis=1))
    # A linear trend: the de-levelled ridge map continues it whatever the level.
    trend = np.arange(5000, dtype="float64")
    x = np.stack([trend[i:i + 20] for i in range(0, 4000, 13)])[..., None]
    y = np.stack([trend[i + 20:i + 25] for i in range(0, 4000, 13)])[..., None]
    predict = fit_ridge(x[:200], y[:200], alpha=1e-6)
    np.testing.assert_allclose(predict(x[200:] + 1e4), y[200:] + 1e4, atol=1e-3)


def test_revin_layers_round_trip():
    from zoo.layers import InstanceRestoration, InstanceStandardization

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4, 30, 3)) * [1, 10, 100] + [5, -50, 500]).astype("float32")
    normalised, mean, std = InstanceStandardization()(x)
    np.testing.assert_allclose(np.asarray(normalised).mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(normalised).std(axis=1), 1, atol=1e-3)
    restored = InstanceRestoration(2)([normalised[:, :7, :2], mean, std])
    np.testing.assert_allclose(restored, x[:, :7, :2], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name", ["jitter", "scaling", "magnitude_warp", "time_warp", "window_crop", "masking"])
def test_time_series_augmentations_act_only_in_training(name):
    from applications.kit.augmentation import time_series_augmentation

    x = np.sin(np.linspace(0, 12, 64))[None, :, None].repeat(8, 0).repeat(2, 2).astype("float32")
    layer = time_series_augmentation([name], seed=3)
    augmented = np.asarray(layer(x, training=True))
    assert augmented.shape == x.shape and np.isfinite(augmented).all()
    assert not np.allclose(augmented, x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


@pytest.mark.parametrize("model", ["lstm", "gru", "transformer", "tcn", "mlp", "dlinear"])
def test_every_forecaster_trains_on_a_multivariate_csv(model, tmp_path, capsys):
    from applications.forecasting import main

    rng = np.random.default_rng(0)
    t = np.arange(300)
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=300, freq="h"),
                  "y": np.sin(2 * np.pi * t / 12) + 0.1 * rng.normal(size=300),
                  "z": np.cos(2 * np.pi * t / 12),
                  "x": np.where(t == 50, np.nan, rng.normal(size=300))}).to_csv(tmp_path / "s.csv", index=False)
    code, out, err = run_in_process(main, "--data", tmp_path / "s.csv", "--targets", "y,z", "--features", "x",
                                    "--model", model, "--lookback", "32", "--horizon", "6", "--epochs", "1", "--min-steps", "0", "--augment",
                                    "jitter,masking", "--verbose", "0", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    # The run prints what loading did to the data (the loader itself prints nothing).
    assert f"\n  {tmp_path / 's.csv'}: forward-filled 1 missing values (gaps of at most --max-gap 24 steps)\n" in out
    assert "\n  300 rows x 3 columns (y, z, x); forecasting y, z; windows " in out
    run_dir = next((tmp_path / "forecast").glob("2*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["columns"] == ["y", "z", "x"] and metrics["targets"] == ["y", "z"]
    assert np.isfinite(metrics["test_mse"])
    # The augmentation is in the trained model, active in training only: two calls in training mode differ,
    # two in inference mode agree.
    import keras

    trained = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    augmentation = trained.get_layer("augmentation")
    assert [layer.name for layer in augmentation.layers] == ["jitter", "masking"]
    window = np.random.default_rng(1).normal(size=(4, 32, 3)).astype("float32")
    assert not np.allclose(augmentation(window, training=True), augmentation(window, training=True))
    np.testing.assert_array_equal(trained(window, training=False), trained(window, training=False))


def _csv(tmp_path, text):
    (tmp_path / "s.csv").write_text(text)
    return tmp_path / "s.csv"


SERIES = "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(200))
DAY_FIRST = "date,a\n" + "".join(f"{12 + i // 24}/01/2020 {i % 24:02d}:00,{i}\n" for i in range(48))  # 12-13 Jan


@pytest.mark.parametrize("content, options, message", [
    ("", [], "is empty"),
    (SERIES, ["--targets", "c"], "no column 'c'"),
    ("a,kind\n" + "".join(f"{i},x{i % 2}\n" for i in range(200)), ["--targets", "kind"],
     "target column 'kind' is not numeric"),
    ("a,kind\n" + "".join(f"{i},x{i % 2}\n" for i in range(200)), [], "list it in --categorical"),
    ("a,b,kind\n" + "".join(f"{i},{i % 3},x{i % 2}\n" for i in range(200)),
     ["--features", "b", "--categorical", "kind"], "--categorical 'kind' is not among --features"),
    ("a,b\n" + "".join(f"{'' if 50 <= i < 60 else i},{i % 3}\n" for i in range(200)), ["--max-gap", "5"],
     "10 missing values in a row from row 50, more than --max-gap 5"),
    ("date,a\n" + "".join(f"2020-01-{1 + i // 2:02d},{i}\n" for i in range(20)), [],
     "the time column repeats 10 timestamps"),
    (SERIES.replace(",", "|"), [], "which looks '|'-separated: pass --sep '|'"),
    (SERIES, ["--horizon", "300"], "too few for one window"),
    (SERIES, ["--lookback", "0"], "must be 1 or more"),
    (SERIES, ["--split", "0.7,0.2"], "three positive fractions"),
    (SERIES, ["--augment", "wobble"], "choose from jitter"),
    (SERIES, ["--augment", "jitter=2"], "Jitter strength=2.0 is invalid"),
    (SERIES, ["--augment", "jitter=lots"], "the strength must be a number"),
    # The default moving average adapts to a short lookback (below); one given by hand is checked as given.
    (SERIES, ["--lookback", "24", "--horizon", "6", "--model-arg", "moving_average=25"],
     "--model dlinear: moving_average=25 is invalid: expected <= lookback (24)"),
    (SERIES, ["--freq", "H"], "argument --freq: 'H' is not a pandas frequency (did you mean h?)"),
    (SERIES, ["--freq", "M"], "'M' is not a pandas frequency (did you mean ME?)"),
    (SERIES, ["--freq", "0D"], "argument --freq: must step forward"),
    (SERIES, ["--freq", "D"], "no time column for --freq D"),
    ("date,a\n" + "".join(f"2020-01-01 {i % 24:02d}:{30 * (i // 24):02d},{i}\n" for i in range(48)), ["--freq", "h"],
     "24 of the 48 timestamps are not on a --freq h grid (the first: 2020-01-01 00:30:00)"),
    # Refused before the grid is built: 47 hours of nanoseconds would need 1.2 PiB.
    ("date,a\n" + "".join(f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{i}\n" for i in range(48)), ["--freq", "ns"],
     "no two timestamps are one --freq ns step apart (at least 3600000000000 steps)"),
    # Day-first dates whose first day is <= 12: pandas takes month/day and fails on the 13th; the error says --dayfirst.
    (DAY_FIRST, [],
     "could not be read as dates (time data \"13/01/2020 00:00\" doesn't match format \"%m/%d/%Y %H:%M\"); write "
     "them as ISO 8601 (2020-01-31 13:00) (or pass --dayfirst if they are day/month/year)"),
    # With --dayfirst they are read (the next check, --freq's, is reached).
    (DAY_FIRST, ["--dayfirst", "--freq", "ns"], "no two timestamps are one --freq ns step apart"),
])
def test_bad_input_is_a_one_line_error(content, options, message, tmp_path, capsys):
    from applications.forecasting import main

    code, out, err = run_in_process(main, "--data", _csv(tmp_path, content), "--output", tmp_path,
                                    "--epochs", "1", *options, capsys=capsys)
    assert code == 2, out + err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # the kit's resume is in the quick tier (digits)
def test_killed_run_resumes_exactly(tmp_path):
    import applications.forecasting.application  # noqa: F401  registers the layers the saved models name

    def command(out):
        return [sys.executable, "-m", "applications.forecasting", "--model", "dlinear", "--revin",
                "--augment", "jitter,time_warp", "--epochs", "5", "--deterministic", "--verbose", "0",
                "--output", str(out)]

    kill_and_resume(command, "forecast", tmp_path, epochs=5)


@pytest.mark.parametrize("lookback, fitted", [(24, 23), (13, 13)])
def test_dlinears_default_moving_average_adapts_to_a_short_lookback(lookback, fitted, tmp_path, capsys):
    """It refused --lookback 24 (moving_average=25 > lookback); now it takes the largest odd length that fits,
    and says so."""
    import keras

    from applications.forecasting import main

    code, out, err = run_in_process(main, "--data", _csv(tmp_path, SERIES), "--lookback", str(lookback),
                                    "--horizon", "6", "--epochs", "1", "--verbose", "0", "--output", tmp_path,
                                    capsys=capsys)
    assert code == 0, err
    assert f"dlinear's moving average of 25 steps is longer than --lookback {lookback}: using {fitted}" in out
    model = keras.saving.load_model(next((tmp_path / "forecast").glob("2*/model.keras")), safe_mode=True)
    assert model.get_layer("dlinear").get_layer("trend").pool_size == (fitted,)


def test_the_time_column_is_found_by_parsing_in_the_layouts_users_save(tmp_path):
    """A 'Month' column (1949-01), a CSV written from a DatetimeIndex (its header cell empty), and a column of
    plain integers, which is a reading, not a date."""
    from applications.kit.data import read_table
    from applications.forecasting.series import series_from_frame

    months = pd.date_range("1949-01-01", periods=36, freq="MS")
    passengers = np.arange(36.0) * 3 + 100
    pd.DataFrame({"Month": months.strftime("%Y-%m"), "Passengers": passengers}).to_csv(tmp_path / "a.csv",
                                                                                        index=False)
    pd.DataFrame({"Passengers": passengers}, index=months).to_csv(tmp_path / "b.csv")  # header: ",Passengers"
    pd.DataFrame({"year": np.arange(1900, 1936), "count": passengers}).to_csv(tmp_path / "c.csv", index=False)
    for name in ("a.csv", "b.csv"):
        series = series_from_frame(read_table(tmp_path / name), source=name)
        assert series.columns == ["Passengers"] and list(series.time) == list(months), name
    plain = series_from_frame(read_table(tmp_path / "c.csv"), source="c.csv")
    assert plain.time is None and plain.columns == ["year", "count"]


def test_exponential_smoothing_forecasts_from_each_origin_as_statsmodels_does_from_the_last():
    """The baseline reads each window origin's forecast from Holt-Winters states run along the series; at the
    end of the training rows that is statsmodels' own forecast() of the model fitted on them."""
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from applications.forecasting.application import exponential_smoothing

    t = np.arange(300.0)
    series = (0.01 * t + np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(0).normal(size=300))[:, None]
    forecasts = exponential_smoothing(series, 200, 199, 90, 18, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(series[:200, 0], trend="add", damped_trend=True, seasonal="add",
                                      seasonal_periods=12, initialization_method="estimated").fit()
    np.testing.assert_allclose(forecasts[0, :, 0], fitted.forecast(18), rtol=1e-5, atol=1e-6)
    # Later origins have seen more of the series (and nothing after them): they track it closely.
    later = forecasts[50, :, 0]
    assert np.abs(later - series[250:268, 0]).mean() < 0.2
    # Without a season it is a damped trend.
    assert exponential_smoothing(series, 200, 199, 1, 6, None).shape == (1, 6, 1)

"""Forecasting defaults that work on any series: the lookback, the training budget, --log, the features read."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_in_process


def airline_like(path, rows=144):
    """A monthly count with trend and multiplicative seasonality (the airline passengers' shape), a Month column."""
    t = np.arange(rows)
    values = np.exp(4.8 + 0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
    noise = np.random.default_rng(0).normal(scale=0.02, size=rows)
    pd.DataFrame({"Month": pd.date_range("1949-01", periods=rows, freq="MS").strftime("%Y-%m"),
                  "passengers": np.round(values * (1 + noise), 1)}).to_csv(path, index=False)
    return path


def run_dir_of(tmp_path):
    return next((tmp_path / "runs" / "forecast").glob("2*"))


def test_a_short_monthly_series_gets_a_lookback_of_whole_seasons(tmp_path, capsys):
    from applications.forecasting import main

    data = airline_like(tmp_path / "air.csv")
    code, out, err = run_in_process(main, "--data", data, "--horizon", "12", "--epochs", "2", "--min-steps", "0",
                                    "--verbose", "0", "--output", tmp_path / "runs", capsys=capsys)
    assert code == 0, err
    # 100 training rows: at least 3 windows per lookback row leaves (100 - 12 + 1) // 4 = 22 rows: one season.
    assert ("lookback 12 rows (1 season of 12 rows): the default 96 leaves too few training windows in 100 "
            "training rows with --horizon 12; --lookback N sets it") in out
    # DLinear's moving average of 25 steps does not fit: it adapts, and says so.
    assert "dlinear's moving average of 25 steps is longer than --lookback 12: using 11" in out
    metrics = json.loads((run_dir_of(tmp_path) / "metrics.json").read_text())
    assert metrics["lookback"] == 12 and metrics["arguments"]["lookback"] == 12 and metrics["season"] == 12


def test_a_long_series_keeps_the_default_lookback(tmp_path):
    from applications.forecasting import Forecasting
    from applications.kit.run import parse_args

    data = airline_like(tmp_path / "long.csv", rows=600)
    task = Forecasting()
    prepared = task.load(parse_args(task, ["--data", str(data), "--horizon", "12"]))
    assert prepared.info["lookback"] == 96 and "lookback 96 rows (the default)" in prepared.notes


def test_a_small_series_trains_for_the_minimum_number_of_steps(tmp_path, capsys):
    from applications.forecasting import main

    t = np.arange(100)
    pd.DataFrame({"y": np.sin(t / 4) + 0.01 * t}).to_csv(tmp_path / "small.csv", index=False)
    code, out, err = run_in_process(main, "--data", tmp_path / "small.csv", "--lookback", "10", "--horizon", "5",
                                    "--epochs", "3", "--min-steps", "300", "--verbose", "0",
                                    "--output", tmp_path / "runs", capsys=capsys)
    assert code == 0, err
    # 70 training rows make 56 windows, one batch of 64: 3 epochs of one pass would be 3 steps. 100 steps an
    # epoch take 115 passes (6,440 windows: 101 batches, the last one partial).
    assert ("Training budget: 56 training examples make 1 batch of 64; each epoch goes over them 115 times, for "
            "at least 300 optimiser steps in 3 epochs") in out
    metrics = json.loads((run_dir_of(tmp_path) / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and metrics["optimiser_steps"] == 3 * 101


def test_log_forecasts_are_in_the_data_units_through_the_export(tmp_path, capsys):
    import keras
    import tensorflow as tf

    from applications.forecasting import main

    data = airline_like(tmp_path / "air.csv", rows=300)
    code, out, err = run_in_process(main, "--data", data, "--horizon", "12", "--lookback", "24", "--log",
                                    "--epochs", "2", "--min-steps", "0", "--verbose", "0", "--export",
                                    "--output", tmp_path / "runs", "--export-dir", tmp_path / "exports",
                                    capsys=capsys)
    assert code == 0, err
    run_dir = run_dir_of(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["log_targets"] is True
    raw = pd.read_csv(data)["passengers"].to_numpy("float32")
    window = raw[-24:][None, :, None]  # raw passengers in
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    expected = np.exp(np.asarray(model(window), "float64") * metrics["std"][0] + metrics["mean"][0])
    serve = tf.saved_model.load(str(tmp_path / "exports" / "forecast" / "1")).signatures["serving_default"]
    served = serve(window=tf.constant(window))["forecast"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-4)
    assert 0.5 * raw[-24:].min() < served.mean() < 2 * raw[-24:].max()  # passengers out, not their log
    # The original-unit score is that of the exponentiated forecasts.
    assert metrics["test_mse_original"] > 100 * metrics["test_mse"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="readings must be > 0"):
        serve(window=tf.constant(np.where(np.arange(24)[None, :, None] == 5, 0.0, window).astype("float32")))


def test_log_refuses_a_series_with_values_at_or_below_zero(tmp_path, capsys):
    from applications.forecasting import main

    pd.DataFrame({"y": np.sin(np.arange(200) / 4)}).to_csv(tmp_path / "signed.csv", index=False)
    code, out, err = run_in_process(main, "--data", tmp_path / "signed.csv", "--log", "--lookback", "10",
                                    "--horizon", "5", "--output", tmp_path / "runs", capsys=capsys)
    assert code == 2
    assert err.strip().endswith("--log takes the logarithm of the targets, but 'y' has values <= 0 (lowest -1): "
                                "drop --log, or forecast a positive column")


def test_named_targets_are_read_alone_unless_features_are_given(tmp_path):
    from applications.forecasting import Forecasting
    from applications.kit.run import parse_args

    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                  "c": rng.normal(size=300)}).to_csv(tmp_path / "three.csv", index=False)
    task = Forecasting()
    alone = task.load(parse_args(task, ["--data", str(tmp_path / "three.csv"), "--targets", "a", "--lookback", "10",
                                        "--horizon", "5"]))
    assert alone.info["columns"] == ["a"]
    assert "reading the targets only; --features adds other columns as inputs (b, c)" in alone.notes
    both = task.load(parse_args(task, ["--data", str(tmp_path / "three.csv"), "--targets", "a", "--features", "c",
                                       "--lookback", "10", "--horizon", "5"]))
    assert both.info["columns"] == ["a", "c"]

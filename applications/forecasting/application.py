"""Multivariate time-series forecasting, end to end.

    python -m applications.forecasting                                   # Mauna Loa CO2 (statsmodels)
    python -m applications.forecasting --data ../shared/data/timeseries/ETTh1.csv --model itransformer
    python -m applications.forecasting --data pollution.csv --targets pm2.5 --categorical cbwd \\
        --features DEWP,TEMP,PRES,cbwd,Iws --max-gap 48 --export

Data: ``--data`` a CSV/TSV read with pandas (``--time-column`` orders the
rows, ``--dayfirst`` for dates such as 13/01/2020; ``--targets`` are
forecast; ``--features`` are read, default every numeric column is both;
``--categorical`` columns are one-hot encoded; time steps missing from the
grid, the commonest step or ``--freq``, become gaps; gaps are forward-filled
up to ``--max-gap`` steps); else the weekly Mauna Loa CO2 series that ships
with statsmodels.

The rows are split by time (``--split 0.7,0.1,0.2``); each column is
standardised with the training rows' mean and standard deviation only. A
window is ``--lookback`` rows of every input column (default 96, shorter on
a short series, and the run says why); its forecast the next ``--horizon``
rows of the targets. The model is ``[log of the targets, --log] ->
standardise -> [augmentation, training only] -> RevIN (--no-revin: none) ->
<zoo forecaster> -> RevIN restore``, trained on the standardised scale for
at least ``--min-steps`` optimiser steps; the export takes raw windows and
returns forecasts in the data's own units.

Every run scores, on the same test windows, the model and four baselines:
the last value, the seasonal naive forecast (the value one season earlier),
a ridge regression from the de-levelled window to the horizon (one map
shared by all targets) and Holt-Winters exponential smoothing (statsmodels,
fitted on the training rows and rolled forward to each window's origin). MSE
and MAE on the standardised and original scales, and MASE (the MAE over the
training series' seasonal naive one-step MAE).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import keras
import numpy as np

import zoo
from applications.kit import cli, data, errors, precision, reporting
from applications.kit.augmentation import TIME_SERIES_AUGMENTATIONS, time_series_augmentation
from applications.kit.run import Prepared, Serving, Task, build_model, main_for
from applications.forecasting.series import Series, make_windows, series_from_frame
from zoo.layers import InstanceRestoration, InstanceStandardization


def forecasters() -> list[str]:
    return [name for name in zoo.names() if zoo.entry(name).task == "forecasting"]


def column_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise cli.argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def split_fractions(text: str) -> tuple[float, float, float]:
    """``train,validation,test`` fractions of the rows, e.g. ``0.7,0.1,0.2``."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) <= 0 or abs(sum(parts) - 1) > 1e-6:
        raise cli.argparse.ArgumentTypeError(f"expected three positive fractions summing to 1, e.g. 0.7,0.1,0.2; "
                                             f"got {text!r}")
    return parts


def pandas_frequency(text: str) -> str:
    """A pandas frequency for ``--freq`` (``h``, ``D``, ``W-SUN``, ``MS``, ``15min``...), checked, as given."""
    import re

    import pandas as pd

    try:
        offset = pd.tseries.frequencies.to_offset(text)
    except ValueError as err:
        hint = re.search(r"Did you mean (\w+)\?|Please use '(\w+)' instead", str(err))
        raise cli.argparse.ArgumentTypeError(
            f"{text!r} is not a pandas frequency" + (f" (did you mean {hint.group(1) or hint.group(2)}?)" if hint else "")
            + "; e.g. h (hourly), D (daily), W-SUN (weekly), MS (month starts), ME (month ends)") from None
    if offset.n < 1:
        raise cli.argparse.ArgumentTypeError(f"must step forward (1 or more of a unit), got {text!r}")
    return text


# ------------------------------------------------------------------------ data

def load_co2(max_gap: int, freq: str | None = None) -> Series:
    """The weekly Mauna Loa CO2 concentration, 1958-2001 (ppm), from statsmodels' datasets (longest gap: 18 weeks)."""
    import statsmodels.api as sm

    frame = sm.datasets.co2.load_pandas().data
    return series_from_frame(frame.rename_axis("date").reset_index(), time_column="date",
                             source="Mauna Loa weekly CO2, 1958-2001 (statsmodels)", max_gap=max_gap, freq=freq)


def load_series(args) -> Series:
    if args.data:
        return series_from_frame(data.read_table(args.data, args.sep), source=str(args.data),
                                 time_column=args.time_column, targets=args.targets, features=args.features,
                                 categorical=args.categorical, max_gap=args.max_gap, freq=args.freq,
                                 dayfirst=args.dayfirst)
    return load_co2(args.max_gap, args.freq)


def detect_season(series: np.ndarray, max_lag: int) -> int | None:
    """The lag (2..max_lag) of the highest local maximum of the differenced series' autocorrelation.

    Differencing first removes the trend, which would otherwise dominate the
    autocorrelation (CO2: 52 weeks, not 49). None if no peak is above 0.2.
    """
    from statsmodels.tsa.stattools import acf

    series = np.diff(series)
    max_lag = min(max_lag, len(series) // 2)
    if max_lag < 3:
        return None
    correlation = acf(series, nlags=max_lag, fft=True)
    peaks = [lag for lag in range(2, max_lag) if correlation[lag - 1] < correlation[lag] >= correlation[lag + 1]]
    best = max(peaks, key=lambda lag: correlation[lag], default=None)
    return best if best is not None and correlation[best] > 0.2 else None


DEFAULT_LOOKBACK = 96
DEFAULT_MIN_STEPS = 4000


def default_lookback(train_series: np.ndarray, train_rows: int, horizon: int, season: int | None) -> tuple[int, str]:
    """``--lookback`` when none is given, and a note saying why: 96 rows where the training part keeps at least
    three windows per lookback row with it (a linear map over the window has ``lookback`` weights per forecast
    step); on a shorter series the most whole seasons (``season``, or the one detected in ``train_series``) that
    do, else the longest lookback that does (at least 1)."""
    longest = max(1, (train_rows - horizon + 1) // 4)  # windows = train_rows - lookback - horizon + 1 >= 3 lookback
    if DEFAULT_LOOKBACK <= longest:
        return DEFAULT_LOOKBACK, f"lookback {DEFAULT_LOOKBACK} rows (the default)"
    season = season or detect_season((train_series - train_series.mean()) / (train_series.std() or 1),
                                     max_lag=longest)
    lookback = longest // season * season if season and season <= longest else longest
    seasons = lookback // season if season and season <= longest else 0
    why = f"{seasons} season{'s' if seasons > 1 else ''} of {season} rows" if seasons else "no whole season fits"
    return lookback, (f"lookback {lookback} rows ({why}): the default {DEFAULT_LOOKBACK} leaves too few training "
                      f"windows in {train_rows} training rows with --horizon {horizon}; --lookback N sets it")


# ----------------------------------------------------------------- baselines

def last_value(x, horizon, targets):
    return np.repeat(x[:, -1:, :targets], horizon, axis=1)


def seasonal_naive(x, horizon, targets, season):
    """The value one season before each forecast step (repeating the last season)."""
    steps = x.shape[1] - season + (np.arange(horizon) % season)
    return x[:, steps, :targets]


def fit_ridge(x, y, alpha=1.0):
    """Ridge from the de-levelled window of each target to its future (one map for all targets)."""
    from sklearn.linear_model import Ridge

    targets = y.shape[-1]
    level = x[:, -1:, :targets]
    inputs = (x[..., :targets] - level).transpose(0, 2, 1).reshape(-1, x.shape[1])
    outputs = (y - level).transpose(0, 2, 1).reshape(-1, y.shape[1])
    ridge = Ridge(alpha=alpha).fit(inputs, outputs)

    def predict(windows):
        level = windows[:, -1:, :targets]
        flat = (windows[..., :targets] - level).transpose(0, 2, 1).reshape(-1, windows.shape[1])
        return ridge.predict(flat).reshape(len(windows), targets, -1).transpose(0, 2, 1) + level

    return predict


def defaults_fitted_to_the_window(args) -> dict:
    """Builder defaults that do not fit ``--lookback``, adapted (and said): DLinear's moving average of 25 steps
    becomes the largest odd length <= a shorter lookback (odd: centred on each step). Set by ``--model-arg``,
    a value is left as given (and the builder names the problem)."""
    default = zoo.entry(args.model).arguments.get("moving_average")
    if default is None or "moving_average" in dict(args.model_arg) or default <= args.lookback:
        return {}
    fitted = args.lookback if args.lookback % 2 else args.lookback - 1
    print(f"{args.model}'s moving average of {default} steps is longer than --lookback {args.lookback}: using "
          f"{fitted} (the largest odd length that fits; --model-arg moving_average=N sets it)")
    return {"moving_average": fitted}


def exponential_smoothing(series: np.ndarray, train_rows: int, first_origin: int, count: int, horizon: int,
                          season: int | None) -> np.ndarray:
    """Holt-Winters forecasts ``[count, horizon, targets]`` from the origins ``first_origin`` onwards, one a step.

    statsmodels' ``ExponentialSmoothing`` (damped additive trend; additive
    season when one is found and the training rows hold two: of ``season``
    steps or one either side, whichever fits the training rows best by AIC,
    since a season is rarely a whole number of steps: CO2's year is 52.18
    weeks, its autocorrelation peaks at 53) is fitted on each standardised
    target's ``train_rows`` only; its
    states are then run over the whole series with those parameters (a
    causal filter: the state at an origin has seen nothing after it), and
    each origin's forecast is read from its states, as ``forecast()`` reads
    them from the last one (a test checks that they agree).
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    steps = np.arange(1, horizon + 1)
    origins = np.arange(first_origin, first_origin + count)
    lengths = [m for m in (season, season - 1, season + 1) if m >= 2 and train_rows >= 2 * m] if season else []
    forecasts = np.empty((count, horizon, series.shape[1]), "float32")

    def options(seasonal):
        return {"trend": "add", "damped_trend": True, "seasonal": "add" if seasonal else None,
                "seasonal_periods": seasonal}

    for j in range(series.shape[1]):
        with warnings.catch_warnings():  # convergence warnings on a hard series: the baseline is what it fits
            warnings.simplefilter("ignore")
            fits = [(ExponentialSmoothing(series[:train_rows, j], initialization_method="estimated",
                                          **options(m)).fit(), m) for m in lengths or [None]]
            fitted, seasonal = min(fits, key=lambda fit: fit[0].aic)
            p = fitted.params
            known = {"initial_level": p["initial_level"], "initial_trend": p["initial_trend"],
                     **({"initial_seasonal": p["initial_seasons"]} if seasonal else {})}
            smoothing = {k: p[k] for k in ("smoothing_level", "smoothing_trend", "damping_trend")}
            if seasonal:
                smoothing["smoothing_seasonal"] = p["smoothing_seasonal"]
            rolled = ExponentialSmoothing(series[:, j], initialization_method="known", **known,
                                          **options(seasonal)).fit(
                optimized=False, **smoothing)
        forecast = rolled.level[origins, None] + np.cumsum(p["damping_trend"] ** steps) * rolled.trend[origins, None]
        if seasonal:  # the season's state one period (or more) before each forecast step
            forecast = forecast + rolled.season[origins[:, None] + steps - seasonal * ((steps - 1) // seasonal + 1)]
        forecasts[:, :, j] = forecast
    return forecasts


def to_model_scale(windows: np.ndarray, info: dict) -> np.ndarray:
    """Raw windows ``[..., columns]`` -> the model's scale: the log of the targets with ``--log``, standardised."""
    windows = np.asarray(windows, "float64")
    if info.get("log_targets"):
        targets = len(info["targets"])
        windows = np.concatenate([np.log(windows[..., :targets]), windows[..., targets:]], axis=-1)
    return (windows - np.array(info["mean"])) / np.array(info["std"])


def to_data_units(forecasts: np.ndarray, info: dict) -> np.ndarray:
    """Forecasts (or targets) ``[..., targets]`` on the model's scale -> the data's own units."""
    targets = len(info["targets"])
    values = np.asarray(forecasts, "float64") * np.array(info["std"][:targets]) + np.array(info["mean"][:targets])
    return np.exp(values) if info.get("log_targets") else values


def scores(prediction, actual, info, naive_mae) -> dict:
    """MSE/MAE on the model's (standardised) scale, in the data's units, and MASE.

    MASE averages, over the targets, the test MAE divided by the training
    series' one-step seasonal naive MAE; a target the naive forecast fits
    exactly (MAE 0) has no MASE and is left out (None if none is left).
    """
    error = prediction - actual
    original = to_data_units(prediction, info) - to_data_units(actual, info)
    target_mae = np.mean(np.abs(error), axis=(0, 1))
    defined = naive_mae > 0
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))),
            "mse_original": float(np.mean(original ** 2)),
            "mae_original": float(np.mean(np.abs(original))),
            "mase": float(np.mean(target_mae[defined] / naive_mae[defined])) if defined.any() else None}


# ----------------------------------------------------------------------- the task

@keras.saving.register_keras_serializable(package="forecasting")
class LogOfTargets(keras.layers.Layer):
    """``--log``: the natural log of a window's first ``targets`` columns; the other columns pass as they are."""

    def __init__(self, targets, **kwargs):
        super().__init__(**kwargs)
        self.targets = targets

    def call(self, window):
        return keras.ops.concatenate([keras.ops.log(window[..., :self.targets]), window[..., self.targets:]], axis=-1)

    def get_config(self):
        return {**super().get_config(), "targets": self.targets}


@dataclass
class ForecastData(Prepared):
    """The kit's ``Prepared`` plus the standardised target series, for the baselines that run along it."""

    targets: np.ndarray = None          # [rows, targets], standardised with the training rows' statistics
    first_test_origin: int = 0          # the last row the first test window sees

class Forecasting(Task):
    name = "forecast"
    description = "Forecast multivariate time series with any forecaster of the zoo, against baselines."
    defaults = {"epochs": 30, "batch_size": 64, "learning_rate": 1e-3}
    aliases = {"lstm": "lstm_forecaster", "gru": "gru_forecaster", "transformer": "patch_transformer_forecaster",
               "tcn": "tcn_forecaster", "mlp": "mlp_forecaster", "rnn": "simple_rnn_forecaster",
               "itransformer": "itransformer_forecaster"}
    default_model = "dlinear"
    patience = 5

    @property
    def models(self):
        return forecasters()

    def add_arguments(self, parser):
        parser.add_argument("--data", help="a CSV/TSV time series (default: the Mauna Loa weekly CO2 series)")
        parser.add_argument("--sep", help="column separator, '\\t' for a tab (default: tab for .tsv/.tab, else comma)")
        parser.add_argument("--time-column", help="orders the rows (default: a date/time/datetime/timestamp column)")
        parser.add_argument("--dayfirst", action="store_true",
                            help="the dates are day/month/year (13/01/2020, 01.02.2020); ISO 8601 dates are "
                                 "read as year-month-day either way")
        parser.add_argument("--targets", type=column_list, help="columns to forecast, comma-separated "
                                                                "(default: every numeric column)")
        parser.add_argument("--features", type=column_list,
                            help="columns the model reads besides the targets (default: none when --targets is "
                                 "given, else every numeric column is a target)")
        parser.add_argument("--categorical", type=column_list, default=[],
                            help="non-numeric columns to one-hot encode as features")
        parser.add_argument("--freq", type=pandas_frequency,
                            help="the series' pandas frequency (h, D, W-SUN, MS...): time steps missing from it "
                                 "become missing values (default: the commonest step, when the timestamps are on it)")
        parser.add_argument("--max-gap", type=cli.non_negative_int, default=24,
                            help="forward-fill at most this many missing steps in a row (default: 24)")
        parser.add_argument("--lookback", type=cli.positive_int,
                            help=f"rows per window (default: {DEFAULT_LOOKBACK}; on a short series, whole seasons "
                                 "that leave the training part at least half its rows' worth of windows)")
        parser.add_argument("--horizon", type=cli.positive_int, default=24, help="rows forecast (default: 24)")
        parser.add_argument("--split", type=split_fractions, default=(0.7, 0.1, 0.2),
                            help="train,validation,test fractions of the rows, in time order (default: 0.7,0.1,0.2)")
        parser.add_argument("--season", type=cli.positive_int,
                            help="season length in rows for the seasonal naive baseline and MASE "
                                 "(default: detected from the training part's autocorrelation)")
        parser.add_argument("--revin", action=cli.argparse.BooleanOptionalAction, default=True,
                            help="reversible instance normalisation: remove each window's mean and scale "
                                 "before the model and restore them after (default: on; it keeps a trending "
                                 "series' test windows, at levels never seen in training, in the range the "
                                 "model learned; --no-revin turns it off)")
        parser.add_argument("--log", action="store_true",
                            help="forecast the logarithm of the targets (positive series whose seasonal swings "
                                 "grow with the level); the forecasts and the export are in the data's units")
        parser.add_argument("--min-steps", type=cli.non_negative_int, default=DEFAULT_MIN_STEPS,
                            help="at least this many optimiser steps in all: on small data each epoch goes over "
                                 f"the training windows several times (default: {DEFAULT_MIN_STEPS}; 0: one pass "
                                 "per epoch)")
        parser.add_argument("--augment", type=column_list, default=[], metavar="NAME[=STRENGTH],...",
                            help=f"training-only augmentations: {', '.join(TIME_SERIES_AUGMENTATIONS)}")

    def check_arguments(self, args):
        try:  # the kit checks the names and the strengths
            time_series_augmentation(args.augment)
        except ValueError as err:
            raise errors.UsageError(f"--augment: {err}") from None

    def load(self, args) -> Prepared:
        series = load_series(args)
        raw, rows, targets = series.values, len(series.values), len(series.targets)
        train_end = int(rows * args.split[0])
        validation_end = train_end + int(rows * args.split[1])
        notes = list(series.notes)
        values = raw
        if args.log:  # the model's scale: log targets (the model takes raw windows and takes their log itself)
            lowest = raw[:, :targets].min(axis=0)
            if (lowest <= 0).any():
                column = series.targets[int(np.argmin(lowest))]
                raise errors.DataError(f"--log takes the logarithm of the targets, but {column!r} has values <= 0 "
                                       f"(lowest {lowest.min():.4g}): drop --log, or forecast a positive column")
            values = raw.copy()
            values[:, :targets] = np.log(raw[:, :targets])
        if args.lookback is None:
            args.lookback, note = default_lookback(values[:train_end, 0], train_end, args.horizon, args.season)
            notes.append(note)
        # The scaler sees the training rows only.
        mean = values[:train_end].mean(axis=0)
        std = values[:train_end].std(axis=0)
        constant = [c for c, s in zip(series.columns, std) if s == 0]
        if constant:
            raise errors.DataError(f"column {constant[0]!r} is constant in the training part; leave it out "
                                 "with --features/--targets")
        windows = {}
        for part, start, end in (("train", 0, train_end), ("validation", train_end, validation_end),
                                 ("test", validation_end, rows)):
            made = make_windows(raw, lookback=args.lookback, horizon=args.horizon, targets=targets,
                                start=start, end=end)
            if made is None:
                raise errors.DataError(
                    f"the {part} part has {end - start} rows, too few for one window of --lookback "
                    f"{args.lookback} and --horizon {args.horizon}; lower them, or change --split")
            x, y = made
            if args.log:
                y = np.log(y)
            windows[part] = (x, ((y - mean[:targets]) / std[:targets]).astype("float32"))
        standardised_train = (values[:train_end, 0] - mean[0]) / std[0]
        # (max_lag one above the lookback: a season as long as the window is found, and no longer)
        season = args.season or detect_season(standardised_train, max_lag=min(args.lookback + 1, 400))
        # MASE's scale: the in-sample one-step seasonal naive MAE of each target (standardised)
        lag = season or 1
        scaled = (values[:train_end, :targets] - mean[:targets]) / std[:targets]
        naive_mae = np.abs(scaled[lag:] - scaled[:-lag]).mean(axis=0)
        summary = (f"{rows} rows x {len(series.columns)} columns ({', '.join(series.columns[:8])}"
                   f"{', ...' if len(series.columns) > 8 else ''}); forecasting {', '.join(series.targets)}; "
                   f"windows {len(windows['train'][0])} train / {len(windows['validation'][0])} validation / "
                   f"{len(windows['test'][0])} test; season {season or 'none detected'}")
        return ForecastData(
            train=windows["train"], validation=windows["validation"], test=windows["test"], source=series.source,
            notes=[*notes, summary],
            targets=((values[:, :targets] - mean[:targets]) / std[:targets]).astype("float64"),
            first_test_origin=max(validation_end, args.lookback) - 1,
            info={"columns": series.columns, "targets": series.targets, "lookback": args.lookback,
                  "horizon": args.horizon, "mean": mean.tolist(), "std": std.tolist(), "season": season,
                  "log_targets": bool(args.log),
                  "naive_mae": naive_mae.tolist(),
                  "split_rows": {"train": train_end, "validation": validation_end - train_end,
                                 "test": rows - validation_end}})

    def build(self, args, prepared) -> keras.Model:
        """Raw window -> standardise -> [augmentation] -> [RevIN] -> zoo forecaster -> [RevIN restore]."""
        info = prepared.info
        features, targets = len(info["columns"]), len(info["targets"])
        forecaster = build_model(args, lookback=args.lookback, features=features, horizon=args.horizon,
                                 targets=targets, **defaults_fitted_to_the_window(args))
        inputs = keras.Input(shape=(args.lookback, features), name="window")
        x = LogOfTargets(targets, name="log_targets", dtype=precision.RAW_INPUT_DTYPE)(inputs) \
            if info.get("log_targets") else inputs
        # float32 whatever the policy: bfloat16 rounds a reading of 1e5 to a multiple of 512, float16 overflows
        x = keras.layers.Normalization(mean=info["mean"], variance=np.square(info["std"]), name="standardise",
                                       dtype=precision.RAW_INPUT_DTYPE)(x)
        if args.augment:
            x = time_series_augmentation(args.augment, seed=args.seed)(x)
        if args.revin:
            x, level, scale = InstanceStandardization(name="revin")(x)
        forecast = forecaster(x)
        if args.revin:
            forecast = InstanceRestoration(targets, name="revin_restore")([forecast, level, scale])
        return keras.Model(inputs, forecast, name=f"forecast_{args.model}")

    def loss(self, args):
        return "mse"

    def metrics(self, args):
        return ["mae"]

    def evaluate(self, model, prepared, args, run_dir) -> dict:
        info = prepared.info
        targets = len(info["targets"])
        x_train, y_train = prepared.train
        x_test, y_test = prepared.test
        standardise = lambda windows: to_model_scale(windows, info).astype("float32")  # noqa: E731
        forecasts = {f"model ({args.model})": reporting.predict(model, x_test),
                     "last value": last_value(standardise(x_test), args.horizon, targets)}
        season = info["season"]
        if season and season <= args.lookback:
            forecasts[f"seasonal naive ({season})"] = seasonal_naive(standardise(x_test), args.horizon, targets,
                                                                     season)
        forecasts["ridge"] = fit_ridge(standardise(x_train), y_train)(standardise(x_test))
        forecasts["exponential smoothing"] = exponential_smoothing(
            prepared.targets, info["split_rows"]["train"], prepared.first_test_origin, len(y_test), args.horizon,
            season)
        naive_mae = np.array(info["naive_mae"])
        table = {name: scores(f, y_test, info, naive_mae) for name, f in forecasts.items()}
        model_scores = next(iter(table.values()))
        for name, row in table.items():
            mase = "n/a" if row["mase"] is None else f"{row['mase']:.3f}"
            print(f"  {name:24s} MSE {row['mse']:.4f}  MAE {row['mae']:.4f}  MASE {mase}  "
                  f"(original units: MSE {row['mse_original']:.4g}, MAE {row['mae_original']:.4g})")
        plot_forecasts(forecasts, y_test, info, run_dir / "forecasts.png")
        plot_error_by_step(forecasts, y_test, run_dir / "error_by_horizon.png")
        return {**{f"test_{k}": v for k, v in model_scores.items()},
                "baselines": {name: row for name, row in list(table.items())[1:]}}

    def serving(self, model, prepared, args) -> Serving:
        info = prepared.info
        fn, signature = serving_signature(model, info)
        example = prepared.test[0][:1]
        return Serving(fn, signature, metadata={
            "inputs": {"window": {"dtype": "float32", "shape": [-1, args.lookback, len(info["columns"])],
                                  "columns": info["columns"]}},
            "outputs": {"forecast": [-1, args.horizon, len(info["targets"])], "targets": info["targets"]},
            "example_request": {"instances": example.tolist()},
        })


def serving_signature(model, info):
    """``serving_default``: raw windows ``[N, lookback, columns]`` -> forecasts ``[N, horizon, targets]``, raw units."""
    import tensorflow as tf

    lookback, columns, targets = info["lookback"], len(info["columns"]), len(info["targets"])
    mean = tf.constant(info["mean"][:targets], tf.float32)
    std = tf.constant(info["std"][:targets], tf.float32)

    logged = bool(info.get("log_targets"))

    def serve(window):
        checks = [tf.debugging.assert_equal(tf.shape(window)[1:], tf.constant([lookback, columns]), message=(
            f"window must be [N, {lookback}, {columns}] (lookback, columns {', '.join(info['columns'])})"))]
        if logged:  # the model takes the log of the targets: a reading <= 0 would be a NaN forecast
            checks.append(tf.debugging.assert_positive(window[..., :targets], message=(
                f"the model forecasts the log of {', '.join(info['targets'])}: their readings must be > 0")))
        with tf.control_dependencies(checks):
            forecast = tf.cast(model(window, training=False), tf.float32) * std + mean
        return {"forecast": tf.exp(forecast) if logged else forecast}

    return serve, [tf.TensorSpec(shape=[None, lookback, columns], dtype=tf.float32, name="window")]


# ------------------------------------------------------------------- plots

def plot_forecasts(forecasts, actual, info, path, windows=3, max_targets=4) -> None:
    """Forecasts against the actual values on a few test windows (columns), per target (rows)."""
    import matplotlib.pyplot as plt

    targets = min(len(info["targets"]), max_targets)
    picks = np.linspace(0, len(actual) - 1, windows).astype(int)
    figure, axes = plt.subplots(targets, windows, figsize=(4 * windows, 2.6 * targets), squeeze=False)
    actual = to_data_units(actual, info)
    forecasts = {name: to_data_units(forecast, info) for name, forecast in forecasts.items()}
    for row in range(targets):
        for column, index in enumerate(picks):
            axis = axes[row, column]
            axis.plot(actual[index, :, row], color="black", label="actual")
            for name, forecast in forecasts.items():
                axis.plot(forecast[index, :, row], label=name, alpha=0.8)
            axis.set_title(f"{info['targets'][row]}, test window {index}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    figure.supxlabel("steps ahead")
    reporting.save_figure(figure, path)


def plot_error_by_step(forecasts, actual, path) -> None:
    """Mean absolute error (standardised) at each horizon step, model and baselines."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name, forecast in forecasts.items():
        axis.plot(np.arange(1, actual.shape[1] + 1), np.abs(forecast - actual).mean(axis=(0, 2)), label=name)
    axis.set(xlabel="steps ahead", ylabel="MAE (standardised)", title="Test error by horizon step")
    axis.legend(fontsize=8)
    reporting.save_figure(figure, path)


main = main_for(Forecasting())


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-forecast"))


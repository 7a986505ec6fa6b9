"""Forecasting accuracy: the literature's ETTh1 table, and small classic series, models against baselines.

    python -m benchmarks.forecasting                  # or: make benchmark-forecasting (both parts)
    python -m benchmarks.forecasting --lookbacks 96 --horizons 96 --models dlinear
    python -m benchmarks.forecasting --small          # the small statsmodels series only

ETTh1 (``../shared/data/timeseries/ETTh1.csv``) in the standard protocol
(``../shared/data/README.md``, as in the Informer/DLinear/PatchTST tables):
the first 12 months train, the next 4 validation, the next 4 test
(8640/2880/2880 rows; the application's ``--split 0.6,0.2,0.2`` on the first
14,400 rows, written to a temporary CSV); windows may reach back ``lookback``
rows before their part; every column standardised with the training rows'
statistics; 7 columns in and out; MSE and MAE on that scale over all test
windows (stride 1). Every horizon (96, 192, 336, 720) at both lookbacks (96,
336). Each model runs through ``python -m applications.forecasting`` (RevIN
on, the application's default): ``dlinear``; the patch transformer in
PatchTST's settings for the small ETT sets (patches of 16, stride 8,
channel-independent, 3 blocks, 4 heads, width 16, feed-forward 128, dropout
0.3); ``itransformer_forecaster`` with the paper's defaults. Up to
``--epochs`` epochs (default 100), early stopping on the validation months
only (patience 5), batch 32. The baselines (last value, seasonal naive,
ridge, Holt-Winters) come from the same runs' windows. Writes
``benchmarks/results/forecasting.json``, ``docs/forecasting_etth1.png`` (a
heat map of test MSE, model x horizon, per lookback) and prints Markdown.

Small series (``--small``): statsmodels' ``nile`` (annual), ``sunspots``
(annual), ``co2`` (weekly, and its monthly means), ``macrodata`` (quarterly
real GDP, the other 11 series as features) and ``elnino`` (monthly sea
temperature, its year-by-month table made one column), written as CSV files
with their dates. The application runs with its defaults and no option but
``--data``, ``--targets`` and ``--horizon``: the default model against last
value, seasonal naive, ridge and exponential smoothing, on the same test
windows; seconds per run. Writes ``benchmarks/results/forecasting_small.json``.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "timeseries" / "ETTh1.csv"
RESULTS = ROOT / "benchmarks" / "results" / "forecasting.json"
SMALL_RESULTS = RESULTS.with_name("forecasting_small.json")
PLOT = ROOT / "docs" / "forecasting_etth1.png"
LOOKBACKS, HORIZONS = (96, 336), (96, 192, 336, 720)
PATCHTST = ["--model", "patch_transformer_forecaster", "--model-arg", "patch_length=16", "--model-arg", "stride=8",
            "--model-arg", "channel_independent=True", "--model-arg", "num_blocks=3", "--model-arg", "num_heads=4",
            "--model-arg", "embedding_dim=16", "--model-arg", "ff_dim=128", "--model-arg", "dropout=0.3"]
MODELS = {
    "dlinear": ["--model", "dlinear"],
    "patchtst (patch transformer, PatchTST settings)": PATCHTST,
    "itransformer": ["--model", "itransformer_forecaster"],
}
# Published test MSE on ETTh1 (multivariate), for orientation: not measured here.
PUBLISHED = {
    336: {"source": "PatchTST paper (Nie et al. 2023), lookback 336",
          "PatchTST/42": [0.375, 0.414, 0.431, 0.449], "DLinear": [0.375, 0.405, 0.439, 0.472],
          "PatchTST/64 (lookback 512)": [0.370, 0.413, 0.422, 0.447]},
    96: {"source": "iTransformer paper (Liu et al. 2024), lookback 96",
         "DLinear": [0.386, 0.437, 0.481, 0.519], "PatchTST": [0.414, 0.460, 0.501, 0.500],
         "iTransformer": [0.386, 0.441, 0.487, 0.503]},
}


def etth1_run(csv: pathlib.Path, work: pathlib.Path, options: list[str], lookback: int, horizon: int, epochs: int,
              seed: int) -> dict:
    from applications import forecasting
    from benchmarks import run_application

    output = pathlib.Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    run_application(forecasting.main, [
        "--data", str(csv), "--split", "0.6,0.2,0.2", "--lookback", str(lookback), "--horizon", str(horizon),
        "--epochs", str(epochs), "--batch-size", "32", "--seed", str(seed), "--output", str(output),
        "--verbose", "0", *options])
    metrics = json.loads(next(output.glob("forecast/2*/metrics.json")).read_text())
    return {"mse": metrics["test_mse"], "mae": metrics["test_mae"], "mase": metrics["test_mase"],
            "epochs": metrics["epochs_run"], "seconds": round(time.perf_counter() - started, 1),
            "parameters": metrics["parameters"], "baselines": metrics["baselines"]}


def etth1_table(args) -> dict:
    cells = {}
    with tempfile.TemporaryDirectory() as work:
        csv = pathlib.Path(work, "etth1_20_months.csv")
        pd.read_csv(args.data).head(14_400).to_csv(csv, index=False)
        for lookback in args.lookbacks:
            for horizon in args.horizons:
                cell, baselines = {}, {}
                for name in args.models:
                    run = etth1_run(csv, pathlib.Path(work), MODELS.get(name, ["--model", name]), lookback, horizon,
                                    args.epochs, args.seed)
                    baselines = run.pop("baselines")
                    cell[name] = run
                    print(f"lookback {lookback} horizon {horizon} {name}: MSE {run['mse']:.4f} "
                          f"({run['epochs']} epochs, {run['seconds']} s)", flush=True)
                for name, row in baselines.items():
                    cell[f"baseline: {name}"] = {"mse": row["mse"], "mae": row["mae"], "mase": row["mase"]}
                cells[f"{lookback}/{horizon}"] = cell
    return cells


def plot_table(cells: dict, path: pathlib.Path) -> None:
    """Test MSE as a heat map: model (rows) x horizon (columns), one panel per lookback."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lookbacks = sorted({int(key.split("/")[0]) for key in cells})
    horizons = sorted({int(key.split("/")[1]) for key in cells})
    names = list(dict.fromkeys(name for cell in cells.values() for name in cell))
    figure, axes = plt.subplots(1, len(lookbacks), figsize=(4 + 2.2 * len(horizons) * len(lookbacks),
                                                            1.2 + 0.45 * len(names)), squeeze=False)
    for axis, lookback in zip(axes[0], lookbacks):
        grid = np.array([[cells.get(f"{lookback}/{h}", {}).get(name, {}).get("mse", np.nan) for h in horizons]
                         for name in names])
        image = axis.imshow(grid, cmap="viridis_r", aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                axis.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8,
                          color="white" if value > np.nanmedian(grid) else "black")
        axis.set_xticks(range(len(horizons)), horizons)
        axis.set_yticks(range(len(names)), names if axis is axes[0][0] else [""] * len(names), fontsize=8)
        axis.set(xlabel="horizon", title=f"ETTh1 test MSE, lookback {lookback}")
        figure.colorbar(image, ax=axis, shrink=0.8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_table(cells: dict, lookbacks, horizons) -> None:
    for lookback in lookbacks:
        keys = [f"{lookback}/{h}" for h in horizons if f"{lookback}/{h}" in cells]
        names = list(dict.fromkeys(name for key in keys for name in cells[key]))
        print(f"\nETTh1, lookback {lookback}: test MSE (epochs)\n")
        print("| model | " + " | ".join(f"horizon {key.split('/')[1]}" for key in keys) + " |")
        print("|---|" + "---:|" * len(keys))
        for name in names:
            row = [cells[key].get(name) for key in keys]
            print(f"| {name} | " + " | ".join("" if r is None else f"{r['mse']:.3f}"
                                             + (f" ({r['epochs']})" if "epochs" in r else "") for r in row) + " |")
        for label, figures in PUBLISHED.get(lookback, {}).items():
            if label != "source":
                print(f"| published {label} | " + " | ".join(
                    f"{figures[HORIZONS.index(int(key.split('/')[1]))]:.3f}" for key in keys) + " |")


# ------------------------------------------------------------------ small series

def small_series(folder: pathlib.Path) -> list[tuple[str, pathlib.Path, list[str]]]:
    """The statsmodels series as CSV files with a date column: ``(name, path, options)``."""
    import statsmodels.api as sm

    def write(name, frame):
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        return path

    nile = sm.datasets.nile.load_pandas().data.astype({"year": int})  # year: plain integers, not dates
    sunspots = sm.datasets.sunspots.load_pandas().data.astype({"YEAR": int})
    co2 = sm.datasets.co2.load_pandas().data
    macro = sm.datasets.macrodata.load_pandas().data
    macro.insert(0, "date", [f"{int(y)}Q{int(q)}" for y, q in zip(macro.pop("year"), macro.pop("quarter"))])
    elnino = sm.datasets.elnino.load_pandas().data.astype({"YEAR": int})
    months = elnino.columns[1:]
    elnino = elnino.melt(id_vars="YEAR", var_name="month", value_name="temperature")
    elnino["date"] = pd.to_datetime(elnino["YEAR"].astype(str) + "-" + elnino["month"], format="%Y-%b")
    elnino = elnino.sort_values("date")[["date", "temperature"]]
    assert len(months) == 12
    return [
        ("nile (annual)", write("nile", nile), ["--horizon", "10"]),
        ("sunspots (annual)", write("sunspots", sunspots), ["--horizon", "11"]),
        ("co2 (weekly)", write("co2_weekly", co2.rename_axis("date").reset_index()), ["--horizon", "52"]),
        ("co2 (monthly)", write("co2_monthly", co2.resample("MS").mean().rename_axis("date").reset_index()),
         ["--horizon", "12"]),
        ("macrodata real GDP (quarterly)", write("macrodata", macro), ["--targets", "realgdp", "--horizon", "8"]),
        ("elnino (monthly)", write("elnino", elnino), ["--horizon", "12"]),
    ]


def small(args) -> dict:
    from applications import forecasting
    from benchmarks import run_application

    rows = {}
    with tempfile.TemporaryDirectory() as work:
        for name, path, options in small_series(pathlib.Path(work)):
            output = pathlib.Path(work, "runs", path.stem)
            started = time.perf_counter()
            run_application(forecasting.main, ["--data", str(path), *options, "--output", str(output),
                                               "--verbose", "0", *args.extra])
            seconds = time.perf_counter() - started
            run_dir = next(output.glob("forecast/2*"))
            metrics = json.loads((run_dir / "metrics.json").read_text())
            validation = float(pd.read_csv(run_dir / "history.csv")["val_loss"].min())
            baselines = {k: v["mse"] for k, v in metrics["baselines"].items()}
            naive = min(v for k, v in baselines.items() if k == "last value" or k.startswith("seasonal naive"))
            best = min(v for k, v in baselines.items() if k in ("ridge", "exponential smoothing"))
            rows[name] = {"model": metrics["model"], "mse": metrics["test_mse"], "validation_mse": validation,
                          "baselines": baselines,
                          "lookback": metrics["lookback"], "season": metrics["season"],
                          "split_rows": metrics["split_rows"],
                          "epochs": metrics["epochs_run"], "seconds": round(seconds, 1),
                          "beats_naive": metrics["test_mse"] < naive,
                          "within_10pc_of_best_classical": metrics["test_mse"] <= 1.1 * best,
                          "options": " ".join(options + list(args.extra))}
            scores = ", ".join(f"{k} {v:.4f}" for k, v in baselines.items())
            print(f"{name}: model {metrics['test_mse']:.4f} (validation {validation:.4f}); {scores} ({seconds:.1f} s)",
                  flush=True)
    print("\n| series | lookback (chosen) | model MSE | last value | seasonal naive | ridge | exp. smoothing "
          "| goal met | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for name, row in rows.items():
        b = row["baselines"]
        seasonal = next((v for k, v in b.items() if k.startswith("seasonal naive")), None)
        goal = "yes" if row["beats_naive"] and row["within_10pc_of_best_classical"] else "no"
        print(f"| {name} | {row['lookback']} | {row['mse']:.4f} | {b['last value']:.4f} | "
              f"{'' if seasonal is None else f'{seasonal:.4f}'} | {b['ridge']:.4f} | "
              f"{b['exponential smoothing']:.4f} | {goal} | {row['seconds']} |")
    return rows


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--lookbacks", type=positive_int, nargs="+", default=list(LOOKBACKS))
    parser.add_argument("--horizons", type=positive_int, nargs="+", default=list(HORIZONS))
    parser.add_argument("--epochs", type=positive_int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--small", action="store_true", help="the small statsmodels series only")
    parser.add_argument("--extra", type=str.split, default=[],
                        help='options added to every small-series run, e.g. --extra="--no-revin"')
    args = parser.parse_args(argv)
    from applications.forecasting import Forecasting
    from benchmarks import check_models

    check_models(parser, Forecasting(), args.models, own=MODELS)
    command = "python -m benchmarks.forecasting " + " ".join(argv or [])
    if args.small:
        rows = small(args)
        SMALL_RESULTS.write_text(json.dumps({"command": command, "results": rows}, indent=2) + "\n")
        return
    if not pathlib.Path(args.data).exists():
        raise SystemExit(f"{args.data} is missing: pass --data ETTh1.csv")
    cells = etth1_table(args)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "data": "ETTh1, first 14,400 rows, 8640/2880/2880, 7 columns in and out", "epochs": args.epochs,
        "seed": args.seed, "published": PUBLISHED, "command": command, "cells": cells}, indent=2) + "\n")
    plot_table(cells, PLOT)
    print_table(cells, args.lookbacks, args.horizons)


if __name__ == "__main__":
    main()

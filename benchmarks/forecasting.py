"""Forecasting accuracy on ETTh1 in the standard protocol, models against the baselines of the same run.

    python -m benchmarks.forecasting                         # horizon 96, lookback 96, all 7 columns
    python -m benchmarks.forecasting --horizon 336 --models dlinear

Protocol (``../shared/data/README.md``, as in the Informer/DLinear/PatchTST
tables): the first 12 months train, the next 4 validation, the next 4 test
(8640/2880/2880 rows; the application's ``--split 0.6,0.2,0.2`` on the first
14,400 rows, written to a temporary CSV); windows may reach back ``lookback``
rows before their part; every column standardised with the training rows'
statistics; MSE and MAE on that scale over all test windows (stride 1).
Each model runs through ``python -m applications.forecasting``; the
baselines (last value, seasonal naive, ridge) come from the same run's
windows. Early stopping watches the validation part only. Writes
``benchmarks/results/forecasting.json`` and prints a Markdown table.
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

import pandas as pd  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "timeseries" / "ETTh1.csv"
RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "forecasting.json"
MODELS = {
    "dlinear": [],
    "dlinear + RevIN": ["--model", "dlinear", "--revin"],
    "patch transformer + RevIN": ["--model", "transformer", "--revin"],
}
# Published test MSE / MAE on ETTh1, lookback 96 (DLinear: Zeng et al. 2023 table as reproduced by
# PatchTST/iTransformer papers at lookback 96), for orientation only: not measured here.
PUBLISHED = {96: "DLinear 0.386 / 0.400; PatchTST 0.414 / 0.419 (iTransformer paper, lookback 96)"}


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--lookback", type=positive_int, default=96)
    parser.add_argument("--horizon", type=positive_int, default=96)
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args(argv)
    from applications.forecasting import Forecasting
    from benchmarks import check_models

    check_models(parser, Forecasting(), args.models, own=MODELS)
    if not pathlib.Path(args.data).exists():
        raise SystemExit(f"{args.data} is missing: pass --data ETTh1.csv")

    from applications import forecasting
    from benchmarks import run_application

    rows, baselines = {}, None
    with tempfile.TemporaryDirectory() as work:
        csv = pathlib.Path(work, "etth1_20_months.csv")
        pd.read_csv(args.data).head(14_400).to_csv(csv, index=False)
        for name in args.models:
            options = MODELS.get(name, ["--model", name])
            output = pathlib.Path(work, name.replace(" ", "_"))
            started = time.perf_counter()
            run_application(forecasting.main, [
                "--data", str(csv), "--split", "0.6,0.2,0.2", "--lookback", str(args.lookback), "--horizon",
                str(args.horizon), "--epochs", str(args.epochs), "--batch-size", "32", "--seed", str(args.seed),
                "--output", str(output), "--verbose", "0", *options])
            metrics = json.loads(next(output.glob("forecast/2*/metrics.json")).read_text())
            rows[name] = {"mse": metrics["test_mse"], "mae": metrics["test_mae"], "mase": metrics["test_mase"],
                          "epochs": metrics["epochs_run"], "seconds": round(time.perf_counter() - started, 1),
                          "options": " ".join(options)}
            baselines = metrics["baselines"]
            print(f"{name}: MSE {rows[name]['mse']:.4f} MAE {rows[name]['mae']:.4f}", flush=True)
    for name, row in (baselines or {}).items():
        rows[f"baseline: {name}"] = {"mse": row["mse"], "mae": row["mae"], "mase": row["mase"]}
    result = {"data": "ETTh1, first 14,400 rows, 8640/2880/2880", "lookback": args.lookback,
              "horizon": args.horizon, "epochs": args.epochs, "seed": args.seed,
              "published_reference": PUBLISHED.get(args.horizon),
              "command": "python -m benchmarks.forecasting " + " ".join(argv or []), "results": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nETTh1 multivariate (7 -> 7), lookback {args.lookback}, horizon {args.horizon}; test MSE/MAE "
          "on the standardised scale\n")
    print("| model | MSE | MAE | MASE | epochs | seconds |\n|---|---:|---:|---:|---:|---:|")
    for name, row in sorted(rows.items(), key=lambda item: item[1]["mse"]):
        mase = "" if row["mase"] is None else f"{row['mase']:.3f}"
        print(f"| {name} | {row['mse']:.4f} | {row['mae']:.4f} | {mase} | {row.get('epochs', '')} | "
              f"{row.get('seconds', '')} |")


if __name__ == "__main__":
    main()

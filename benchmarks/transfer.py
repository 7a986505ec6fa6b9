"""Transfer learning against the label budget: from scratch, linear probe and fine-tuned, on three targets.

    python -m benchmarks.transfer                       # or: make benchmark-transfer
    python -m benchmarks.transfer --labels 10 100 --seeds 3 --targets digits8 kmnist
    python -m benchmarks.transfer --series              # ETTh1 -> Beijing PM2.5 (1, 3, 12 months)

The source: ``convnet`` trained on full MNIST (``../shared/data/mnist_full``,
the official split) once, ``--pretrain-epochs`` epochs. The targets:

- ``digits8``: scikit-learn's 1,797 8x8 digits, scaled to 0-255, resized
  to 20x20 and centred in 28x28 as MNIST's digits are (a near target: the
  same classes, another hand and scanner, far fewer pixels);
  a fixed stratified 80/20 split;
- ``kmnist``: the 10,000 Kuzushiji characters of ``../shared/data/kmnist``
  (a far target: other classes, the same format); a fixed stratified 80/20 split;
- ``fashion``: Fashion-MNIST's official split (a far target: clothes).

For every target, N labels per class (``--labels``, capped by the training
part) and seed (``--seeds``; the seed draws the N and initialises the
model), three runs of the digits application on the same test part: *scratch*
(``--labels-per-class N``), *probe* (``--init-from`` the source run,
``--freeze backbone``: only the new head trains) and *fine-tuned* (the
probe, then ``--fine-tune-epochs`` more with every layer training at
``--fine-tune-learning-rate``, batch normalisation fixed). Validation: the
application's, 10 % of the target's training part (the same for every
method and N; it only stops training). Writes
``benchmarks/results/transfer.csv`` (one row per run), ``transfer.json``
(mean, min, max per cell) and ``docs/transfer_<target>.png`` (test accuracy
against labels per class, log x, mean and min-max band per method).
Each row is written as soon as it is measured, and a rerun with the same
settings skips the rows already there: an interrupted run resumes where it
stopped (the source run is kept under ``--work`` and reused).

``--series``: ``dlinear`` (lookback 96, horizon 24) trained on ETTh1's 7
columns, then on Beijing PM2.5 (``../shared/data/timeseries/pollution.csv``,
the ``pm2.5`` column) with its first 1, 3 or 12 months for training, from
scratch or ``--init-from`` the ETTh1 run (DLinear's temporal maps are shared
by the channels, so they fit a one-column series), validated on months 13-14
and tested on months 15-16 in every case. Writes
``benchmarks/results/transfer_series.csv``.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "transfer.csv"
SUMMARY = RESULTS.with_suffix(".json")
SERIES_RESULTS = RESULTS.with_name("transfer_series.csv")
DOCS = ROOT / "docs"
TARGETS = ("digits8", "kmnist", "fashion")
METHODS = ("scratch", "probe", "fine-tuned")
LABELS = (1, 5, 10, 50, 100, 500)
SETTINGS = ("model", "pretrain_epochs", "epochs", "fine_tune_epochs", "fine_tune_learning_rate")


def split_npz(path: pathlib.Path, x: np.ndarray, y: np.ndarray, seed: int = 0) -> pathlib.Path:
    """A fixed stratified 80/20 split, saved as keras.datasets saves ``mnist.npz`` (the app's official split)."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def target_data(name: str, work: pathlib.Path) -> pathlib.Path:
    if name == "fashion":
        return DATA / "fashion_mnist"
    if name == "kmnist":
        pool = np.load(DATA / "kmnist" / "kmnist_test_10k.npz")
        return split_npz(work / "kmnist.npz", pool["x"], pool["y"])
    import tensorflow as tf
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = x.reshape(-1, 8, 8, 1) * (255 / 16)
    # In MNIST's format: the digit scaled into a 20x20 box, centred in 28x28 (4 blank pixels each side).
    resized = tf.image.resize(images, (20, 20), method="bilinear").numpy()[..., 0]
    framed = np.pad(resized, ((0, 0), (4, 4), (4, 4)))
    return split_npz(work / "digits8.npz", np.clip(np.round(framed), 0, 255).astype("uint8"), y)


def digits_run(argv: list[str], output: pathlib.Path) -> dict:
    from applications import digits
    from benchmarks import run_application

    import keras

    keras.backend.clear_session()
    run_application(digits.main, [*argv, "--verbose", "0", "--output", str(output)])
    run_dir = sorted((output / "digits").glob("2*"))[-1]
    return {**json.loads((run_dir / "metrics.json").read_text()), "run_dir": str(run_dir)}


def plot(table: pd.DataFrame, target: str, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        rows = table[(table["target"] == target) & (table["method"] == method)]
        cells = rows.groupby("labels_per_class")["test_accuracy"].agg(["mean", "min", "max"])
        if cells.empty:
            continue
        axis.plot(cells.index, cells["mean"], marker="o", label=method)
        axis.fill_between(cells.index, cells["min"], cells["max"], alpha=0.2)
    axis.set(xscale="log", xlabel="labels per class", ylabel="test accuracy",
             title=f"{target}: transfer from MNIST (convnet)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ------------------------------------------------------------------ time series

def series_transfer(args) -> list[dict]:
    """``dlinear`` pretrained on ETTh1 (all 7 columns, the standard 12/4/4 months), then on Beijing PM2.5 with
    the first 1, 3 or 12 months for training: from scratch against fine-tuned from the ETTh1 run (its shared
    temporal maps), tested on the same later months (months 15-16; months 13-14 validate)."""
    from applications import forecasting
    from benchmarks import run_application

    import keras

    hours = 24 * 30
    months = [m for m in args.months]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        etth1 = work / "etth1.csv"
        pd.read_csv(DATA / "timeseries" / "ETTh1.csv").head(14_400).to_csv(etth1, index=False)
        shape = ["--lookback", "96", "--horizon", "24", "--model", "dlinear", "--verbose", "0"]
        run_application(forecasting.main, ["--data", str(etth1), "--split", "0.6,0.2,0.2", *shape,
                                           "--output", str(work / "source")])
        source = sorted((work / "source" / "forecast").glob("2*"))[-1]
        pm = pd.read_csv(DATA / "timeseries" / "pollution.csv")
        pm = pm[["pm2.5"]].iloc[24:]  # from the first hour with a reading; rows in time order, one an hour
        later = pm.iloc[12 * hours:16 * hours]  # validation (2 months), then test (2 months)
        for m in months:
            data = work / f"pm25_{m}_months.csv"
            pd.concat([pm.iloc[:m * hours], later]).to_csv(data, index=False)
            total = (m + 4) * hours
            split = f"{m * hours / total:.6f},{2 * hours / total:.6f},{2 * hours / total:.6f}"
            for seed in range(args.seeds):
                for method, extra in (("scratch", []), ("fine-tuned", ["--init-from", str(source)])):
                    keras.backend.clear_session()
                    output = work / f"{m}_{seed}_{method}"
                    run_application(forecasting.main, ["--data", str(data), "--split", split, "--max-gap", "200",
                                                       "--seed", str(seed), *shape, *extra, "--output", str(output)])
                    metrics = json.loads(next(output.glob("forecast/2*/metrics.json")).read_text())
                    rows.append({"target": "pm2.5", "months": m, "seed": seed, "method": method,
                                 "test_mse": metrics["test_mse"],
                                 "ridge_mse": metrics["baselines"]["ridge"]["mse"]})
                    print(f"pm2.5 {m} months seed {seed} {method}: MSE {metrics['test_mse']:.4f}", flush=True)
    return rows


def earlier_rows(settings: dict) -> pd.DataFrame:
    """The rows of ``transfer.csv`` measured with these settings (kept and skipped on a rerun: the benchmark
    resumes where an interrupted run stopped); rows of other settings stay in the file, out of the summary."""
    if not RESULTS.exists():
        return pd.DataFrame()
    table = pd.read_csv(RESULTS)
    same = np.logical_and.reduce([np.isclose(table[k], v) if isinstance(v, float) else table[k] == v
                                  for k, v in settings.items()])
    return table[same]


def save_rows(rows: list[dict]) -> None:
    """Every row of these settings, and the other settings' rows already in the file."""
    new = pd.DataFrame(rows)
    if RESULTS.exists():
        old = pd.read_csv(RESULTS)
        keys = ["target", "labels_per_class", "seed", "method", *SETTINGS]
        merged = old.merge(new[keys], on=keys, how="left", indicator=True)
        new = pd.concat([old[(merged["_merge"] == "left_only").to_numpy()], new], ignore_index=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(RESULTS, index=False)


def source_run(args, work: pathlib.Path) -> dict:
    """The source model, trained once per model and epochs under ``work`` and reused by later runs."""
    folder = work / f"source_{args.model}_{args.pretrain_epochs}_epochs"
    finished = sorted(folder.glob("digits/2*/metrics.json"))
    if finished:
        return {**json.loads(finished[-1].read_text()), "run_dir": str(finished[-1].parent)}
    shutil.rmtree(folder, ignore_errors=True)
    return digits_run(["--data", str(DATA / "mnist_full"), "--model", args.model, "--epochs",
                       str(args.pretrain_epochs)], folder)


def main(argv=None) -> None:
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--labels", type=positive_int, nargs="+", default=list(LABELS))
    parser.add_argument("--seeds", type=positive_int, default=5)
    parser.add_argument("--model", default="convnet")
    parser.add_argument("--pretrain-epochs", type=positive_int, default=5)
    parser.add_argument("--epochs", type=positive_int, default=60, help="most epochs per phase (default 60)")
    parser.add_argument("--fine-tune-epochs", type=positive_int, default=30)
    parser.add_argument("--fine-tune-learning-rate", type=float, default=1e-4)
    parser.add_argument("--series", action="store_true", help="the time-series part only (ETTh1 -> PM2.5)")
    parser.add_argument("--months", type=positive_int, nargs="+", default=[1, 3, 12],
                        help="months of PM2.5 to train on (default: 1 3 12)")
    parser.add_argument("--work", default=str(ROOT / "runs" / "benchmarks" / "transfer"),
                        help="the source run and the targets' splits are kept here (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.series:
        table = pd.DataFrame(series_transfer(args))
        table.to_csv(SERIES_RESULTS, index=False)
        summary = table.groupby(["months", "method"])["test_mse"].agg(["mean", "min", "max"]).reset_index()
        print("\n| months of PM2.5 | scratch | fine-tuned from ETTh1 |\n|---:|---:|---:|")
        for m, cell in summary.groupby("months"):
            means = {row["method"]: row for _, row in cell.iterrows()}
            print(f"| {m} | " + " | ".join(f"{means[k]['mean']:.4f} ({means[k]['min']:.4f}-{means[k]['max']:.4f})"
                                           for k in ("scratch", "fine-tuned")) + " |")
        return
    for folder in ("mnist_full", "fashion_mnist", "kmnist"):
        if not (DATA / folder).is_dir():
            raise SystemExit(f"{DATA / folder} is missing: this benchmark needs ../shared/data beside the repository")
    settings = {"model": args.model, "pretrain_epochs": args.pretrain_epochs, "epochs": args.epochs,
                "fine_tune_epochs": args.fine_tune_epochs, "fine_tune_learning_rate": args.fine_tune_learning_rate}
    done = earlier_rows(settings)
    rows = done.to_dict("records")
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    source = source_run(args, work)
    print(f"source: {args.model} on MNIST, test accuracy {source['test_accuracy']:.4f} "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    data = {target: target_data(target, work) for target in args.targets}
    for seed in range(args.seeds):  # seed by seed: an interrupted run leaves every cell with as many seeds
        for target in args.targets:
            for n in args.labels:
                common = ["--data", str(data[target]), "--model", args.model, "--labels-per-class", str(n),
                          "--seed", str(seed), "--epochs", str(args.epochs)]
                options = {"scratch": [], "probe": ["--init-from", source["run_dir"], "--freeze", "backbone"],
                           "fine-tuned": ["--init-from", source["run_dir"], "--fine-tune-epochs",
                                          str(args.fine_tune_epochs), "--fine-tune-learning-rate",
                                          str(args.fine_tune_learning_rate)]}
                for method in METHODS:
                    cell = {"target": target, "labels_per_class": n, "seed": seed, "method": method}
                    if any(all(row[k] == v for k, v in cell.items()) for row in rows):
                        continue  # measured by an earlier, interrupted run of this benchmark
                    try:
                        with tempfile.TemporaryDirectory(dir=work) as output:
                            metrics = digits_run(common + options[method], pathlib.Path(output))
                    except SystemExit as err:  # N above the training part's smallest class
                        print(f"{target} N={n}: skipped ({err})", flush=True)
                        break
                    rows.append({**cell, "test_accuracy": metrics["test_accuracy"],
                                 "epochs_run": metrics["epochs_run"], "train_seconds": metrics["train_seconds"],
                                 **settings})
                    save_rows(rows)
                    print(f"{target} N={n} seed {seed} {method}: {metrics['test_accuracy']:.4f}", flush=True)
    table = pd.DataFrame(rows)
    summary = (table.groupby(["target", "labels_per_class", "method"])["test_accuracy"]
               .agg(["mean", "min", "max", "count"]).reset_index())
    options = {k: v for k, v in vars(args).items() if k != "work"}  # (a local path)
    SUMMARY.write_text(json.dumps({"source_test_accuracy": source["test_accuracy"], "settings": options,
                                   "cells": summary.to_dict("records")}, indent=2) + "\n")
    for target in args.targets:
        plot(table, target, DOCS / f"transfer_{target}.png")
    print("\n| target | labels per class | " + " | ".join(METHODS) + " |\n|---|---:|" + "---:|" * len(METHODS))
    for (target, n), cell in summary.groupby(["target", "labels_per_class"]):
        means = {row["method"]: row for _, row in cell.iterrows()}
        print(f"| {target} | {n} | " + " | ".join(
            f"{means[m]['mean']:.3f} ({means[m]['min']:.3f}-{means[m]['max']:.3f})" if m in means else ""
            for m in METHODS) + " |")


if __name__ == "__main__":
    main()

"""Image classification on the official splits, side by side with the recipe users copy.

    python -m benchmarks.images                        # or: make benchmark-images
    python -m benchmarks.images --pairs 1 --no-zoo     # the recipe against the app only

(a) On official MNIST (../shared/data/mnist_full: 60,000 train, 10,000 test),
    keras-io's ``mnist_convnet`` recipe as written there (NumPy arrays into
    ``fit``, float32, Adam, batch 128, 15 epochs, ``validation_split=0.1``)
    and the app's ``convnet`` on the same split (``python -m
    applications.digits --data mnist_full --model convnet``: the official
    split, validation 10 % of the training part, the app's defaults but for
    the options printed), in interleaved pairs (recipe, app, recipe, app ...),
    each in a fresh process. For each: the final test accuracy, the training
    wall time, and the wall time at which the test accuracy first reached the
    recipe's final accuracy (median of the recipe runs). The test accuracy is
    measured after every epoch with the clock stopped, and used for nothing
    else: neither run stops early or chooses anything on it.
(b) The zoo's best classifiers through the app (``vgg``; ``resnet18
    --model-arg small_inputs=True``; each without and with ``--augment``) on
    MNIST and Fashion-MNIST's official splits: test accuracy, epochs, time.

Writes benchmarks/results/images.json and docs/images_time_to_accuracy.png
(test accuracy against training wall time, every run of (a)), and prints
Markdown tables.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from applications.kit import cli
from benchmarks import stats

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "images.json"
PLOT = ROOT / "docs" / "images_time_to_accuracy.png"
# The app's options for (a), beyond --data and --model convnet: the recipe's batch size and epochs.
APP_OPTIONS = ["--batch-size", "128", "--epochs", "15"]
ZOO = {"vgg": ["--model", "vgg"], "vgg + augment": ["--model", "vgg", "--augment", "0.05"],
       "resnet18": ["--model", "resnet18", "--model-arg", "small_inputs=True"],
       "resnet18 + augment": ["--model", "resnet18", "--model-arg", "small_inputs=True", "--augment", "0.05"]}
PUBLISHED = {"mnist": "keras-io mnist_convnet: about 0.992 (its text); best zoo goal 0.996",
             "fashion_mnist": "Fashion-MNIST benchmark table: scikit-learn's best 0.897; goal 0.940"}


def test_clock():
    """A Keras callback recording (training seconds, test accuracy) after every epoch, the clock stopped while
    the test accuracy is measured (it is used for nothing else)."""
    import keras

    class TestClock(keras.callbacks.Callback):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y, self.points = x, np.asarray(y), []

        def on_train_begin(self, logs=None):
            self.start, self.paused = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            stopped = time.perf_counter()
            accuracy = float((self.model.predict(self.x, batch_size=1000, verbose=0).argmax(-1) == self.y).mean())
            self.points.append((round(stopped - self.start - self.paused, 2), accuracy))
            self.paused += time.perf_counter() - stopped

    return TestClock


def recipe(data: pathlib.Path, epochs: int) -> dict:
    """keras-io's mnist_convnet, as written there, on the official split of ``data``."""
    import keras
    from keras import layers

    from applications.kit.data import load_path

    dataset = load_path(data)
    x_train = np.expand_dims(dataset.x.astype("float32") / 255, -1)
    x_test = np.expand_dims(dataset.test[0].astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(dataset.y, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    clock = test_clock()(x_test, dataset.test[1])
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, callbacks=[clock], verbose=0)
    return {"command": f"keras-io mnist_convnet (batch 128, {epochs} epochs, validation_split=0.1)",
            "points": clock.points, "test_accuracy": clock.points[-1][1], "train_seconds": clock.points[-1][0]}


def app(data: pathlib.Path, options: list[str]) -> dict:
    """The digits application on ``data``, in this process, with the same test clock as a task callback."""
    from applications.digits import Digits
    from applications.kit.run import run

    clock_class = test_clock()

    class Timed(Digits):
        def callbacks(self, model, prepared, args, run_dir):
            self.clock = clock_class(*prepared.test)
            return [*super().callbacks(model, prepared, args, run_dir), self.clock]

    task = Timed()
    argv = ["--data", str(data), "--model", "convnet", *options, "--verbose", "0"]
    with tempfile.TemporaryDirectory() as out:
        code = cli.run(lambda a: run(task, a), [*argv, "--output", out], prog="benchmark")
        if code:
            raise SystemExit(f"the app exited with code {code}")
        metrics = json.loads(next(pathlib.Path(out).glob("digits/2*/metrics.json")).read_text())
    return {"command": "python -m applications.digits " + " ".join(argv).replace(str(DATA), "../shared/data"),
            "points": task.clock.points, "test_accuracy": metrics["test_accuracy"],
            "train_seconds": task.clock.points[-1][0], "epochs": metrics["epochs_run"],
            "precision": metrics["precision_policy"], "split": metrics["split"]}


def in_fresh_process(kind: str, data: pathlib.Path, epochs: int) -> dict:
    """One run of (a) in a process of its own (no state shared between the runs of a pair)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "-m", "benchmarks.images", "--single", kind, "--data", str(data),
                        "--epochs", str(epochs), "--single-output", out.name], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return json.loads(pathlib.Path(out.name).read_text())


def time_to(points, accuracy: float) -> float | None:
    """Training seconds at which the test accuracy first reached ``accuracy`` (None: never)."""
    return next((seconds for seconds, reached in points if reached >= accuracy), None)


def recipe_against_app(data: pathlib.Path, pairs: int, epochs: int) -> dict:
    runs = {"recipe": [], "app": []}
    for pair in range(pairs):
        for kind in ("recipe", "app"):
            result = in_fresh_process(kind, data, epochs)
            runs[kind].append(result)
            print(f"pair {pair + 1}/{pairs} {kind}: test accuracy {result['test_accuracy']:.4f} after "
                  f"{result['train_seconds']:.0f} s of training", flush=True)
    target = float(np.median([r["test_accuracy"] for r in runs["recipe"]]))
    for kind, results in runs.items():
        for result in results:
            result["seconds_to_recipe_accuracy"] = time_to(result["points"], target)
    ratios = [a["seconds_to_recipe_accuracy"] / r["train_seconds"] if a["seconds_to_recipe_accuracy"] else None
              for r, a in zip(runs["recipe"], runs["app"])]
    return {"data": str(data).replace(str(DATA), "../shared/data"), "pairs": pairs, "recipe_accuracy": target,
            "runs": runs, "recipe_test_accuracy": stats([r["test_accuracy"] for r in runs["recipe"]]),
            "app_test_accuracy": stats([r["test_accuracy"] for r in runs["app"]]),
            "recipe_train_seconds": stats([r["train_seconds"] for r in runs["recipe"]]),
            "app_train_seconds": stats([r["train_seconds"] for r in runs["app"]]),
            "recipe_seconds_to_recipe_accuracy": stats([r["seconds_to_recipe_accuracy"] for r in runs["recipe"]]),
            "app_seconds_to_recipe_accuracy": stats([r["seconds_to_recipe_accuracy"] for r in runs["app"]]),
            "app_time_to_recipe_accuracy_over_recipe_time": stats(ratios)}


def zoo_models(names: list[str], sets: list[str], epochs: int | None) -> list[dict]:
    rows = []
    for data_name in sets:
        for name in names:
            argv = ["--data", str(DATA / data_name), *ZOO[name], *(["--epochs", str(epochs)] if epochs else []),
                    "--verbose", "0"]
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "applications.digits", *argv, "--output", out], check=True,
                               cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
                wall = time.perf_counter() - started
                metrics = json.loads(next(pathlib.Path(out).glob("digits/2*/metrics.json")).read_text())
            rows.append({"data": data_name, "model": name, "test_accuracy": metrics["test_accuracy"],
                         "epochs": metrics["epochs_run"], "train_seconds": metrics["train_seconds"],
                         "wall_seconds": round(wall, 1), "split": metrics["split"],
                         "command": "python -m applications.digits " + " ".join(argv).replace(str(DATA),
                                                                                               "../shared/data")})
            print(f"{data_name} {name}: {metrics['test_accuracy']:.4f} in {metrics['epochs_run']} epochs "
                  f"({wall:.0f} s)", flush=True)
    return rows


def plot(pairs: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for kind, colour in (("recipe", "tab:grey"), ("app", "tab:blue")):
        for i, result in enumerate(pairs["runs"][kind]):
            seconds, accuracy = zip(*result["points"])
            axes.plot(seconds, accuracy, marker=".", color=colour, alpha=0.8,
                      label=("keras-io mnist_convnet" if kind == "recipe" else "app convnet") if i == 0 else None)
    axes.axhline(pairs["recipe_accuracy"], color="black", linestyle=":", linewidth=1,
                 label=f"recipe's final accuracy ({pairs['recipe_accuracy']:.4f})")
    axes.set(xlabel="training wall time (s, test evaluation excluded)", ylabel="test accuracy (official 10k)",
             ylim=(0.97, 1.0), title="MNIST: test accuracy against training time")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def table(result: dict) -> str:
    lines = []
    pairs = result.get("recipe_against_app")
    if pairs:
        def cell(s, digits=4):
            return "n/a" if s["median"] is None else \
                f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"
        lines += ["| MNIST official split | test accuracy | training s | s to the recipe's accuracy |",
                  "|---|---|---|---|",
                  f"| keras-io mnist_convnet | {cell(pairs['recipe_test_accuracy'])} | "
                  f"{cell(pairs['recipe_train_seconds'], 0)} | {cell(pairs['recipe_seconds_to_recipe_accuracy'], 0)} |",
                  f"| app convnet | {cell(pairs['app_test_accuracy'])} | {cell(pairs['app_train_seconds'], 0)} | "
                  f"{cell(pairs['app_seconds_to_recipe_accuracy'], 0)} "
                  f"({cell(pairs['app_time_to_recipe_accuracy_over_recipe_time'], 2)} x the recipe's time) |", ""]
    if result.get("zoo"):
        lines += ["| data | model | test accuracy | epochs | training s |", "|---|---|---|---|---|"]
        lines += [f"| {r['data']} | {r['model']} | {r['test_accuracy']:.4f} | {r['epochs']} | "
                  f"{r['train_seconds']:.0f} |" for r in result["zoo"]]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=cli.positive_int, default=3, help="interleaved recipe/app pairs (default 3)")
    parser.add_argument("--epochs", type=cli.positive_int, default=15, help="the recipe's epochs (default 15)")
    parser.add_argument("--mnist", default=str(DATA / "mnist_full"), help="MNIST's four IDX files")
    parser.add_argument("--no-zoo", action="store_true", help="skip (b), the zoo's best classifiers")
    parser.add_argument("--zoo-only", action="store_true",
                        help="run (b) only, keeping (a) from the results file of an earlier run")
    parser.add_argument("--zoo-models", nargs="+", choices=list(ZOO), default=list(ZOO))
    parser.add_argument("--zoo-sets", nargs="+", default=["mnist_full", "fashion_mnist"],
                        help="folders of ../shared/data with train-* and t10k-* IDX pairs")
    parser.add_argument("--zoo-epochs", type=cli.positive_int, help="default: the app's (60, early stopping)")
    parser.add_argument("--single", choices=("recipe", "app"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--single-output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:  # one run of (a), in the fresh process in_fresh_process started
        data = pathlib.Path(args.data)
        options = [*APP_OPTIONS[:2], "--epochs", str(args.epochs)]
        result = recipe(data, args.epochs) if args.single == "recipe" else app(data, options)
        pathlib.Path(args.single_output).write_text(json.dumps(result))
        return
    from applications.kit.data import idx_train_test

    zoo_sets = [] if args.no_zoo else [DATA / name for name in args.zoo_sets]
    for folder in [*([] if args.zoo_only else [args.mnist]), *zoo_sets]:
        if not pathlib.Path(folder).is_dir() or idx_train_test(folder) is None:
            raise SystemExit(f"{folder} holds no train-* and t10k-* IDX pair: pass --mnist (or --zoo-sets) with "
                             "MNIST's four IDX files")
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "published": PUBLISHED,
              "command": "python -m benchmarks.images " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.zoo_only:
        earlier = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        result["recipe_against_app"] = earlier.get("recipe_against_app")
        result["command"] = earlier.get("command", "") + "; then " + result["command"]
    else:
        result["recipe_against_app"] = recipe_against_app(pathlib.Path(args.mnist), args.pairs, args.epochs)
        plot(result["recipe_against_app"], PLOT)
    if not args.no_zoo:
        result["zoo"] = zoo_models(args.zoo_models, args.zoo_sets, args.zoo_epochs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nWrote {RESULTS} and {PLOT}")


if __name__ == "__main__":
    main()

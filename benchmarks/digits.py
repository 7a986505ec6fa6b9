"""Benchmark of the digits application, with its baselines measured in the same run.

    python -m benchmarks.digits            # or: make benchmark

(a) Application accuracy and wall time: the README's run command on the
    embedded 8x8 digits, and the app on the real MNIST test set in
    ../shared/data/mnist split 8k train / 2k test (stratified, seed 42; the
    app's validation set is 10 % of the 8k).
(b) Training throughput (samples/s) of the app's pipeline (tf.data, dtype
    policy chosen by the app, steps_per_execution 16) against the keras-io
    mnist_convnet recipe (float32 NumPy arrays passed to ``fit``, batch 128)
    on the same ``convnet``, the same 8k MNIST images, same batch size; timed
    in interleaved pairs (A, B, A, B, ...) after a warm-up, reported as the
    median ratio with its min and max.
(c) Achieved GFLOP/s of (b)'s app training against a 4096x4096 float32
    matmul (and, for reference, a bfloat16 one) measured here and now.

Prints a table and writes benchmarks/results/digits.json.
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

import keras
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "benchmarks" / "results" / "digits.json"


def run_app(*args) -> dict:
    """Run the app as a user does; return its metrics.json plus the wall time."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "applications.digits", *args, "--output", out,
                        "--verbose", "0"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - start
        metrics = json.loads(next(pathlib.Path(out).glob("digits/2*/metrics.json")).read_text())
    return {"command": "python -m applications.digits " + " ".join(args),
            "test_accuracy": metrics["test_accuracy"], "wall_seconds": round(wall, 1),
            "train_seconds": metrics["train_seconds"], "epochs": metrics["epochs_run"],
            "data_source": metrics["data_source"], "model": metrics["model"],
            "precision": metrics["precision_policy"]}


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def timed_epoch(fit) -> float:
    """Seconds of one training epoch."""
    timer = EpochTimer()
    fit(epochs=1, callbacks=[timer])
    return timer.times[0]


def measure_throughput(x, y, pairs: int, batch_size: int) -> dict:
    """The keras-io recipe and the app pipeline on the same convnet, timed in interleaved pairs.

    A, B, A, B, ...: one epoch of each per pair, after one warm-up epoch of each
    (tracing, caching), so both see the same machine load. The figure is the
    median ratio over the pairs, with its min and max.
    """
    import zoo
    from applications.kit import data, training
    from benchmarks.flops import training_flops

    # Baseline: keras-io mnist_convnet recipe, float32 NumPy arrays into fit.
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    baseline = zoo.build("convnet", input_shape=x.shape[1:], classes=10)
    baseline.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_float = x.astype("float32") / 255

    def fit_baseline(**kw):
        baseline.fit(x_float, y, batch_size=batch_size, verbose=0, **kw)

    # The app: the same convnet behind its Rescaling layer, its training pipeline, its dtype
    # policy and its steps_per_execution, built the way the app builds it.
    from applications.digits import Digits

    task = Digits()
    policy = training.configure_precision("auto")
    keras.utils.set_random_seed(0)
    args = argparse.Namespace(model="convnet", model_arg=[], augment=0.0, seed=0, resize=None)
    prepared = argparse.Namespace(info={"image_shape": list(x.shape[1:]), "labels": [str(d) for d in range(10)]})
    model = task.build(args, prepared)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=task.steps_per_execution)
    pipeline = data.TrainingPipeline(x, y, batch_size=batch_size, seed=0)

    def fit_app(**kw):
        model.fit(pipeline.dataset, shuffle=False, verbose=0, **kw)

    import warnings
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    fit_baseline(epochs=1)
    fit_app(epochs=1)
    baseline_rates, app_rates = [], []
    for _ in range(pairs):
        baseline_rates.append(len(x) / timed_epoch(fit_baseline))
        app_rates.append(len(x) / timed_epoch(fit_app))
    ratios = np.array(app_rates) / np.array(baseline_rates)
    flops = training_flops(model)
    keras.mixed_precision.set_global_policy("float32")
    return {"pairs": pairs, "app_precision": policy, "steps_per_execution": task.steps_per_execution,
            "numpy_fit_samples_per_s": float(np.median(baseline_rates)),
            "app_pipeline_samples_per_s": float(np.median(app_rates)),
            "ratio_median": float(np.median(ratios)), "ratio_min": float(ratios.min()),
            "ratio_max": float(ratios.max()), "ratios": ratios.round(3).tolist(),
            "training_flops_per_sample": flops,
            "app_gflops": float(np.median(app_rates)) * flops / 1e9}


def matmul_gflops(n=4096, dtype="float32", repeats=10) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype="float32")
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        result = tf.linalg.matmul(a, b)
    result.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=7, help="interleaved timed pairs for (b), after a warm-up")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--skip-apps", action="store_true", help="only (b) and (c)")
    args = parser.parse_args(argv)
    if not MNIST.is_dir():
        sys.exit(f"benchmark needs the real MNIST test set in {MNIST}")

    from applications.kit import data

    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "tensorflow": __import__("tensorflow").__version__,
                          "keras": keras.__version__}}
    if not args.skip_apps:
        report["apps"] = [
            run_app("--source", "embedded"),
            run_app("--data", str(MNIST), "--model", "convnet", "--augment", "0.05"),
        ]
    x, y = data.load_idx_folder(MNIST)
    (x_train, y_train), _, _ = data.stratified_split(
        x[..., None], y.astype("int32"), test_fraction=0.2, validation_fraction=0.1, seed=42)
    report["throughput"] = measure_throughput(x_train, y_train, args.pairs, args.batch_size)
    report["matmul_4096_float32_gflops"] = matmul_gflops(dtype="float32")
    report["matmul_4096_bfloat16_gflops"] = matmul_gflops(dtype="bfloat16")
    report["app_gflops_fraction_of_float32_matmul"] = (
        report["throughput"]["app_gflops"] / report["matmul_4096_float32_gflops"])
    report["app_gflops_fraction_of_bfloat16_matmul"] = (
        report["throughput"]["app_gflops"] / report["matmul_4096_bfloat16_gflops"])

    print("\n| measurement | value |\n|---|---|")
    for app in report.get("apps", []):
        print(f"| `{app['command'].replace(str(ROOT.parent) + '/', '../')}` | test accuracy "
              f"{app['test_accuracy']:.4f}, {app['wall_seconds']} s wall ({app['train_seconds']} s "
              f"training, {app['epochs']} epochs, {app['precision']}) |")
    t = report["throughput"]
    print(f"| convnet, NumPy arrays into fit (keras-io recipe, float32, batch {args.batch_size}) "
          f"| {t['numpy_fit_samples_per_s']:,.0f} samples/s |")
    print(f"| convnet, app pipeline (tf.data, {t['app_precision']}, steps_per_execution "
          f"{t['steps_per_execution']}, batch {args.batch_size}) | {t['app_pipeline_samples_per_s']:,.0f} samples/s |")
    print(f"| throughput ratio app / NumPy, median of {t['pairs']} interleaved pairs (min-max) | "
          f"{t['ratio_median']:.2f}x ({t['ratio_min']:.2f}-{t['ratio_max']:.2f}) |")
    print(f"| app training compute ({t['training_flops_per_sample'] / 1e6:.1f} MFLOP/sample) "
          f"| {t['app_gflops']:.1f} GFLOP/s |")
    print(f"| 4096x4096 matmul float32 / bfloat16 | {report['matmul_4096_float32_gflops']:.1f} / "
          f"{report['matmul_4096_bfloat16_gflops']:.1f} GFLOP/s |")
    print(f"| app GFLOP/s as a fraction of the float32 / bfloat16 matmul | "
          f"{report['app_gflops_fraction_of_float32_matmul']:.1%} / "
          f"{report['app_gflops_fraction_of_bfloat16_matmul']:.1%} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

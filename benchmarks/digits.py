"""Benchmark of the digits application, with its baselines measured in the same run.

    python -m benchmarks.digits            # or: make benchmark

(a) Application accuracy and wall time: the README's run command on the
    embedded 8x8 digits, and the app on the real MNIST test set in
    ../shared/data/mnist split 8k train / 2k test (stratified, seed 42; the
    app's validation set is 10 % of the 8k).
(b) Training throughput (samples/s) of the app's pipeline (tf.data, dtype
    policy chosen by the app, steps_per_execution 16) against the keras-io
    mnist_convnet recipe (float32 NumPy arrays passed to ``fit``, batch 128)
    on the same ``convnet``, the same 7.2k MNIST training images, same batch size; timed
    in interleaved pairs (A, B, A, B, ...) after a warm-up, reported as the
    median ratio with its min and max.
(c) Achieved GFLOP/s of (b)'s app training against 4096x4096 float32 and
    bfloat16 matmuls measured here and now: 5 rounds right after (b) and 5
    after (d), the best round being the machine's peak (load only slows one).
(d) Where the app's training step spends its time: op time by layer under
    TensorFlow's profiler, and the training kernels of the costliest layer
    (by FLOPs) timed on their own, against the same matmul and against the
    step's own time from (b). Every convolution's kernels timed alone add
    up to a lower bound on the step, set against the step time that 50 % of
    the bfloat16 matmul would take.

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


def app_training(x, y, batch_size: int):
    """The app's convnet compiled as the app compiles it, and its training pipeline.

    The same convnet behind its Rescaling layer, its dtype policy and its
    steps_per_execution, built the way the app builds it. Returns the model,
    the pipeline, the policy and the steps per execution.
    """
    from applications.digits import Digits
    from applications.kit import data, precision

    task = Digits()
    policy = precision.configure_precision("auto")
    keras.utils.set_random_seed(0)
    args = argparse.Namespace(model="convnet", model_arg=[], augment=0.0, seed=0, resize=None)
    prepared = argparse.Namespace(info={"image_shape": list(x.shape[1:]), "labels": [str(d) for d in range(10)]})
    model = task.build(args, prepared)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=task.steps_per_execution)
    return model, data.TrainingPipeline(x, y, batch_size=batch_size, seed=0), policy, task.steps_per_execution


def measure_throughput(x, y, pairs: int, batch_size: int) -> dict:
    """The keras-io recipe and the app pipeline on the same convnet, timed in interleaved pairs.

    A, B, A, B, ...: one epoch of each per pair, after one warm-up epoch of each
    (tracing, caching), so both see the same machine load. The figure is the
    median ratio over the pairs, with its min and max.
    """
    import zoo
    from benchmarks.flops import training_flops

    # Baseline: keras-io mnist_convnet recipe, float32 NumPy arrays into fit.
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    baseline = zoo.build("convnet", input_shape=x.shape[1:], classes=10)
    baseline.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_float = x.astype("float32") / 255

    def fit_baseline(**kw):
        baseline.fit(x_float, y, batch_size=batch_size, verbose=0, **kw)

    model, pipeline, policy, steps_per_execution = app_training(x, y, batch_size)

    def fit_app(**kw):
        model.fit(pipeline.dataset, shuffle=False, verbose=0, **kw)

    fit_baseline(epochs=1)
    fit_app(epochs=1)
    baseline_rates, app_rates = [], []
    for _ in range(pairs):
        baseline_rates.append(len(x) / timed_epoch(fit_baseline))
        app_rates.append(len(x) / timed_epoch(fit_app))
    ratios = np.array(app_rates) / np.array(baseline_rates)
    flops = training_flops(model)
    keras.mixed_precision.set_global_policy("float32")
    return {"pairs": pairs, "app_precision": policy, "steps_per_execution": steps_per_execution,
            "numpy_fit_samples_per_s": float(np.median(baseline_rates)),
            "app_pipeline_samples_per_s": float(np.median(app_rates)),
            "ratio_median": float(np.median(ratios)), "ratio_min": float(ratios.min()),
            "ratio_max": float(ratios.max()), "ratios": ratios.round(3).tolist(),
            "training_flops_per_sample": flops,
            "app_gflops": float(np.median(app_rates)) * flops / 1e9}


def profile_layers(x, y, batch_size: int, epochs: int = 2) -> dict:
    """Where a training step of the app's convnet spends its time, layer by layer.

    Runs ``epochs`` epochs of the app's training under TensorFlow's profiler
    (after a warm-up epoch) and adds up the time of each TensorFlow op,
    forward and backward, under the layer whose name it carries; ops of no
    layer (loss, optimiser, metrics, input pipeline) go under "other". Ops
    that run side by side overlap, so the op times add up to more than the
    step's wall time, and the profiler itself slows the step: read them as
    shares, not as the time a layer would save.
    """
    import collections
    import re
    import shutil

    import tensorflow as tf

    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

    model, pipeline, policy, _ = app_training(x, y, batch_size)
    model.fit(pipeline.dataset, shuffle=False, epochs=1, verbose=0)
    names = [layer.name for layer in model.layers[-1].layers + model.layers if not isinstance(layer, keras.Model)]
    layer_in_scope = re.compile(r"(?:^|/)(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                                + r")(?:_\d+)?/")
    op_event = re.compile(r"^[^:\s]+:\w+$")  # "scope/name:OpType"; not "Iterator::..." nor "Eager..."
    folder = tempfile.mkdtemp(prefix="digits_profile_")
    try:
        tf.profiler.experimental.start(folder)
        start = time.perf_counter()
        model.fit(pipeline.dataset, shuffle=False, epochs=epochs, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(pathlib.Path(folder).rglob("*.xplane.pb")).read_bytes())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    keras.mixed_precision.set_global_policy("float32")
    seconds = collections.Counter()
    for plane in space.planes:
        event_names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = event_names.get(event.metadata_id, "")
                if op_event.match(name) and "multi_step_on_iterator" not in name:
                    found = layer_in_scope.search(name.split(":")[0])
                    seconds[found.group(1) if found else "other"] += event.duration_ps * 1e-12
    steps = epochs * pipeline.steps_per_epoch
    op_ms = {layer: 1e3 * total / steps for layer, total in seconds.most_common()}
    return {"policy": policy, "batch_size": batch_size, "steps": steps,
            "wall_ms_per_step_under_profiler": 1e3 * wall / steps, "op_ms_per_step": op_ms,
            "op_share": {layer: ms / sum(op_ms.values()) for layer, ms in op_ms.items()}}


def conv_kernels_alone(layer: keras.layers.Conv2D, batch_size: int, dtype: str, input_gradient: bool = True,
                       steps: int = 40, rounds: int = 5) -> dict:
    """The training kernels of one Conv2D layer timed on their own, outside any model.

    Forward (convolution + bias + ReLU, as the layer runs fused), then the
    input gradient and the weight gradient (side by side, as TensorFlow runs
    them in a training step), on inputs that change from step to step (so
    nothing is hoisted out of the loop), in ``dtype``. A model's first layer
    needs no input gradient, and training computes none: ``input_gradient=False``
    leaves it out there too. Returns the median milliseconds per step and the
    GFLOP/s (the forward FLOPs times 3, or 2 without the input gradient).

    The steps run in order as in training (the gradients after the forward
    pass, the next step after an SGD update from them): left free, TensorFlow
    ran the kernels of several steps at once and the figure came out faster
    than a training step can run them.
    """
    import tensorflow as tf

    from benchmarks.flops import flops_of

    in_shape = (batch_size, *layer.input.shape[1:])
    out_shape = (batch_size, *layer.output.shape[1:])
    kernel_shape = (*layer.kernel_size, in_shape[-1], layer.filters)
    padding, strides = layer.padding.upper(), [1, *layer.strides, 1]
    inputs = tf.cast(tf.random.normal((4, *in_shape)), dtype)
    output_grads = tf.cast(tf.random.normal((4, *out_shape)), dtype)
    kernel = tf.cast(tf.random.normal(kernel_shape) * 0.05, dtype)
    bias = tf.zeros(layer.filters, dtype)

    @tf.function
    def run():
        weights, total = kernel, tf.zeros((), tf.float32)
        for step in tf.range(steps):
            x, dy = inputs[step % 4], output_grads[step % 4]
            y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, weights, strides, padding), bias))
            with tf.control_dependencies([y]):  # as in a training step: the gradients after the forward pass,
                grads = [tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=kernel_shape, out_backprop=dy,
                                                         strides=strides, padding=padding)]
                if input_gradient:
                    grads.append(tf.raw_ops.Conv2DBackpropInput(input_sizes=in_shape, filter=weights,
                                                                out_backprop=dy, strides=strides, padding=padding))
            with tf.control_dependencies(grads):  # and the next step after all of them (an SGD update)
                weights = weights - tf.cast(1e-6, dtype) * grads[0]
            total += tf.cast(y[0, 0, 0, 0] + grads[-1][0, 0, 0, 0], tf.float32)
        return total

    run().numpy()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run().numpy()
        times.append((time.perf_counter() - start) / steps)
    seconds = float(np.median(times))
    flops = (3 if input_gradient else 2) * flops_of(layer) * batch_size
    return {"layer": layer.name, "dtype": dtype, "input_gradient": input_gradient, "ms_per_step": 1e3 * seconds,
            "gflops": flops / seconds / 1e9, "training_flops_per_step": flops}


def matmul_gflops(n=4096, dtype="float32", rounds=5, repeats=4) -> list[float]:
    """GFLOP/s of an n x n matmul, one figure per round of ``repeats`` products."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            result = tf.linalg.matmul(a, b)
        result.numpy()
        rates.append(2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return rates


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=positive_int, default=9,
                        help="interleaved timed pairs for (b), after a warm-up")
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--skip-apps", action="store_true", help="skip (a): only (b), (c) and (d)")
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
    matmul = {dtype: matmul_gflops(dtype=dtype) for dtype in ("float32", "bfloat16")}  # (c), first sitting
    report["profile"] = profile_layers(x_train, y_train, args.batch_size)
    import zoo
    from benchmarks.flops import first_weighted_layer, flops_of

    convnet = zoo.build("convnet", input_shape=x_train.shape[1:], classes=10)
    convolutions = [layer for layer in convnet.layers if isinstance(layer, keras.layers.Conv2D)]
    compute_dtype = keras.DTypePolicy(report["throughput"]["app_precision"]).compute_dtype
    first = first_weighted_layer(convnet)  # training computes no gradient for its input
    report["convolutions_alone"] = {
        layer.name: conv_kernels_alone(layer, args.batch_size, compute_dtype, input_gradient=layer is not first)
        for layer in convolutions}
    report["costliest_layer_alone"] = report["convolutions_alone"][max(convolutions, key=flops_of).name]
    for dtype in matmul:  # second sitting
        matmul[dtype] += matmul_gflops(dtype=dtype)
    # The reference is the machine's peak: other load on a shared machine only slows a round, and a
    # median taken in one slow spell once put the bfloat16 matmul at 438 GFLOP/s, below conv_2 alone.
    report["matmul_4096_gflops_rounds"] = {dtype: [round(r, 1) for r in rates] for dtype, rates in matmul.items()}
    report["matmul_4096_float32_gflops"] = max(matmul["float32"])
    report["matmul_4096_bfloat16_gflops"] = max(matmul["bfloat16"])
    report["app_gflops_fraction_of_float32_matmul"] = (
        report["throughput"]["app_gflops"] / report["matmul_4096_float32_gflops"])
    report["app_gflops_fraction_of_bfloat16_matmul"] = (
        report["throughput"]["app_gflops"] / report["matmul_4096_bfloat16_gflops"])
    alone = report["costliest_layer_alone"]
    alone["fraction_of_bfloat16_matmul"] = alone["gflops"] / report["matmul_4096_bfloat16_gflops"]
    alone["share_of_step_flops"] = (alone["training_flops_per_step"]
                                    / (report["throughput"]["training_flops_per_sample"] * args.batch_size))
    alone["app_step_ms"] = 1e3 * args.batch_size / report["throughput"]["app_pipeline_samples_per_s"]
    alone["share_of_app_step_time"] = alone["ms_per_step"] / alone["app_step_ms"]
    # A lower bound on the step: the convolutions' kernels alone, against the whole step at 50 % of the matmul.
    report["convolutions_alone_ms_per_step"] = sum(conv["ms_per_step"] for conv in report["convolutions_alone"].values())
    report["step_ms_at_half_the_bfloat16_matmul"] = (
        1e3 * args.batch_size * report["throughput"]["training_flops_per_sample"]
        / (0.5 * report["matmul_4096_bfloat16_gflops"] * 1e9))

    print("\n| measurement | value |\n|---|---|")
    for app in report.get("apps", []):
        print(f"| `{app['command'].replace(str(ROOT.parent) + '/', '../')}` | test accuracy "
              f"{app['test_accuracy']:.4f}, {app['wall_seconds']} s wall ({app['train_seconds']} s "
              f"training, {app['epochs']} epochs, {app['precision']}) |")
    t = report["throughput"]
    print(f"| convnet, NumPy arrays into fit (keras-io recipe, float32, batch {args.batch_size}) "
          f"| {t['numpy_fit_samples_per_s']:,.0f} samples/s (median of {t['pairs']}) |")
    print(f"| convnet, app pipeline (tf.data, {t['app_precision']}, steps_per_execution "
          f"{t['steps_per_execution']}, batch {args.batch_size}) "
          f"| {t['app_pipeline_samples_per_s']:,.0f} samples/s (median of {t['pairs']}) |")
    print(f"| throughput ratio app / NumPy, median of {t['pairs']} interleaved pairs (min-max) | "
          f"{t['ratio_median']:.2f}x ({t['ratio_min']:.2f}-{t['ratio_max']:.2f}) |")
    print(f"| app training compute ({t['training_flops_per_sample'] / 1e6:.1f} MFLOP/sample) "
          f"| {t['app_gflops']:.1f} GFLOP/s |")
    rounds = len(report["matmul_4096_gflops_rounds"]["float32"])
    print(f"| 4096x4096 matmul float32 / bfloat16, same run, best of {rounds} rounds in two sittings | "
          f"{report['matmul_4096_float32_gflops']:.1f} / "
          f"{report['matmul_4096_bfloat16_gflops']:.1f} GFLOP/s |")
    print(f"| app GFLOP/s as a fraction of the float32 / bfloat16 matmul | "
          f"{report['app_gflops_fraction_of_float32_matmul']:.1%} / "
          f"{report['app_gflops_fraction_of_bfloat16_matmul']:.1%} |")
    profile = report["profile"]
    shares = ", ".join(f"{name} {share:.0%}" for name, share in profile["op_share"].items() if share >= 0.005)
    print(f"| app step under the profiler: share of the op time by layer, forward + backward | {shares} |")
    print(f"| {alone['layer']}'s training kernels alone, one step after another as training runs them "
          f"(forward + bias + ReLU, input and weight gradients, SGD update; "
          f"{alone['dtype']}, batch {args.batch_size}) | {alone['ms_per_step']:.1f} ms, {alone['gflops']:.0f} "
          f"GFLOP/s: {alone['fraction_of_bfloat16_matmul']:.0%} of the bfloat16 matmul, for "
          f"{alone['share_of_step_flops']:.1%} of the step's FLOPs |")
    print(f"| app step time (median of (b)), and {alone['layer']}'s kernels at their own speed as a share "
          f"of it | {alone['app_step_ms']:.1f} ms, {alone['share_of_app_step_time']:.0%} |")
    names = " + ".join(f"{name}{'' if conv['input_gradient'] else ' (no input gradient: the first layer)'}"
                       for name, conv in report["convolutions_alone"].items())
    each = " + ".join(f"{conv['ms_per_step']:.1f}" for conv in report["convolutions_alone"].values())
    print(f"| every convolution's training kernels alone, as above ({names}), against the whole step at 50 % "
          f"of the bfloat16 matmul | {each} = {report['convolutions_alone_ms_per_step']:.1f} ms against "
          f"{report['step_ms_at_half_the_bfloat16_matmul']:.1f} ms |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

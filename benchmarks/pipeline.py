"""Is the input pipeline the bottleneck? Samples/s per model, and the share of a training step the input costs.

    python -m benchmarks.pipeline                       # or: make benchmark-pipeline
    python -m benchmarks.pipeline --models convnet gru  # some of them

On the official splits (``../shared/data/mnist_full``: 54,000 training images
after validation; ``../shared/data/imdb``: 22,500 training reviews), each
model with the application's defaults (``convnet``: batch 128, as
``benchmarks/images.py`` runs it; sentiment: the options
``benchmarks/sentiment.py`` uses on this split), the kit's own training
pipeline (``data.TrainingPipeline``: a new order each epoch, batches
gathered in ``tf.data``, prefetched) and the compiled training step, the
same as ``fit`` in the application:

- *input alone*: the pipeline iterated with no model, samples/s;
- *training*: ``--steps`` training steps fed by that pipeline;
- *constant input*: the same number of steps on one batch held in memory
  (no input work at all).

The input's share of a step is ``1 - constant / training``: the part of the
step time that goes away when the input is free (0: prefetching hides it
entirely). Training and constant input are timed in ``--rounds``
interleaved pairs after a warm-up (tracing excluded): the median, with min
and max. For text, ``TextVectorization`` is the model's first layer, so it is
part of the step in both timings (in the graph, not Python); its own speed
(samples/s through the layer alone) and ``adapt`` on the training reviews are
reported beside it. Writes ``benchmarks/results/pipeline.json`` and prints a
Markdown table.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from benchmarks import stats  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "pipeline.json"
DIGITS = {"convnet": ["--model", "convnet", "--batch-size", "128"],  # as in benchmarks/images.py (a)
          "vgg": ["--model", "vgg"],
          "resnet18": ["--model", "resnet18", "--model-arg", "small_inputs=True"]}
TEXT = ["bag_of_ngrams", "conv1d_classifier", "bilstm", "gru", "transformer_classifier"]


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(task, argv: list[str], steps: int, rounds: int) -> dict:
    """One model: input alone, training and constant-input timings (see the module's docstring)."""
    import keras
    import tensorflow as tf

    from applications.kit import data, precision, run, training
    from applications.kit.optimisation import make_optimizer

    args = run.parse_args(task, argv)
    training.seed_everything(args.seed)
    precision.configure_precision(args.precision)
    prepared = task.load(args)
    pipeline = data.TrainingPipeline(*prepared.train, batch_size=args.batch_size, seed=args.seed)
    execution = task.steps_per_execution
    steps = max(execution, steps // execution * execution)  # whole executions
    alone = [timed(lambda: [None for _ in pipeline.dataset.take(steps)]) for _ in range(rounds)]

    started = time.perf_counter()
    model = task.build(args, prepared)  # (text: adapts TextVectorization on the training reviews)
    build_seconds = time.perf_counter() - started
    model.compile(optimizer=make_optimizer(run.optimiser_settings(args), steps_per_epoch=pipeline.steps_per_epoch,
                                           epochs=args.epochs),
                  loss=task.loss(args), metrics=task.metrics(args), steps_per_execution=execution)
    training.build_compiled_state(model, pipeline.dataset.element_spec)
    batch = next(iter(pipeline.dataset))
    constant = tf.data.Dataset.from_tensors(batch).repeat()

    def fit(dataset):
        model.fit(dataset.take(steps), epochs=1, verbose=0, shuffle=False)

    fit(pipeline.dataset)  # warm-up: tracing, and the first pass filling the caches
    fit(constant)
    real, free = [], []
    for _ in range(rounds):
        real.append(timed(lambda: fit(pipeline.dataset)))
        free.append(timed(lambda: fit(constant)))
    samples = steps * args.batch_size
    row = {"command": " ".join(argv), "parameters": model.count_params(), "batch_size": args.batch_size,
           "steps": steps, "precision": keras.config.dtype_policy().name,
           "input_alone_samples_per_s": stats([samples / s for s in alone]),
           "training_samples_per_s": stats([samples / s for s in real]),
           "constant_input_samples_per_s": stats([samples / s for s in free]),
           "input_share": stats([max(0.0, 1 - f / r) for r, f in zip(real, free)])}
    vectorizer = next((layer for layer in model.layers if layer.name == "vectorizer"), None)
    if vectorizer is not None:
        texts = tf.data.Dataset.from_tensor_slices(prepared.train[0]).batch(args.batch_size).take(steps)
        vectorised = texts.map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE)
        seconds = [timed(lambda: [None for _ in vectorised]) for _ in range(rounds)]
        row["vectorizer_alone_samples_per_s"] = stats([samples / s for s in seconds])
        row["build_and_adapt_seconds"] = round(build_seconds, 1)
    keras.backend.clear_session()
    return row


def main(argv=None) -> None:
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[*DIGITS, *TEXT])
    parser.add_argument("--steps", type=positive_int, default=96, help="training steps per timing (default 96)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="interleaved timing pairs (default 3)")
    parser.add_argument("--table", action="store_true", help="print the table of the last results, run nothing")
    args = parser.parse_args(argv)
    if args.table:
        print_table(json.loads(RESULTS.read_text())["models"])
        return
    unknown = sorted(set(args.models) - {*DIGITS, *TEXT})
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join([*DIGITS, *TEXT])}")
    for folder in ("mnist_full", "imdb"):
        if not (DATA / folder).is_dir():
            raise SystemExit(f"{DATA / folder} is missing: this benchmark needs ../shared/data beside the repository")
    from applications import digits, sentiment
    from benchmarks.sentiment import OFFICIAL

    rows = {}
    for name in args.models:
        if name in DIGITS:
            argv_ = ["--data", str(DATA / "mnist_full"), *DIGITS[name]]
            task = digits.Digits()
        else:
            argv_ = ["--data", str(DATA / "imdb"), "--model", name, *OFFICIAL[name]]
            task = sentiment.Sentiment()
        rows[name] = measure(task, argv_, args.steps, args.rounds)
        print(name, json.dumps(rows[name]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                                   "steps": args.steps, "rounds": args.rounds, "models": rows}, indent=2) + "\n")
    print_table(rows)


def print_table(rows: dict) -> None:
    """The Markdown table; ``at most`` is training / input alone (medians): the share of a step the input would
    take if prefetching hid none of it."""
    print("\n| model | batch | input alone (samples/s) | training (samples/s) | input's share: at most "
          "| measured (constant input) | vectoriser alone (samples/s) |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for name, row in rows.items():
        bound = row["training_samples_per_s"]["median"] / row["input_alone_samples_per_s"]["median"]
        vector = row.get("vectorizer_alone_samples_per_s")
        vector = f"{vector['median']:,.0f}" if vector else "-"
        print(f"| {name} | {row['batch_size']} | {row['input_alone_samples_per_s']['median']:,.0f} "
              f"| {row['training_samples_per_s']['median']:,.0f} | {bound:.1%} "
              f"| {row['input_share']['median']:.0%} ({row['input_share']['min']:.0%}-{row['input_share']['max']:.0%}) "
              f"| {vector} |")


if __name__ == "__main__":
    main()

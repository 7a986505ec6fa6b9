"""Latency per call of the exported signature against Keras ``predict`` and ``model(x)``, batch 1 and 256.

    python -m benchmarks.serving          # ~5 min on 2 cores

For the digits (embedded digits, the default ``vgg``), sentiment (the IMDB
sample, the default bag of n-grams) and forecasting (the CO2 series, the
default ``dlinear``) applications: each trains briefly (latency does not
depend on accuracy), exports, and is then called three ways on the same
inputs: the SavedModel's ``serving_default`` loaded with
``tf.saved_model.load`` (what TF Serving runs), ``model.predict(x)`` and
``model(x, training=False)`` on the Keras model loaded from the run folder.
The three are interleaved (A, B, C, A, B, C ...) in 7 rounds after a warm-up;
each round times 50 calls (batch 1) or 10 calls (batch 256); the figure is
the median per-call time over rounds with its min and max. With the ``onnx``
extra installed (``pip install -e ".[onnx]"``), each export is also
converted with ``python -m tf2onnx.convert --saved-model`` and timed through
onnxruntime where it converts; the table says where it does not.

Goal (issue 10): the signature no slower than ``model(x)`` at batch 1, and
the digits signature under 1 ms at batch 1. Writes
``benchmarks/results/serving.json``.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
IMDB = ROOT.parent / "shared" / "data" / "imdb" / "imdb_reviews_2499.csv"
ROUNDS, CALLS = 7, {1: 50, 256: 10}


def train_and_export(app, module, args, work):
    import importlib

    main = importlib.import_module(module).main
    code = main([*args, "--epochs", "2", "--verbose", "0", "--output", str(work / "runs"), "--export",
                 "--export-dir", str(work / "exports")])
    assert code == 0, app
    return next((work / "runs" / app).glob("2*")), work / "exports" / app / "1"


def to_onnx(export, work):
    """An onnxruntime session for the export, or the reason there is none."""
    import subprocess
    import sys

    try:
        import onnxruntime
    except ImportError:
        return None, "onnxruntime not installed (pip install -e '.[onnx]')"
    target = work / f"{export.parent.name}.onnx"
    result = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(export), "--output",
                             str(target)], capture_output=True, text=True)
    if result.returncode:
        error = [line for line in result.stderr.splitlines() if "Error" in line]
        return None, f"does not convert ({(error or ['tf2onnx failed'])[-1].strip()[:160]})"
    try:
        return onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"]), None
    except Exception as err:  # converted, but onnxruntime cannot run it (e.g. TextVectorization's regex ops)
        return None, f"converts but onnxruntime refuses it ({str(err).splitlines()[0][-160:]})"


def main(argv=None):
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help
    import keras
    import tensorflow as tf

    from applications import sentiment  # noqa: F401  (registers the text standardisation for loading)

    apps = {"digits": ("applications.digits", ["--source", "embedded"]),
            "sentiment": ("applications.sentiment", ["--data", str(IMDB)]),
            "forecast": ("applications.forecasting", [])}
    figures = {}
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        for app, (module, args) in apps.items():
            run_dir, export = train_and_export(app, module, args, work)
            metadata = json.loads((export / "metadata.json").read_text())
            signature = tf.saved_model.load(str(export)).signatures["serving_default"]
            name, spec = next(iter(signature.structured_input_signature[1].items()))
            example = np.asarray(metadata["example_request"]["instances"])
            model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
            session, why_not = to_onnx(export, work)
            if why_not:
                print(f"{app}: ONNX {why_not}", flush=True)
                figures[f"{app} onnx"] = why_not
            for batch in (1, 256):
                x = np.resize(example, (batch, *example.shape[1:]))
                if app == "digits":
                    x_model = x[..., np.newaxis].astype("float32")
                elif app == "sentiment":
                    x_model = x.astype(object)
                else:
                    x_model = x.astype("float32")
                tensor = tf.constant(x, dtype=spec.dtype)
                ways = {"signature": lambda: signature(**{name: tensor}),
                        "predict": lambda: model.predict(x_model, verbose=0, batch_size=batch),
                        "model(x)": lambda: model(x_model, training=False)}
                if session is not None:
                    onnx_input = session.get_inputs()[0].name
                    x_onnx = x.astype(np.float32 if app == "forecast" else x.dtype)
                    ways["onnxruntime"] = lambda: session.run(None, {onnx_input: x_onnx})
                for call in ways.values():  # warm-up: tracing, first-call allocations
                    call(), call()
                times = {way: [] for way in ways}
                for _ in range(ROUNDS):
                    for way, call in ways.items():
                        start = time.perf_counter()
                        for _ in range(CALLS[batch]):
                            call()
                        times[way].append(1000 * (time.perf_counter() - start) / CALLS[batch])
                figures[f"{app} batch {batch}"] = {
                    way: {"median_ms": float(np.median(t)), "min_ms": float(min(t)), "max_ms": float(max(t))}
                    for way, t in times.items()}
                print(f"{app} batch {batch}: " + ", ".join(
                    f"{way} {np.median(t):.3f} ms" for way, t in times.items()), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\n| model, batch | SavedModel signature | Keras predict | model(x) | onnxruntime |\n|---|---:|---:|---:|---:|")
    for key, row in figures.items():
        if isinstance(row, str):
            continue
        print(f"| {key} | " + " | ".join(
            f"{row[w]['median_ms']:.3f} ({row[w]['min_ms']:.3f}-{row[w]['max_ms']:.3f})" if w in row else "n/a"
            for w in ("signature", "predict", "model(x)", "onnxruntime")) + " |")


if __name__ == "__main__":
    main()

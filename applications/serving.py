"""Check an exported SavedModel as TF Serving would use it: ``python -m applications.serving check DIR``.

    python -m applications.serving check saved_models/digits/1
    kerazoo-serve-check saved_models/sentiment/3 --no-cli

For any application's export (``saved_models/<model>/<version>/``) it

1. reads ``metadata.json`` beside the model (inputs, outputs, example request);
2. loads the model with ``tf.saved_model.load`` in this process (a fresh
   one: nothing of the training process is reused) and checks that
   ``serving_default`` exists and that its input names, dtypes and shapes
   are the ones the metadata promises;
3. sends the example request through the signature in both of TF Serving's
   REST formats, the row format ``{"instances": [...]}`` and the columnar
   ``{"inputs": {...}}``, and checks the outputs: names, dtypes, shapes
   (``-1`` is the batch), finite numbers, values inside ``output_ranges``,
   and the same answer from both formats;
4. runs the same request through ``saved_model_cli run`` (unless ``--no-cli``);
5. prints the ``curl`` line a user would send to TF Serving.

Exit code 0 when every check passes; 1 with the failed checks listed.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before it loads
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from applications.kit import cli, errors


def request_tensors(request: dict, names: list[str]) -> dict:
    """A REST request body (``instances`` rows or ``inputs`` columns) -> ``{input name: array}``."""
    if "inputs" in request:
        columns = request["inputs"]
        columns = columns if isinstance(columns, dict) else {names[0]: columns}
        return {name: np.asarray(columns[name]) for name in names}
    rows = request["instances"]
    if len(names) == 1 and not (rows and isinstance(rows[0], dict)):
        return {names[0]: np.asarray(rows)}
    return {name: np.asarray([row[name] for row in rows]) for name in names}


def both_formats(tensors: dict) -> dict:
    """The same request as TF Serving's row and columnar bodies."""
    names = list(tensors)
    columns = {"inputs": {"inputs": {k: v.tolist() for k, v in tensors.items()}}}
    if len({len(v) for v in tensors.values()}) > 1:  # inputs of different lengths (a graph's): no rows
        return columns
    if len(names) == 1:
        rows = tensors[names[0]].tolist()
    else:
        rows = [{name: tensors[name][i].tolist() for name in names} for i in range(len(tensors[names[0]]))]
    return {"instances": {"instances": rows}, **columns}


def shape_matches(actual, expected, batch) -> bool:
    expected = [batch if d == -1 else d for d in expected]
    return list(actual) == expected


def is_shape(value) -> bool:
    return isinstance(value, list) and all(isinstance(d, int) for d in value)


class Report:
    def __init__(self):
        self.failures, self.passed = [], []

    def check(self, ok: bool, what: str) -> bool:
        (self.passed if ok else self.failures).append(what)
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        return ok


def check_export(path, *, use_cli=True, host="localhost:8501") -> Report:
    import tensorflow as tf

    path = pathlib.Path(path)
    if not (path / "saved_model.pb").exists():
        from applications.kit.export import existing_versions

        versions = existing_versions(path)  # the model's folder, one level up from a version
        hint = (f"its latest version is {path / str(versions[-1])}" if versions
                else "give saved_models/<model>/<version>")
        raise errors.UsageError(f"{path} is not a SavedModel version folder (no saved_model.pb); {hint}")
    if not (path / "metadata.json").exists():
        raise errors.UsageError(f"{path} has no metadata.json; export it with an application's --export")
    try:
        metadata = json.loads((path / "metadata.json").read_text())
    except (ValueError, OSError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise errors.UsageError(f"{path / 'metadata.json'} is not readable JSON ({type(err).__name__}: {err}); "
                                "export the model again with an application's --export") from None
    if not isinstance(metadata, dict):
        raise errors.UsageError(f"{path / 'metadata.json'} holds a JSON {type(metadata).__name__}, not the object "
                                "an export writes; export the model again with an application's --export")
    report = Report()
    print(f"Checking {path} ({metadata.get('model')} version {metadata.get('version')})")

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # a damaged export: no variables/, a saved_model.pb that is not one
        raise errors.UsageError(f"{path} cannot be loaded as a SavedModel ({type(err).__name__}: "
                                f"{errors.first_line(err)}); "
                                "export the model again") from None
    if not report.check("serving_default" in loaded.signatures, "signature serving_default exists"):
        return report
    signature = loaded.signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    promised = metadata.get("inputs", {})
    report.check(sorted(specs) == sorted(promised), f"input names {sorted(specs)} match the metadata's")
    for name, spec in specs.items():
        if name in promised:
            report.check(spec.dtype.name == promised[name]["dtype"],
                         f"input {name}: dtype {spec.dtype.name} (metadata {promised[name]['dtype']})")
            want = promised[name].get("shape")
            if spec.shape.rank is not None and want is not None:
                declared = [-1 if d is None else d for d in spec.shape.as_list()]
                report.check(all(d == -1 or w == -1 or d == w for d, w in zip(declared, want))
                             and len(declared) == len(want), f"input {name}: shape {declared} (metadata {want})")
    outputs = {k: v for k, v in metadata.get("outputs", {}).items() if is_shape(v)}
    returned = signature.structured_outputs
    report.check(set(outputs) <= set(returned), f"outputs {sorted(returned)} include the metadata's {sorted(outputs)}")

    request = metadata.get("example_request")
    if not report.check(request is not None, "metadata has an example request"):
        return report
    try:
        tensors = request_tensors(request, list(specs))
        for name, value in tensors.items():
            tf.constant(value, dtype=specs[name].dtype)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        report.check(False, f"metadata's example request is a TF Serving request body for inputs "
                            f"{sorted(specs)} ({type(err).__name__}: {str(err)[:200]})")
        return report
    answers = {}
    # A graph's inputs (nodes, edges) have different lengths: no row format, columns only (its metadata says so).
    formats = metadata.get("request_formats", ["instances", "inputs"])
    for form, body in both_formats(tensors).items():
        if form not in formats:
            continue
        inputs = {name: tf.constant(value, dtype=specs[name].dtype)
                  for name, value in request_tensors(body, list(specs)).items()}
        try:
            result = {k: v.numpy() for k, v in signature(**inputs).items()}
        except Exception as err:  # the signature refused the request: that is the finding
            report.check(False, f"{form} request runs ({type(err).__name__}: {errors.first_line(err)})")
            continue
        report.check(True, f"{form} request runs")
        answers[form] = result
        batch = len(inputs[metadata["batch_input"]] if metadata.get("batch_input") in inputs
                    else next(iter(inputs.values())))
        for name, shape in outputs.items():
            if name in result:
                report.check(shape_matches(result[name].shape, shape, batch),
                             f"{form}: output {name} shape {list(result[name].shape)} (metadata {shape})")
        for name, value in result.items():
            if value.dtype.kind == "f":
                report.check(bool(np.isfinite(value).all()), f"{form}: output {name} is finite")
            low_high = metadata.get("output_ranges", {}).get(name)
            if low_high is not None and value.dtype.kind in "fiu":
                report.check(bool(low_high[0] <= value.min() and value.max() <= low_high[1]),
                             f"{form}: output {name} in [{low_high[0]}, {low_high[1]}] "
                             f"(got [{value.min():.4g}, {value.max():.4g}])")
    if len(answers) == 2:
        same = all(np.array_equal(answers["instances"][k], answers["inputs"][k]) for k in answers["instances"])
        report.check(same, "instances and inputs formats give the same answer")

    if use_cli:
        check_with_saved_model_cli(path, tensors, specs, answers.get(formats[0]), report)
    name = metadata.get("model", path.parent.name)
    body = json.dumps(both_formats(tensors)[formats[0]])
    models = path.parent if path.is_absolute() else f"$PWD/{path.parent}"  # docker -v takes absolute paths
    print(f"\nTF Serving (docker run -p 8501:8501 -v \"{models}:/models/{name}\" -e MODEL_NAME={name} "
          f"tensorflow/serving):\ncurl -d '{body}' -X POST http://{host}/v1/models/{name}:predict")
    return report


def agree(a, b) -> bool:
    """The same answer: equal, or for floats equal to float32 rounding (rtol 1e-5)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))
    return np.array_equal(a, b)


def check_with_saved_model_cli(path, tensors, specs, expected, report) -> None:
    """``saved_model_cli run`` on the example, its outputs saved as .npy and compared with the signature's."""
    tool = shutil.which("saved_model_cli") or str(pathlib.Path(sys.executable).with_name("saved_model_cli"))
    if not pathlib.Path(tool).exists():
        report.check(False, "saved_model_cli found (it comes with tensorflow)")
        return
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        inputs = []
        for name, value in tensors.items():
            dtype = specs[name].dtype
            np.save(work / f"in_{name}.npy", value.astype(object if dtype.name == "string" else dtype.as_numpy_dtype))
            inputs.append(f"{name}={work / f'in_{name}.npy'}")
        command = [tool, "run", "--dir", str(path), "--tag_set", "serve", "--signature_def", "serving_default",
                   "--inputs", ";".join(inputs), "--outdir", str(work), "--overwrite"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if not report.check(result.returncode == 0, "saved_model_cli run answers"):
            print("    " + "\n    ".join(result.stderr.strip().splitlines()[-3:]))
            return
        if expected:
            missing = sorted(k for k in expected if not (work / f"{k}.npy").exists())
            if not report.check(not missing, f"saved_model_cli wrote every output{f' (not {missing})' if missing else ''}"):
                return
            # Another process may sum in another order (threads, oneDNN): floats agree to rounding, the rest exactly.
            same = all(agree(np.load(work / f"{k}.npy", allow_pickle=True), v) for k, v in expected.items())
            report.check(same, "saved_model_cli gives the signature's answer")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = cli.ArgumentParser(prog="kerazoo-serve-check", description="Check an exported SavedModel for serving.")
    parser.add_argument("command", choices=("check",))
    parser.add_argument("export", help="saved_models/<model>/<version>")
    parser.add_argument("--no-cli", action="store_true", help="skip the saved_model_cli run")
    parser.add_argument("--host", default="localhost:8501", help="TF Serving's REST address for the curl line")
    args = parser.parse_args(argv)
    report = check_export(args.export, use_cli=not args.no_cli, host=args.host)
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed:\n  " + "\n  ".join(report.failures))
        return 1
    print(f"\nAll {len(report.passed)} checks passed")
    return 0


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-serve-check"))


if __name__ == "__main__":
    cli_main()

"""The serving checker on every application's export, in a fresh process: signature, both REST formats,
saved_model_cli, output shapes and ranges; and that it fails when the export breaks a promise."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED_DATA, run_in_process

COMMON = ["--epochs", "1", "--verbose", "0", "--precision", "float32", "--export"]
APPS = {
    "digits": ("applications.digits", ["--source", "embedded", "--model", "convnet"], ["digits"]),
    "sentiment": ("applications.sentiment", ["--data", str(SHARED_DATA / "imdb" / "imdb_reviews_2499.csv")], ["sentiment"]),
    "forecast": ("applications.forecasting", ["--lookback", "32", "--horizon", "4"], ["forecast"]),
    "compression": ("applications.compression", ["train", "--source", "embedded"],
                    ["compression_encoder", "compression_decoder"]),
    "generation": ("applications.generation", ["train", "--source", "embedded", "--conditional",
                                               "--classifier-epochs", "1", "--samples", "50"], ["generation"]),
}


def check(export, *extra):
    return subprocess.run([sys.executable, "-m", "applications.serving", "check", str(export), *extra],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def train_and_export(app, out, capsys=None):
    """Train ``app`` for one epoch with --export; return the folder holding its exports."""
    import importlib

    module, args, _ = APPS[app]
    code, _, err = run_in_process(importlib.import_module(module).main, *args, *COMMON, "--output", out / "runs",
                                  "--export-dir", out / "exports", capsys=capsys)
    assert code == 0, err
    return out / "exports"


@pytest.fixture(scope="module")
def digits_exports(tmp_path_factory):
    """One digits export shared by the passing and the failing check."""
    return train_and_export("digits", tmp_path_factory.mktemp("serving"))


# The checker itself is the same for every export: digits in the quick tier, the other four with `make test-slow`.
@pytest.mark.parametrize("app", [a if a == "digits" else pytest.param(a, marks=pytest.mark.slow) for a in APPS])
def test_every_application_export_passes_the_serving_check(app, tmp_path, capsys, request):
    if app == "sentiment" and not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    exports = request.getfixturevalue("digits_exports") if app == "digits" else train_and_export(app, tmp_path, capsys)
    for name in APPS[app][2]:
        result = check(exports / name / "1")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert "FAIL" not in result.stdout and "saved_model_cli gives the signature's answer" in result.stdout
        assert f"/v1/models/{name}:predict" in result.stdout and "curl -d '{\"instances\": " in result.stdout
        assert f'docker run -p 8501:8501 -v "{exports / name}:/models/{name}"' in result.stdout  # absolute as given


def test_the_check_fails_when_the_export_breaks_its_metadata(digits_exports, tmp_path, capsys):
    from applications.serving import main

    export = tmp_path / "1"
    shutil.copytree(digits_exports / "digits" / "1", export)
    metadata = json.loads((export / "metadata.json").read_text())
    metadata["inputs"]["images"]["dtype"] = "float32"     # a client would send the wrong type
    metadata["outputs"]["probabilities"] = [-1, 11]       # and expect an eleventh class
    (export / "metadata.json").write_text(json.dumps(metadata))
    code, out, _ = run_in_process(main, "check", export, "--no-cli", capsys=capsys)
    assert code == 1
    assert "FAIL input images: dtype uint8 (metadata float32)" in out
    assert "FAIL instances: output probabilities shape [2, 10] (metadata [-1, 11])" in out


def test_the_check_refuses_a_folder_that_is_not_an_export(tmp_path, capsys):
    from applications.serving import main

    code, _, err = run_in_process(main, "check", tmp_path, capsys=capsys)
    assert code == 2 and "not a SavedModel version folder" in err
    for version in ("1", "2", "10"):  # the model's folder instead of a version's: name the latest version
        (tmp_path / version).mkdir()
    code, _, err = run_in_process(main, "check", tmp_path, capsys=capsys)
    assert code == 2 and f"its latest version is {tmp_path / '10'}" in err, err


def _no_variables(export):
    shutil.rmtree(export / "variables")


def _random_saved_model(export):
    (export / "saved_model.pb").write_bytes(os.urandom(4096))


def _metadata(text):
    return lambda export: (export / "metadata.json").write_text(text)


def _example(request):
    def mangle(export):
        metadata = json.loads((export / "metadata.json").read_text())
        metadata["example_request"] = request
        (export / "metadata.json").write_text(json.dumps(metadata))
    return mangle


@pytest.mark.parametrize("damage, code, fragment", [
    (_no_variables, 2, "cannot be loaded as a SavedModel"),
    (_random_saved_model, 2, "cannot be loaded as a SavedModel"),
    (_metadata("{not json"), 2, "metadata.json is not readable JSON (JSONDecodeError"),
    (_metadata("[1, 2]"), 2, "metadata.json holds a JSON list, not the object an export writes"),
    (_example({"rows": []}), 1, "FAIL metadata's example request is a TF Serving request body"),
    (_example({"instances": [[[1, 2], [3]]]}), 1, "FAIL metadata's example request is a TF Serving request body"),
], ids=["no-variables", "random-saved-model-pb", "metadata-not-json", "metadata-a-list", "request-without-rows",
        "request-ragged"])
def test_a_damaged_export_is_one_line_or_a_failed_check_never_a_traceback(digits_exports, tmp_path, capsys,
                                                                           damage, code, fragment):
    from applications.serving import main

    export = tmp_path / "1"
    shutil.copytree(digits_exports / "digits" / "1", export)
    damage(export)
    got, out, err = run_in_process(main, "check", export, "--no-cli", capsys=capsys)
    assert got == code and fragment in (err if code == 2 else out), out + err
    assert "Traceback" not in err and (code == 1 or len(err.strip().splitlines()) == 1)


def test_the_check_fails_when_saved_model_cli_writes_no_output(digits_exports, monkeypatch, capsys):
    """It passed when saved_model_cli answered but wrote no output file: nothing was compared."""
    from applications import serving

    real_run = subprocess.run

    def no_outputs(command, **kwargs):
        result = real_run(command, **kwargs)
        if "saved_model_cli" in str(command[0]):
            outdir = command[command.index("--outdir") + 1]
            for written in os.listdir(outdir):
                if not written.startswith("in_"):
                    os.remove(os.path.join(outdir, written))
        return result

    monkeypatch.setattr(serving.subprocess, "run", no_outputs)
    code, out, _ = run_in_process(serving.main, "check", digits_exports / "digits" / "1", capsys=capsys)
    assert code == 1 and "FAIL saved_model_cli wrote every output (not ['class_id', 'probabilities'])" in out


def test_a_system_exit_with_a_message_is_an_error_not_success(capsys):
    from applications.kit import cli

    def main(argv):
        raise SystemExit("the quality classifier could not be trained")

    assert cli.run(main, [], prog="kerazoo-test") == 1
    assert "kerazoo-test: error: the quality classifier could not be trained" in capsys.readouterr().err

"""``--from`` takes a run folder or an export of its own application: another's is a one-line error
(it was a traceback from deep inside Keras or the app)."""

import importlib
import json

import pytest

from conftest import assert_one_line_error, run_in_process


@pytest.fixture
def digits_folders(tmp_path):
    """What a digits run and a digits export leave behind, as far as the checks read them."""
    run, export = tmp_path / "runs" / "digits" / "20260101-000000", tmp_path / "exports" / "digits" / "1"
    for folder in (run, export):
        folder.mkdir(parents=True)
    (run / "model.keras").write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"application": "digits", "labels": ["0", "1"]}))
    (export / "saved_model.pb").write_bytes(b"")
    (export / "metadata.json").write_text(json.dumps({"model": "digits", "labels": ["0", "1"]}))
    return tmp_path, run, export


@pytest.mark.parametrize("module, argv, message", [
    ("compression", ["encode", "--from", "{run}", "--data", "{run}", "--output", "{tmp}/codes.kzc"],
     "a digits run, not a compression one; give the folder that kerazoo-compress train printed"),
    ("compression", ["evaluate", "--from", "{run}"], "a digits run, not a compression one"),
    ("generation", ["sample", "--from", "{run}", "--output", "{tmp}/samples"],
     "a digits run, not a generation one; give the folder that kerazoo-generate train printed"),
    ("generation", ["evaluate", "--from", "{run}"], "a digits run, not a generation one"),
    ("sentiment", ["predict", "--from", "{run}", "a text"], "a digits run, not a sentiment one"),
    ("sentiment", ["predict", "--from", "{export}", "a text"], "a digits export, not a sentiment one"),
])
def test_another_applications_folder_is_a_one_line_error(digits_folders, module, argv, message, capsys):
    tmp, run, export = digits_folders
    argv = [a.format(tmp=tmp, run=run, export=export) for a in argv]
    main = importlib.import_module(f"applications.{module}").main
    code, _, err = run_in_process(main, *argv, capsys=capsys)
    assert_one_line_error(code, err, message)

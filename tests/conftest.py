import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pytest

# Before Keras is imported: keep its keras.json and downloads out of the user's home.
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras-home-"))

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_collection_finish(session):
    """Keep what collection imported (TensorFlow, Keras, every test module: about half a million
    objects) out of the garbage collector's full passes, which walked all of it again and again.

    Measured on tests/test_zoo.py, test_registry.py and test_configs.py in one process, four
    interleaved pairs: the collector's time went from 11.1-12.8 s to 2.4-2.9 s of each run, the
    run's CPU time from 49.7-61.4 s to 46.0-48.8 s (median ratio 0.83).
    """
    import gc

    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """In-process application runs set a global dtype policy: put float32 back after a test that changed it.

    Only then: ``keras.backend.clear_session()`` runs a garbage collection and
    cost ~0.25 s after each of the suite's ~1,100 tests (5 minutes of 14).
    """
    yield
    import sys

    keras = sys.modules.get("keras")
    if keras is not None and keras.config.dtype_policy().name != "float32":
        keras.mixed_precision.set_global_policy("float32")


def run_in_process(main, *args, capsys=None):
    """``cli.run(main, argv)`` in this process: (exit code, stdout, stderr).

    Output is read from ``capsys`` in a test, or caught with ``contextlib``
    where there is none (a module-scoped fixture): no new Python process, no
    second TensorFlow import.
    """
    import contextlib
    import io

    from applications.kit import cli

    if capsys:
        code = cli.run(main, [str(a) for a in args], prog="kerazoo-test")
        out, err = capsys.readouterr()
        return code, out, err
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(main, [str(a) for a in args], prog="kerazoo-test")
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code, err, *fragments):
    """A user's mistake: exit code 2, one "error:" line holding every fragment, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def shared_data():
    """``../shared/data`` (real data kept beside the project); skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it is not part of a fresh clone)")
    return SHARED_DATA


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app(module, *args, cwd, timeout=300, env=None):
    """Run ``python -m module args`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def random_inputs(model, batch=3, seed=0, vocabulary_size=50):
    """A random batch for each of the model's inputs (one array, or a list for several).

    Integer inputs get class labels 0 or 1, or token ids below ``vocabulary_size``
    with the last two positions of a sequence set to 0 (padding); float inputs are uniform in
    [0, 1). The VAE and the GANs take their encoder's or generator's inputs;
    the perceptron, which has no symbolic inputs, takes floats.
    """
    rng = np.random.default_rng(seed)
    part = getattr(model, "generator", None) or getattr(model, "encoder", None) or model
    specs = [(t.shape, t.dtype) for t in part.inputs] if hasattr(part, "inputs") else [
        (model.input_shape, "float32")]
    names = [t.name for t in part.inputs] if hasattr(part, "inputs") else []
    if names == ["features", "edges"]:  # a graph: ``batch`` nodes, each with an edge to the next (a cycle)
        nodes = np.arange(batch)
        edges = np.stack([nodes, np.roll(nodes, -1)], axis=1)
        return [rng.random((batch, specs[0][0][-1])).astype("float32"),
                np.concatenate([edges, edges[:, ::-1]]).astype("int32")]
    arrays = []
    for shape, dtype in specs:
        shape = (batch, *(d or 12 for d in shape[1:]))  # None: any length
        if "int" in str(dtype):
            if len(shape) == 1:  # class labels
                x = rng.integers(0, 2, size=shape)
            else:  # token ids
                x = rng.integers(1, vocabulary_size, size=shape)
                x[:, -2:] = 0
            arrays.append(x.astype("int32"))
        else:
            arrays.append(rng.random(shape).astype("float32"))
    return arrays[0] if len(arrays) == 1 else arrays


def kill_and_resume(command, app: str, tmp_path, *, epochs: int, kill_after: int = 2, phase: str = "",
                    epochs_before: int = 0):
    """Run ``command(output)`` whole, and again killed by SIGKILL after epoch ``kill_after`` and rerun.

    Checks: the rerun says it resumed, continues in one run folder, and ends
    with the same ``history.csv`` and bit-identical weights as the whole run;
    the backup is removed at the end. Returns the two run folders. ``phase``:
    the kill comes in that phase of a two-phase run (``"phase2"``), after
    ``epochs_before`` epochs of the first.
    """
    import json
    import signal
    import time

    import keras
    import pandas as pd

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    whole = subprocess.run(command(tmp_path / "whole"), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    first = subprocess.Popen(command(tmp_path / "parts"), cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backups = tmp_path / "parts" / app / "backup"
    deadline = time.monotonic() + 240
    try:
        while True:
            states = list(backups.glob(f"*/{phase + '/' if phase else ''}state/state.json"))
            if states and json.loads(states[0].read_text())["epoch"] >= kill_after:
                break
            assert first.poll() is None, "training ended before the kill"
            assert time.monotonic() < deadline, "no backup appeared"
            time.sleep(0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = json.loads(states[0].read_text())["epoch"]
    assert kill_after <= killed_at < epochs
    second = subprocess.run(command(tmp_path / "parts"), cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"Resuming from epoch {killed_at}" in second.stdout

    (whole_dir,) = (tmp_path / "whole" / app).glob("2*")
    (parts_dir,) = (tmp_path / "parts" / app).glob("2*")  # one run folder, continued
    pd.testing.assert_frame_equal(pd.read_csv(whole_dir / "history.csv"), pd.read_csv(parts_dir / "history.csv"))
    assert json.loads((parts_dir / "metrics.json").read_text())["resumed_from_epoch"] == epochs_before + killed_at
    a = keras.saving.load_model(whole_dir / "model.keras", safe_mode=True).get_weights()
    b = keras.saving.load_model(parts_dir / "model.keras", safe_mode=True).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not list(backups.rglob("state"))  # the backup is removed once training finishes
    return whole_dir, parts_dir

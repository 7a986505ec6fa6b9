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


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """In-process application runs set a global dtype policy: put float32 back after each test."""
    yield
    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


def run_in_process(main, *args, capsys=None):
    """``cli.run(main, argv)`` in this process: (exit code, stdout, stderr)."""
    from applications.kit import cli

    code = cli.run(main, [str(a) for a in args], prog="kerazoo-test")
    out, err = capsys.readouterr() if capsys else ("", "")
    return code, out, err


@pytest.fixture
def shared_data():
    """``../shared/data`` (real data kept beside the project); skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it is not part of a fresh clone)")
    return SHARED_DATA


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

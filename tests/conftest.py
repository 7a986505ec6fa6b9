import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

# Before Keras is imported: keep its keras.json and downloads out of the user's home.
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras-home-"))

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


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

"""Bad input to the digits app: one line naming the problem and the fix, exit code 2."""

import numpy as np
import pytest

from conftest import run_app


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def bad_inputs(tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    (corrupt / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 4)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 broken")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(100, 8, 8)).astype("float32")
    images[5, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=images, y=np.arange(100) % 10)
    np.savez(tmp_path / "one_class.npz", x=rng.integers(0, 256, size=(100, 8, 8)).astype("uint8"),
             y=np.zeros(100, dtype=int))
    return tmp_path


@pytest.mark.parametrize("args, fragments", [
    (["--data", "{tmp}/missing"], ["no such file", "check the path"]),
    (["--data", "{tmp}/corrupt"], ["corrupt", "re-download"]),
    (["--data", "{tmp}/corrupt.npz"], ["cannot read", "np.savez"]),
    (["--data", "{tmp}/nan.npz"], ["NaN", "clean or drop"]),
    (["--data", "{tmp}/one_class.npz"], ["at least two classes"]),
    (["--model", "resnett"], ["Unknown model name 'resnett'"]),
    (["--model", "mlp_regressor"], ["not an image classifier"]),
    (["--epochs", "-3"], ["--epochs", "must be 1 or more"]),
])
def test_bad_input_is_one_line_and_exit_2(bad_inputs, args, fragments):
    args = [a.format(tmp=bad_inputs) for a in args]
    result = run_app("applications.digits", *args, "--output", bad_inputs / "runs", cwd=bad_inputs)
    assert_one_line_error(result, *fragments)

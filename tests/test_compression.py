"""The compression application: the code-file container, train -> encode -> decode on real digits, the
exported encoder and decoder in a fresh process, and one-line errors for bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from applications import compression
from applications.compression import baselines, codefile
from applications.kit.errors import DataError
from applications.kit.images import load_embedded
from conftest import ROOT, assert_one_line_error, run_in_process

FAST = ["--source", "embedded", "--verbose", "0", "--precision", "float32"]
PSNR_FLOOR_DB = 17.0  # the dense autoencoder below reaches ~20 dB on the embedded digits' test part


# ------------------------------------------------------------------ the container

@pytest.mark.parametrize("bits", [1, 3, 8, 12, 16])
def test_code_file_round_trip_keeps_every_level(bits):
    rng = np.random.default_rng(bits)
    codes = rng.normal(size=(37, 5)).astype("float32")
    blob = codefile.encode_file(codes, bits=bits, image_shape=(8, 8, 1), model="m")
    decoded, header = codefile.decode_file(blob, model="m")
    assert decoded.shape == codes.shape and decoded.dtype == np.float32
    assert header["bits"] == bits and header["count"] == 37
    # Uniform quantisation: every code within half a step of its level.
    offset, scale = codefile.code_ranges(codes, bits)
    assert np.all(np.abs(decoded - codes) <= scale / 2 + 1e-6)
    header_bytes = int.from_bytes(blob[4:8], "little")
    assert len(blob) == 8 + header_bytes + 2 * 4 * 5 + -(-37 * 5 * bits // 8)


def test_pack_unpack_are_inverse():
    levels = np.arange(2 ** 10, dtype=np.uint32)
    np.testing.assert_array_equal(codefile.unpack(codefile.pack(levels, 10), len(levels), 10), levels)


@pytest.mark.parametrize("mangle, fragment", [
    (lambda blob: blob[:-3], "truncated or corrupt"),
    (lambda blob: b"PK" + blob[2:], "not a kerazoo code file"),
    (lambda blob: blob[:3] + b"\x09" + blob[4:], "format version 9"),
    (lambda blob: blob[:8] + b"]" + blob[9:], "header cannot be read"),
])
def test_damaged_code_files_are_refused(mangle, fragment):
    blob = codefile.encode_file(np.ones((4, 3), "float32"), bits=8, image_shape=(8, 8, 1), model="m")
    with pytest.raises(DataError, match=fragment):
        codefile.decode_file(mangle(blob), model="m")


def test_a_code_file_from_another_model_is_refused():
    blob = codefile.encode_file(np.ones((4, 3), "float32"), bits=8, image_shape=(8, 8, 1), model="m")
    with pytest.raises(DataError, match="encoded by another model"):
        codefile.decode_file(blob, model="other")


# ------------------------------------------------------------------ the application

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dense autoencoder (16 numbers per image) trained on the embedded digits, exported."""
    work = tmp_path_factory.mktemp("compression")
    code, _, _ = run_in_process(compression.main, "train", *FAST, "--model", "dense", "--epochs", "40",
                                "--output", work / "runs", "--export", "--export-dir", work / "exports")
    assert code == 0
    run_dir = next((work / "runs" / "compression").glob("2*"))
    return work, run_dir


def test_training_reports_the_codec_against_pca_and_jpeg(trained):
    _, run_dir = trained
    metrics = json.loads((run_dir / "metrics.json").read_text())
    comparison = metrics["comparison"]
    assert {"autoencoder", "pca_16", "jpeg_q5"} <= set(comparison)
    assert metrics["test_psnr"] > PSNR_FLOOR_DB
    # 16 bytes of codes per 64-pixel image, plus the header's share.
    assert 16 <= metrics["test_bytes_per_image"] < 20 and metrics["test_compression_ratio"] > 3
    assert 0 < metrics["test_ssim"] <= 1
    for name in ("reconstructions.png", "rate_distortion.png", "learning_curves.png", "history.csv"):
        assert (run_dir / name).stat().st_size > 0


def test_export_metadata_holds_the_8_bit_code_ranges_of_the_training_images(trained):
    """offset + scale_8_bit * 255 is each code's training maximum (it was 255x too small: divided twice)."""
    import keras

    work, run_dir = trained
    ranges = json.loads((work / "exports" / "compression_encoder" / "1" / "metadata.json").read_text()
                        )["training_code_ranges"]
    offset, scale = np.array(ranges["offset"]), np.array(ranges["scale_8_bit"])
    x = load_embedded().x[..., None]
    train, _, _ = compression.random_split(x, 0.2, 0.1, 42)
    encoder, _ = compression.parts(keras.saving.load_model(run_dir / "model.keras", safe_mode=True))
    codes = compression.encode_floats(encoder, train)
    np.testing.assert_allclose(offset, codes.min(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(offset + 255 * scale, codes.max(axis=0), rtol=1e-4, atol=1e-5)


def test_encode_then_decode_keeps_shape_dtype_and_quality(trained, tmp_path, capsys):
    _, run_dir = trained
    images = load_embedded().x[:50]
    np.savez(tmp_path / "digits.npz", x=images)
    code, out, err = run_in_process(compression.main, "encode", "--from", run_dir, "--data",
                                    tmp_path / "digits.npz", "--output", tmp_path / "codes.kzc", capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "codes.kzc").stat().st_size < images.nbytes / 2.5
    code, out, err = run_in_process(compression.main, "decode", tmp_path / "codes.kzc", "--from", run_dir,
                                    "--output", tmp_path / "decoded.npz", capsys=capsys)
    assert code == 0, err
    decoded = np.load(tmp_path / "decoded.npz")["x"]
    assert decoded.shape == (50, 8, 8, 1) and decoded.dtype == np.uint8
    assert baselines.psnr(baselines.mse(images[..., None], decoded)) > PSNR_FLOOR_DB
    # PNGs too
    code, _, err = run_in_process(compression.main, "decode", tmp_path / "codes.kzc", "--from", run_dir,
                                  "--output", tmp_path / "png", capsys=capsys)
    assert code == 0, err
    png = np.asarray(Image.open(tmp_path / "png" / "000003.png"))
    np.testing.assert_array_equal(png, decoded[3, ..., 0])


def test_encoding_images_of_another_size_says_it_resizes_them(trained, tmp_path, capsys):
    _, run_dir = trained
    np.savez(tmp_path / "large.npz", x=np.kron(load_embedded().x[:5], np.ones((2, 2), np.uint8)))  # 16x16
    code, out, err = run_in_process(compression.main, "encode", "--from", run_dir, "--data", tmp_path / "large.npz",
                                    "--output", tmp_path / "codes.kzc", capsys=capsys)
    assert code == 0, err
    assert "Resizing the images from 16x16 to the model's 8x8" in out  # was silent


@pytest.mark.slow  # a fresh process per app: digits' and sentiment's exports are in the quick tier
def test_exported_encoder_and_decoder_answer_in_a_fresh_process(trained):
    work, _ = trained
    encoder, decoder = work / "exports" / "compression_encoder" / "1", work / "exports" / "compression_decoder" / "1"
    assert json.loads((encoder / "metadata.json").read_text())["outputs"]["codes"] == [-1, 16]
    script = f"""
import numpy as np, tensorflow as tf
from sklearn.datasets import load_digits
images = np.round(load_digits().images[:20] * 255 / 16).astype(np.uint8)
codes = tf.saved_model.load({str(encoder)!r}).signatures["serving_default"](images=tf.constant(images))["codes"]
out = tf.saved_model.load({str(decoder)!r}).signatures["serving_default"](codes=codes)["images"].numpy()
assert codes.shape == (20, 16) and codes.dtype == tf.float32, codes
assert out.shape == (20, 8, 8, 1) and out.dtype == np.uint8, out.shape
mse = np.mean((out[..., 0] / 255 - images / 255) ** 2)
print("mse", mse)
assert mse < 0.03, mse
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_decode_refuses_codes_of_another_model_and_truncated_files(trained, tmp_path, capsys):
    _, run_dir = trained
    np.savez(tmp_path / "digits.npz", x=load_embedded().x[:10])
    run_in_process(compression.main, "encode", "--from", run_dir, "--data", tmp_path / "digits.npz",
                   "--output", tmp_path / "codes.kzc", capsys=capsys)
    blob = (tmp_path / "codes.kzc").read_bytes()
    (tmp_path / "short.kzc").write_bytes(blob[:-4])
    code, _, err = run_in_process(compression.main, "decode", tmp_path / "short.kzc", "--from", run_dir,
                                  "--output", tmp_path / "x.npz", capsys=capsys)
    assert_one_line_error(code, err, "truncated or corrupt", "re-encode")
    other = codefile.encode_file(np.ones((3, 16), "float32"), bits=8, image_shape=(8, 8, 1), model="0" * 16)
    (tmp_path / "other.kzc").write_bytes(other)
    code, _, err = run_in_process(compression.main, "decode", tmp_path / "other.kzc", "--from", run_dir,
                                  "--output", tmp_path / "x.npz", capsys=capsys)
    assert_one_line_error(code, err, "encoded by another model")


@pytest.fixture
def bad_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    for name, size in (("a.png", 8), ("b.png", 12)):
        (tmp_path / "mixed").mkdir(exist_ok=True)
        Image.fromarray(np.zeros((size, size), np.uint8)).save(tmp_path / "mixed" / name)
    (tmp_path / "text").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "text" / "a.png")
    (tmp_path / "text" / "README.txt").write_text("not an image")
    return tmp_path


@pytest.mark.parametrize("args, fragments", [
    (["--data", "{tmp}/mixed"], ["mixed sizes", "--resize"]),
    (["--data", "{tmp}/empty"], ["empty folder"]),
    (["--data", "{tmp}/text"], ["README.txt is not a PNG or JPEG"]),
    (["--latent-dim", "0"], ["kerazoo-compress train: error: argument --latent-dim", "must be 1 or more"]),
    (["--bits", "0"], ["--bits", "must be 1 or more"]),
    (["--bits", "17"], ["--bits", "16 or fewer"]),
    (["--denoise", "-0.1"], ["--denoise"]),
    (["--model", "vgg"], ["not offered by compression"]),
])
def test_bad_input_is_one_line_and_exit_2(bad_folders, args, fragments, capsys):
    args = [a.replace("{tmp}", str(bad_folders)) for a in args]
    code, _, err = run_in_process(compression.main, "train", *FAST, "--epochs", "1", "--output",
                                  bad_folders / "runs", *args, capsys=capsys)
    assert_one_line_error(code, err, *fragments)


def test_mixed_sizes_train_with_resize(bad_folders, capsys):
    for i in range(10):  # enough images to split
        Image.fromarray(np.full((8 + i % 2 * 4, 8), 20 * i, np.uint8)).save(bad_folders / "mixed" / f"{i}.png")
    code, out, err = run_in_process(compression.main, "train", *FAST, "--epochs", "1", "--data",
                                    bad_folders / "mixed", "--resize", "8", "--model", "linear", "--latent-dim", "2",
                                    "--output", bad_folders / "runs", capsys=capsys)
    assert code == 0, err
    assert "12 grey images (8x8)" in out


def test_denoising_autoencoder_improves_noisy_inputs(tmp_path, capsys):
    code, out, err = run_in_process(compression.main, "train", *FAST, "--model", "dense", "--epochs", "30",
                                    "--denoise", "0.3", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    metrics = json.loads(next((tmp_path / "compression").glob("2*/metrics.json")).read_text())
    assert metrics["test_psnr_denoised"] > metrics["test_psnr_noisy_input"] + 3


def test_the_linear_autoencoder_matches_pca():
    """Baldi & Hornik: trained to convergence on centred data, a linear autoencoder's error equals PCA's."""
    import keras

    from applications.kit.run import Prepared

    keras.utils.set_random_seed(0)
    x = load_embedded().x[..., None]
    x_train, x_test = x[:1400], x[1400:]
    args = compression.argparse.Namespace(model="linear_autoencoder", model_arg=[], latent_dim=8, denoise=0.0,
                                          seed=0)
    prepared = Prepared(train=(x_train, baselines.scaled(x_train)), validation=None, test=x_test, source="",
                        info={"image_shape": [8, 8, 1]})
    model = compression.Compression().build(args, prepared)
    model.compile(keras.optimizers.Adam(1e-2), "mse", steps_per_execution=11)  # one call per epoch (1,400 images)
    model.fit(x_train.astype("float32"), baselines.scaled(x_train), epochs=150, batch_size=128, verbose=0)
    ae = baselines.mse(x_test, baselines.to_uint8(model.predict(x_test.astype("float32"), verbose=0)))
    from sklearn.decomposition import PCA

    flat = baselines.scaled(x_train).reshape(1400, -1)
    pca = PCA(8).fit(flat)
    reference = baselines.mse(x_test, baselines.to_uint8(
        pca.inverse_transform(pca.transform(baselines.scaled(x_test).reshape(len(x_test), -1))).reshape(x_test.shape)))
    assert ae == pytest.approx(reference, rel=0.02)

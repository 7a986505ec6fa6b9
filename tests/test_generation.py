"""The generation application: per-epoch sample grids and GIF, losses in history.csv, the quality classifier's
FID and coverage, sampling, the exported generator in a fresh process, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from applications import generation
from conftest import ROOT, assert_one_line_error, run_in_process

FAST = ["--source", "embedded", "--verbose", "0", "--precision", "float32", "--classifier-epochs", "20",
        "--samples", "150"]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """A conditional DCGAN, 3 epochs on the embedded digits, exported (the classifier trains once)."""
    work = tmp_path_factory.mktemp("generation")
    code, _, _ = run_in_process(generation.main, "train", *FAST, "--conditional", "--epochs", "3",
                                "--latent-dim", "16", "--output", work / "runs", "--export",
                                "--export-dir", work / "exports")
    assert code == 0
    return work, next((work / "runs" / "generation").glob("2*"))


def test_training_writes_grids_gif_losses_and_quality(conditional_run):
    _, run_dir = conditional_run
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [f"epoch_00{i}.png" for i in (1, 2, 3)]
    from PIL import Image

    with Image.open(run_dir / "samples.gif") as gif:
        assert gif.n_frames == 3
    history = pd.read_csv(run_dir / "history.csv")
    assert {"g_loss", "d_loss", "coverage_min", "coverage_max"} <= set(history.columns) and len(history) == 3
    # The saved generator is the last epoch's (no "best" epoch by g_loss is restored): it redraws the last grid.
    import keras

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    grid = generation.tile(generation.generate(generation.generator_of(model), generation.GRID ** 2, 42))
    with Image.open(run_dir / "samples" / "epoch_003.png") as last:
        np.testing.assert_array_equal(np.asarray(grid), np.asarray(last))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    quality = metrics["quality"]
    assert set(quality) == {"real (held out)", "dcgan", "untrained"}
    # Real held-out digits are far closer to the reference than an untrained generator's noise.
    assert quality["real (held out)"]["fid"] < quality["untrained"]["fid"] / 5
    assert quality["real (held out)"]["coverage_in_band"]
    assert "label_accuracy" in quality["dcgan"] and len(quality["dcgan"]["coverage"]) == 10


def test_sample_writes_pngs_and_npz_of_the_asked_class(conditional_run, tmp_path, capsys):
    _, run_dir = conditional_run
    code, _, err = run_in_process(generation.main, "sample", "--from", run_dir, "--count", "6", "--seed", "3",
                                  "--label", "7", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    samples = np.load(tmp_path / "samples.npz")
    assert samples["x"].shape == (6, 8, 8, 1) and samples["x"].dtype == np.uint8
    assert (samples["y"] == 7).all() and len(list(tmp_path.glob("0*.png"))) == 6
    # The same seed gives the same images.
    run_in_process(generation.main, "sample", "--from", run_dir, "--count", "6", "--seed", "3", "--label", "7",
                   "--output", tmp_path / "again", capsys=capsys)
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "samples.npz")["x"], samples["x"])


@pytest.mark.slow  # a fresh process per app: digits' and sentiment's exports are in the quick tier
def test_exported_generator_answers_in_a_fresh_process(conditional_run):
    work, _ = conditional_run
    export = work / "exports" / "generation" / "1"
    metadata = json.loads((export / "metadata.json").read_text())
    assert metadata["inputs"]["noise"]["shape"] == [-1, 16] and "labels" in metadata["inputs"]
    script = f"""
import numpy as np, tensorflow as tf
serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
out = serve(noise=tf.random.normal([5, 16]), labels=tf.constant([0, 1, 2, 3, 9]))["images"].numpy()
assert out.shape == (5, 8, 8, 1) and out.dtype == np.uint8, (out.shape, out.dtype)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_evaluate_compares_runs_on_the_same_reference(conditional_run, capsys):
    _, run_dir = conditional_run
    code, out, err = run_in_process(generation.main, "evaluate", "--from", run_dir, "--compare", run_dir,
                                    capsys=capsys)
    assert code == 0, err
    quality = json.loads((run_dir / "evaluation" / "quality.json").read_text())
    assert len(quality) == 4
    same = [row["fid"] for name, row in quality.items() if name.startswith("dcgan")]
    assert same[0] == pytest.approx(same[1])  # one model, the same noise, the same reference


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (20000, 3))
    b = rng.normal(2, 2, (20000, 3))
    # ||mu_a - mu_b||^2 + tr(I + 4I - 2 * 2I) = 3 * 4 + 3 * 1
    from applications.generation.quality import frechet_distance

    assert frechet_distance(a, b) == pytest.approx(15.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_the_vae_trains_and_samples(conditional_run, tmp_path, capsys):
    # Another split of the same digits: evaluate must not compare it with the conditional run.
    code, out, err = run_in_process(generation.main, "train", *FAST, "--model", "vae", "--epochs", "2",
                                    "--learning-rate", "1e-3", "--test-fraction", "0.25", "--classifier-epochs", "1",
                                    "--samples", "50", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    assert "Warning: the quality classifier's test accuracy" in out  # one epoch of vgg is not enough
    run_dir = next((tmp_path / "generation").glob("2*"))
    history = pd.read_csv(run_dir / "history.csv")
    assert (run_dir / "samples.gif").exists() and history["loss"].notna().all() and len(history) == 2
    assert json.loads((run_dir / "metrics.json").read_text())["test_fid"] > 0
    code, _, err = run_in_process(generation.main, "evaluate", "--from", conditional_run[1], "--compare", run_dir,
                                  capsys=capsys)
    assert_one_line_error(code, err, "was trained on other images")


@pytest.mark.parametrize("args, fragments", [
    (["--latent-dim", "0"], ["kerazoo-generate train: error: argument --latent-dim", "must be 1 or more"]),
    (["--model", "vae", "--conditional"], ["--conditional applies to the GANs"]),
    (["--resize", "10"], ["divisible", "--resize"]),
    (["--model", "vgg"], ["not offered by generation"]),
])
def test_bad_input_is_one_line_and_exit_2(args, fragments, tmp_path, capsys):
    code, _, err = run_in_process(generation.main, "train", *FAST, "--epochs", "1", "--output", tmp_path, *args,
                                  capsys=capsys)
    assert_one_line_error(code, err, *fragments)


def test_sample_refuses_a_label_for_an_unconditional_model(conditional_run, tmp_path, capsys):
    _, run_dir = conditional_run
    code, _, err = run_in_process(generation.main, "sample", "--from", run_dir, "--label", "12", "--output",
                                  tmp_path, capsys=capsys)
    assert_one_line_error(code, err, "--label 12", "classes 0-9")


@pytest.mark.slow  # the kit's resume is in the quick tier (digits; train() on dcgan in test_kit)
def test_killed_gan_run_resumes_exactly(tmp_path):
    """SIGKILL after epoch 2 and rerun: one run folder, the same history (losses, coverage), identical weights
    (both optimisers, the GAN's noise generator and the shuffle order are restored)."""
    from conftest import kill_and_resume

    def command(out):
        return [sys.executable, "-m", "applications.generation", "train", *FAST, "--classifier-epochs", "1",
                "--samples", "50", "--epochs", "5", "--latent-dim", "8", "--deterministic", "--output", str(out)]

    whole, parts = kill_and_resume(command, "generation", tmp_path, epochs=5)
    assert len(list((parts / "samples").glob("epoch_*.png"))) == 5


def test_wgan_gp_trains_with_its_penalty_logged(tmp_path, capsys):
    code, out, err = run_in_process(generation.main, "train", *FAST, "--model", "wgan", "--epochs", "1",
                                    "--classifier-epochs", "1", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    history = pd.read_csv(next((tmp_path / "generation").glob("2*/history.csv")))
    assert {"d_loss", "g_loss", "gradient_penalty"} <= set(history.columns)

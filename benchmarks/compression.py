"""Autoencoder codecs against PCA and JPEG on the MNIST test set (8k train / 2k test), and their goals.

    python -m benchmarks.compression                    # ~25 min on 2 cores
    python -m benchmarks.compression --latent 16 32     # fewer autoencoders

Every autoencoder trains through ``python -m applications.compression train``
on ``../shared/data/mnist`` (the 10k MNIST test images; the application's
random split, seed 42: 2,000 test, 7,200 train, 800 validation for early
stopping and the plateau). Codes are 8-bit, in the application's code files; float32 throughout.
PCA (scikit-learn, fitted on the same 7,200 training images) is quantised and
stored the same way; JPEG is Pillow at several qualities. Every figure is on
the 2,000 test images, which nothing trains or stops on. Writes
``benchmarks/results/compression.json``, the rate-distortion plot
``benchmarks/results/compression_rate_distortion.png`` (also copied to
``docs/``) and a reconstruction grid ``docs/compression_reconstructions.png``.

Goals (issue 9): the convolutional autoencoder's MSE <= 0.5 x PCA's at 16 and
32 numbers per image; at JPEG quality 5's MSE, codes >= 10x smaller than the
JPEG files; the linear autoencoder within 1 % of PCA.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402


from benchmarks.docs import save_for_docs  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {"conv": [], "dense": [], "linear": ["--learning-rate", "3e-3"]}


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--latent", type=positive_int, nargs="*", default=[8, 16, 32, 64],
                        help="code sizes of the convolutional autoencoder (dense and linear: 16 and 32)")
    parser.add_argument("--epochs", type=positive_int, default=60)
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw the figures and the table from benchmarks/results/compression.json")
    args = parser.parse_args(argv)
    if args.plot_only:
        saved = json.loads((RESULTS / "compression.json").read_text())
        plot(saved["autoencoders"], saved["curves"])
        print_table(saved["autoencoders"], saved["goals"])
        return
    if not pathlib.Path(args.data).exists():
        raise SystemExit(f"{args.data} is missing: pass --data with MNIST's IDX files")

    from applications import compression
    from applications.compression import baselines
    from applications.kit import images
    from benchmarks import run_application

    runs = [("conv", k) for k in args.latent] + [(m, k) for m in ("dense", "linear") for k in (16, 32)]
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for model, latent in runs:
            out = pathlib.Path(work) / f"{model}_{latent}"
            run_application(compression.main, [
                "train", "--data", args.data, "--model", model, "--latent-dim", str(latent), "--epochs",
                str(args.epochs), "--verbose", "0", "--precision", "float32", "--output", str(out), *MODELS[model]])
            run_dir = next((out / "compression").glob("2*"))
            metrics = json.loads((run_dir / "metrics.json").read_text())
            results[f"{model}_{latent}"] = {"model": model, "latent_dim": latent, "epochs": metrics["epochs_run"],
                                            "train_seconds": metrics["train_seconds"],
                                            **metrics["comparison"]["autoencoder"],
                                            "pca_mse": metrics["comparison"][f"pca_{latent}"]["mse"]}
            print(f"{model} {latent}: MSE {results[f'{model}_{latent}']['mse']:.5f} "
                  f"(PCA {results[f'{model}_{latent}']['pca_mse']:.5f})", flush=True)
            if model == "conv" and latent == 16:
                save_for_docs(run_dir / "reconstructions.png", ROOT / "docs" / "compression_reconstructions.png")

        # PCA and JPEG curves on the same test images (the application's split, seed 42).
        dataset = images.load_images(args.data)
        train, _, test = compression.split_images(dataset, 0.2, 0.1, 42)
        curves = baselines.rate_distortion(train, test, 8, components=(4, 8, 16, 32, 64, 128))
        jpeg5, jpeg5_bytes = baselines.jpeg_round_trip(test, 5)
    jpeg5_mse = baselines.mse(test, jpeg5)

    conv = {k: v for k, v in results.items() if v["model"] == "conv"}
    good_enough = [v for v in conv.values() if v["mse"] <= jpeg5_mse]
    smallest = min(good_enough, key=lambda v: v["bytes_per_image"]) if good_enough else None
    goals = {
        "conv_mse_over_pca": {k: v["mse"] / v["pca_mse"] for k, v in conv.items()},
        "jpeg_q5": {"bytes_per_image": jpeg5_bytes, "mse": jpeg5_mse},
        "smallest_conv_code_at_jpeg_q5_mse": smallest and {
            "latent_dim": smallest["latent_dim"], "bytes_per_image": smallest["bytes_per_image"],
            "mse": smallest["mse"], "jpeg_bytes_over_code_bytes": jpeg5_bytes / smallest["bytes_per_image"]},
        "linear_mse_over_pca": {k: v["mse"] / v["pca_mse"] for k, v in results.items() if v["model"] == "linear"},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compression.json").write_text(json.dumps(
        {"data": args.data, "split": "random seed 42: 7,200 train / 800 validation / 2,000 test",
         "bits": 8, "autoencoders": results, "curves": curves, "goals": goals}, indent=2) + "\n")
    plot(results, curves)
    print_table(results, goals)


def plot(results, curves):
    from applications import compression

    lines = {f"{name} autoencoder": [(v["bytes_per_image"], v["mse"]) for v in results.values()
                                     if v["model"] == name] for name in ("conv", "dense", "linear")}
    compression.plot_rate_distortion({**lines, **curves}, RESULTS / "compression_rate_distortion.png")
    save_for_docs(RESULTS / "compression_rate_distortion.png", ROOT / "docs" / "compression_rate_distortion.png",
                  colour=True)


def print_table(results, goals):
    print("\n| codec | numbers / image | bytes / image | ratio | MSE | PSNR dB | SSIM | PCA MSE, same size | x PCA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for v in results.values():
        print(f"| {v['model']} autoencoder | {v['latent_dim']} | {v['bytes_per_image']:.1f} | "
              f"{v['compression_ratio']:.0f} | {v['mse']:.4f} | {v['psnr']:.2f} | {v['ssim']:.3f} | "
              f"{v['pca_mse']:.4f} | {v['mse'] / v['pca_mse']:.2f} |")
    jpeg = goals["jpeg_q5"]
    print(f"\nJPEG quality 5: {jpeg['bytes_per_image']:.0f} bytes per image, MSE {jpeg['mse']:.4f}")
    smallest = goals["smallest_conv_code_at_jpeg_q5_mse"]
    if smallest:
        print(f"Smallest conv code at that MSE or better: {smallest['latent_dim']} numbers, "
              f"{smallest['bytes_per_image']:.1f} bytes (JPEG files {smallest['jpeg_bytes_over_code_bytes']:.1f}x "
              f"larger), MSE {smallest['mse']:.4f}")
    print("Goals:", json.dumps({k: v for k, v in goals.items() if k != "jpeg_q5"}, default=float))


if __name__ == "__main__":
    main()

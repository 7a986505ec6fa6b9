"""GAN image quality on MNIST: classifier FID and class coverage of GANs, the VAE, real and untrained images.

    python -m benchmarks.generation          # DCGAN, WGAN-GP, conditional DCGAN, VAE (~55 min on 2 cores)
    python -m benchmarks.generation --models dcgan wgan_gp --epochs 30
    python -m benchmarks.generation --run wgan_gp=runs/.../generation/<stamp>   # reuse a trained run

Every model trains through ``python -m applications.generation train`` on
``../shared/data/mnist`` (the 10k MNIST test images; the application's
random split, seed 42: 8,000 to train on, 2,000 held out). The quality
classifier is the digits application's ``vgg`` trained on the same 8,000
images (cached, shared by every model). ``evaluate`` then measures, in one
run against the same 1,000 held-out reference images: the other 1,000
held-out real images (the floor), each model's 1,000 samples, and an
untrained generator (the ceiling). Writes ``benchmarks/results/generation.json``
and copies the DCGAN's sample grid and GIF to ``docs/``.

Goals (issue 9): GAN FID below the VAE's; every class within 0.5x-1.5x of
uniform coverage; the conditional GAN's samples classified as the asked class
>= 95 % of the time.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402

from benchmarks.docs import save_for_docs  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {
    "dcgan": ["--model", "dcgan"],
    "conditional dcgan": ["--model", "dcgan", "--conditional"],
    "wgan_gp": ["--model", "wgan_gp"],
    "vae": ["--model", "vae", "--learning-rate", "1e-3"],
}


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--models", nargs="*", default=["dcgan", "wgan_gp", "conditional dcgan", "vae"],
                        choices=list(MODELS))
    parser.add_argument("--run", action="append", default=[], metavar="MODEL=FOLDER",
                        help="use this finished training run of MODEL (same data, epochs and seed) instead of "
                             "training it again")
    parser.add_argument("--epochs", type=positive_int, default=50)
    parser.add_argument("--classifier-epochs", type=positive_int, default=10)
    parser.add_argument("--output", default=str(ROOT / "runs" / "benchmark-generation"))
    args = parser.parse_args(argv)
    if not pathlib.Path(args.data).exists():
        raise SystemExit(f"{args.data} is missing: pass --data with MNIST's IDX files")

    from applications import generation
    from benchmarks import run_application

    run_dirs = {}
    for name, folder in (item.split("=", 1) for item in args.run):
        if name not in args.models or not (pathlib.Path(folder) / "model.keras").exists():
            raise SystemExit(f"--run {name}={folder}: not one of --models, or not a finished generation run")
        trained = json.loads((pathlib.Path(folder) / "metrics.json").read_text())["arguments"]
        if trained["epochs"] != args.epochs or trained["seed"] != 42:
            raise SystemExit(f"--run {name}={folder}: trained {trained['epochs']} epochs with seed "
                             f"{trained['seed']}; this benchmark trains {args.epochs} with seed 42")
        run_dirs[name] = pathlib.Path(folder).resolve()
    for name in args.models:
        if name in run_dirs:
            continue
        before = set((pathlib.Path(args.output) / "generation").glob("2*"))
        run_application(generation.main, ["train", "--data", args.data, *MODELS[name], "--epochs", str(args.epochs),
                                           "--classifier-epochs", str(args.classifier_epochs), "--verbose", "0",
                                           "--output", args.output])
        (run_dirs[name],) = set((pathlib.Path(args.output) / "generation").glob("2*")) - before
        print(f"{name}: {run_dirs[name]}", flush=True)
    first, *others = args.models
    run_application(generation.main, ["evaluate", "--from", str(run_dirs[first]),
                                       "--compare", *[str(run_dirs[name]) for name in others]])
    quality = json.loads((run_dirs[first] / "evaluation" / "quality.json").read_text())
    names = {generation_key(quality, run_dirs, name): name for name in args.models}
    table = {names.get(key, key): row for key, row in quality.items()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "generation.json").write_text(json.dumps(
        {"data": args.data, "split": "random seed 42: 8,000 train / 2,000 held out", "epochs": args.epochs,
         "classifier": f"digits vgg, {args.classifier_epochs} epochs, on the 8,000 training images",
         "runs": {k: str(v) for k, v in run_dirs.items()}, "quality": table}, indent=2) + "\n")
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    grid = sorted((run_dirs[first] / "samples").glob("epoch_*.png"))[-1]
    save_for_docs(grid, docs / "generation_samples.png")
    save_for_docs(run_dirs[first] / "evaluation" / "quality_samples.png", docs / "generation_quality_samples.png")
    print("\n| images | classifier FID | coverage (min-max x uniform) | asked class |")
    print("|---|---|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['fid']:.2f} | {row['coverage_min']:.2f}-{row['coverage_max']:.2f} | "
              f"{row.get('label_accuracy', float('nan')):.3f} |")


def generation_key(quality, run_dirs, name):
    """The row ``evaluate`` gave a run: its model name for the first, ``model (stamp)`` for the others."""
    stamp = run_dirs[name].name
    return next((key for key in quality if key.endswith(f"({stamp})")), name.split()[-1])


if __name__ == "__main__":
    main()

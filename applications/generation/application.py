"""GAN image generation, with a quality number: a classifier FID and class coverage.

    kerazoo-generate train --data ../shared/data/mnist                     # DCGAN
    kerazoo-generate train --data ../shared/data/mnist --model wgan_gp --conditional --export
    kerazoo-generate train --data ../shared/data/mnist --model vae --learning-rate 1e-3
    kerazoo-generate sample --from runs/generation/<stamp> --count 64 --seed 1 --label 3 --output samples/
    kerazoo-generate evaluate --from runs/generation/<gan stamp> --compare runs/generation/<vae stamp>

``train`` fits a DCGAN (default), a WGAN-GP, either class-conditional
(``--conditional``), or the zoo's VAE for comparison, on the kit's image
sources (``--data`` IDX / NPZ / image folder, else MNIST, else the embedded
digits), split at random into train / test (``--test-fraction``). Each epoch it
saves a grid of samples from fixed noise (``samples/epoch_NNN.png``; an
animated ``samples.gif`` of them at the end) and logs the generator and
discriminator losses (``g_loss``, ``d_loss``) to ``history.csv`` through the
kit's callbacks. A GAN's losses say little about its images, so a GAN trains
its full ``--epochs`` (no early stopping; the rate is constant unless
``--schedule`` says otherwise).

Quality, when the images have labels (``quality.py``): the zoo's vgg classifier, trained by the
kit's train() on the same training images (``--classifier-epochs``,
cached per data set) gives

- the classifier FID: the Fréchet distance between Gaussians fitted to the
  classifier's penultimate-layer features of generated images and of half of
  the held-out real images (``N`` = up to 1,000 each), and
- class coverage: the share of each class among ``N`` generated images, as the
  classifier sees them; a class outside 0.5x-1.5x of uniform is reported, and
  training warns of mode collapse when that happens at its last epoch.

``evaluate`` compares, in one run and on the same reference images: (a) the
other half of the held-out real images (the floor), (b) this model, (c) the
runs given with ``--compare`` (e.g. the VAE), (d) the same architecture
untrained (the ceiling); for a conditional model also the share of samples the
classifier assigns to the class they were asked for.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from dataclasses import dataclass

import keras
import numpy as np

from applications.kit import cli, data, errors, images, reporting
from applications.kit.run import Prepared, Serving, Task, build_model, open_run, reload_data, run
from applications.generation.quality import COVERAGE_BAND, QualityClassifier, frechet_distance, quality_classifier

GRID = 8  # samples per side of the per-epoch grid


@dataclass
class GenerationData(Prepared):
    """The kit's ``Prepared`` plus the raw training images and labels (for the quality classifier)."""

    images: tuple = (None, None)  # (uint8 [N, H, W, C], labels or None)


class Generation(Task):
    name = "generation"
    prog = "kerazoo-generate train"
    description = "Train a GAN (or a VAE) to generate images; sample it; measure a classifier FID and coverage."
    defaults = {"epochs": 30, "batch_size": 64, "learning_rate": 2e-4, "schedule": "constant"}
    models = ["dcgan", "wgan_gp", "vae"]
    aliases = {"gan": "dcgan", "wgan": "wgan_gp"}
    default_model = "dcgan"

    def add_arguments(self, parser):
        images.add_image_options(parser, resize_help="resize the images as they are read (height and width "
                                                     "must be divisible by 4 for the default models)")
        parser.add_argument("--latent-dim", type=cli.positive_int, default=32,
                            help="size of the noise (GAN) or code (VAE) (default: 32)")
        parser.add_argument("--conditional", action="store_true",
                            help="class-conditional GAN: the generator and discriminator also take the label")
        parser.add_argument("--test-fraction", type=cli.fraction, default=0.2,
                            help="held-out real images: the reference and the floor of the FID")
        parser.add_argument("--classifier-epochs", type=cli.positive_int, default=30,
                            help="epochs of the quality classifier (the zoo's vgg) used for FID and coverage")
        parser.add_argument("--samples", type=cli.positive_int, default=1000,
                            help="generated images per FID / coverage measurement (default: 1000)")

    def check_arguments(self, args):
        if args.conditional and args.model == "vae":
            raise errors.UsageError("--conditional applies to the GANs; the VAE here is unconditional")
        gan = args.model != "vae"
        # A GAN logs no validation loss, and its losses do not track image quality: train every epoch
        # and keep the last one (no early stopping, no "best" epoch by g_loss).
        self.monitor, self.patience = ("g_loss", None) if gan else (None, 15)

    def load(self, args) -> GenerationData:
        dataset = images.load_images(args.data, args.source, args.resize, need_labels=args.conditional,
                                     split=data.split_of(args))
        held = 0 if dataset.test is None else len(dataset.test[0])  # the source's own test part, last once pooled
        pooled = dataset.pooled()
        x, y = pooled.x, pooled.y
        labels = dataset.labels
        if y is not None:
            y, values = data.encode_labels(np.asarray(y))
            labels = data.class_names(values, labels)
        if held:  # the source's own test part is held out; the rest trains
            kind, train, test = "official", np.arange(len(x) - held), np.arange(len(x) - held, len(x))
        else:
            kind, order = "random", np.random.default_rng(args.seed).permutation(len(x))
            n_test = int(round(args.test_fraction * len(x)))
            test, train = order[:n_test], order[n_test:]
        if len(train) < args.batch_size or len(test) < 20:
            raise errors.DataError(f"{len(x)} images are too few: give at least {args.batch_size + 20} "
                                   "(a batch to train on and 20 held out)")
        summary = (f"{len(x)} images of {x.shape[1]}x{x.shape[2]}x{x.shape[3]}; {len(train)} train / {len(test)} "
                   f"held out ({kind}, seed {args.seed})")
        y_train = None if y is None else y[train]
        target = (x[train].astype("float32") / 255) if args.model == "vae" else to_unit_range(x[train])
        return GenerationData(train=(target, y_train if args.conditional else None), validation=None,
                              test=(x[test], None if y is None else y[test]), source=dataset.source,
                              info={"image_shape": list(x.shape[1:]), "labels": labels,
                                    "split": {"kind": kind, "train": len(train), "test": len(test)}},
                              images=(x[train], y_train), notes=[*dataset.notes, summary])

    def build(self, args, prepared) -> keras.Model:
        shape = tuple(prepared.info["image_shape"])
        extra = {"classes": len(prepared.info["labels"])} if args.conditional else {}
        return build_model(args, hint=divisible_hint, input_shape=shape, latent_dim=args.latent_dim,
                           seed=args.seed, **extra)

    def compile(self, model, args, new_optimizer):
        if args.model == "vae":
            return  # an ordinary model: the kit compiles it
        # With Adam, the papers' betas (DCGAN: 0.5; WGAN-GP: 0 and 0.9); the rate is --learning-rate.
        betas = {k: v for k, v in model.paper_adam.items() if k != "learning_rate"} if args.optimizer == "adam" else {}
        model.compile(generator_optimizer=new_optimizer(**betas), discriminator_optimizer=new_optimizer(**betas))

    def callbacks(self, model, prepared, args, run_dir):
        classifier = quality_classifier(args, prepared, run_dir)
        generator = generator_of(model)
        return [SampleGrid(generator, run_dir / "samples", seed=args.seed),
                *([CoverageLog(generator, classifier, min(args.samples, 1000), args.seed)] if classifier else [])]

    def evaluate(self, model, prepared, args, run_dir) -> dict:
        write_gif(run_dir / "samples", run_dir / "samples.gif")
        classifier = quality_classifier(args, prepared, run_dir)
        if classifier is None:
            print("The images have no labels: no classifier, so no FID or coverage")
            return {}
        table = compare(prepared, classifier, {args.model: generator_of(model)}, args, run_dir)
        return {**{f"test_{k}": v for k, v in table[args.model].items()}, "quality": table}

    def serving(self, model, prepared, args) -> Serving:
        generator = generator_of(model)
        fn, signature = generator_signature(generator)
        inputs = {"noise": {"dtype": "float32", "shape": [-1, args.latent_dim]}}
        if args.conditional:
            inputs["labels"] = {"dtype": "int32", "shape": [-1]}
        example = {"noise": np.random.default_rng(0).normal(size=(1, args.latent_dim)).round(3).tolist()}
        if args.conditional:
            example["labels"] = [3]
        return Serving(fn, signature, track=generator, metadata={
            "inputs": inputs, "outputs": {"images": [-1, *prepared.info["image_shape"]]},
            "output_ranges": {"images": [0, 255]},
            "example_request": {"inputs": example}})


def divisible_hint(error) -> str:
    """The option that fixes a builder's ``zoo.ArgumentError`` about an image size it cannot halve twice."""
    if error.argument == "input_shape" and "divisible" in error.allowed:
        return "; pass --resize with a multiple of 4 (e.g. --resize 28 or 32)"
    return ""


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> floats in [-1, 1], the range of the generator's tanh."""
    return x.astype("float32") / 127.5 - 1


def generator_of(model) -> keras.Model:
    """The part that makes images: a GAN's generator, a VAE's decoder."""
    return getattr(model, "generator", None) or model.decoder


def emits_tanh(generator) -> bool:
    """True for a GAN generator (tanh, [-1, 1]); False for a VAE decoder (sigmoid, [0, 1])."""
    return getattr(generator.layers[-1], "activation", None) is keras.activations.tanh


def label_count(generator) -> int | None:
    """Classes of a conditional generator; None if it is unconditional."""
    return generator.get_layer("label_embedding").input_dim if len(generator.inputs) == 2 else None


def generate(generator, count: int, seed: int, labels=None) -> np.ndarray:
    """``count`` uint8 images ``[count, H, W, C]`` from noise drawn with ``seed`` (labels cycle 0..K-1)."""
    latent = generator.inputs[0].shape[-1]
    noise = np.random.default_rng(seed).normal(size=(count, latent)).astype("float32")
    classes = label_count(generator)
    if classes:
        labels = (np.arange(count) % classes if labels is None else np.broadcast_to(labels, (count,))).astype("int32")
    outputs = []
    for i in range(0, count, 256):
        inputs = noise[i:i + 256] if not classes else [noise[i:i + 256], labels[i:i + 256]]
        outputs.append(np.asarray(generator(inputs, training=False), dtype="float32"))
    pixels = np.concatenate(outputs)
    if emits_tanh(generator):
        pixels = (pixels + 1) / 2
    return np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8)


def tile(images: np.ndarray, columns: int = GRID):
    """uint8 ``[N, H, W, C]`` -> one Pillow image, ``columns`` per row, small images scaled up."""
    from PIL import Image

    n, height, width, channels = images.shape
    rows = -(-n // columns)
    sheet = np.zeros((rows * height, columns * width, channels), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * height:(r + 1) * height, c * width:(c + 1) * width] = image
    picture = Image.fromarray(sheet[..., 0] if channels == 1 else sheet)
    scale = max(1, 28 // height)
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


def write_gif(folder, path) -> None:
    """An animated GIF of the per-epoch grids in ``folder`` (one frame each, looping)."""
    from PIL import Image

    frames = [Image.open(p) for p in sorted(pathlib.Path(folder).glob("epoch_*.png"))]
    if frames:
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=250, loop=0)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from the same noise after every epoch: ``folder/epoch_NNN.png``."""

    def __init__(self, generator, folder, seed):
        super().__init__()
        self.generator, self.folder, self.seed = generator, pathlib.Path(folder), seed

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        tile(generate(self.generator, GRID * GRID, self.seed)).save(self.folder / f"epoch_{epoch + 1:03d}.png")


class CoverageLog(keras.callbacks.Callback):
    """Logs the rarest and commonest class share (x uniform) of ``count`` samples each epoch; warns at the end."""

    def __init__(self, generator, classifier, count, seed):
        super().__init__()
        self.generator, self.classifier, self.count, self.seed = generator, classifier, count, seed
        self.last = None

    def on_epoch_end(self, epoch, logs=None):
        self.last = self.classifier.coverage(generate(self.generator, self.count, self.seed + 1))
        if logs is not None:
            logs["coverage_min"], logs["coverage_max"] = self.last["coverage_min"], self.last["coverage_max"]

    def on_train_end(self, logs=None):
        if self.last and not self.last["coverage_in_band"]:
            print(f"Warning: possible mode collapse: the classes' shares of the samples span "
                  f"{self.last['coverage_min']:.2f}x to {self.last['coverage_max']:.2f}x uniform, outside "
                  f"{COVERAGE_BAND[0]}x-{COVERAGE_BAND[1]}x (shares: {self.last['coverage']})")


# ------------------------------------------------------------------- quality

def compare(prepared, classifier: QualityClassifier, generators: dict, args, run_dir) -> dict:
    """FID and coverage of real held-out images, each generator, and the first one untrained; one table."""
    held_out = prepared.test[0]
    n = min(args.samples, len(held_out) // 2)
    reference = classifier.features(held_out[:n])
    first = next(iter(generators.values()))
    untrained = keras.models.clone_model(first)  # the same layers, freshly initialised
    sets = {"real (held out)": (held_out[n:2 * n], None)}
    grids = {}
    for name, generator in {**generators, "untrained": untrained}.items():
        classes = label_count(generator)
        asked = np.arange(n) % classes if classes else None
        sets[name] = (generate(generator, n, args.seed + 2, asked), asked)
        grids[name] = sets[name][0][:GRID * 2]
    table = {}
    for name, (x, asked) in sets.items():
        row = {"fid": frechet_distance(reference, classifier.features(x)), **classifier.coverage(x), "samples": len(x)}
        if asked is not None:
            row["label_accuracy"] = float(np.mean(classifier.classes(x) == asked))
        table[name] = row
    print(f"Quality on {n} samples each against {n} held-out real images (classifier FID; coverage: class "
          f"share x uniform, band {COVERAGE_BAND[0]}-{COVERAGE_BAND[1]}):")
    for name, row in table.items():
        extra = f", asked class {row['label_accuracy']:.3f}" if "label_accuracy" in row else ""
        print(f"  {name:<18} FID {row['fid']:9.2f}  coverage {row['coverage_min']:.2f}-{row['coverage_max']:.2f}"
              f"{'' if row['coverage_in_band'] else ' (outside the band)'}{extra}")
    reporting.plot_image_rows({"real (held out)": held_out[n:n + GRID * 2], **grids},
                              pathlib.Path(run_dir) / "quality_samples.png")
    return table


# ------------------------------------------------------------------- serving

def generator_signature(generator):
    """``serving_default``: noise ``[N, latent]`` float32 (and labels ``[N]`` int32) -> uint8 images."""
    import tensorflow as tf

    latent, conditional, tanh = generator.inputs[0].shape[-1], label_count(generator), emits_tanh(generator)

    def to_uint8(pixels):
        pixels = tf.cast(pixels, tf.float32)
        pixels = (pixels + 1) / 2 if tanh else pixels
        return {"images": tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 1.0) * 255), tf.uint8)}

    noise = tf.TensorSpec(shape=[None, latent], dtype=tf.float32, name="noise")
    if conditional:
        def serve(noise, labels):
            check = tf.debugging.assert_less(labels, conditional, message=f"labels must be in [0, {conditional})")
            with tf.control_dependencies([check, tf.debugging.assert_non_negative(labels)]):
                return to_uint8(generator([noise, labels], training=False))

        return serve, [noise, tf.TensorSpec(shape=[None], dtype=tf.int32, name="labels")]
    return (lambda noise: to_uint8(generator(noise, training=False))), [noise]


# ------------------------------------------------------------ sample, evaluate

def load_run(path) -> tuple[keras.Model, dict]:
    """A generation run's model (safe mode) and its metrics.json; anything else is a one-line error."""
    return open_run(path, Generation.name, "kerazoo-generate train")


def sample_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-generate sample", description="Generate images with a trained model.")
    parser.add_argument("--from", dest="run", required=True, help="a generation run folder")
    parser.add_argument("--count", type=cli.positive_int, default=64)
    parser.add_argument("--seed", type=cli.seed, default=0)
    parser.add_argument("--label", type=cli.non_negative_int, help="the class to draw (conditional models)")
    parser.add_argument("--output", required=True, help="a folder: one PNG per image, a grid.png and samples.npz")
    args = parser.parse_args(argv)
    model, metrics = load_run(args.run)
    generator = generator_of(model)
    classes = label_count(generator)
    if args.label is not None and not classes:
        raise errors.UsageError("--label needs a class-conditional model (trained with --conditional)")
    if args.label is not None and args.label >= classes:
        raise errors.UsageError(f"--label {args.label}: this model has classes 0-{classes - 1} "
                             f"({', '.join(metrics['labels'])})")
    x = generate(generator, args.count, args.seed, args.label)
    output = pathlib.Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        for i, image in enumerate(x):
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(output / f"{i:06d}.png")
        tile(x).save(output / "grid.png")
        labels = np.arange(args.count) % classes if classes and args.label is None else args.label
        np.savez(output / "samples.npz", x=x, **({"y": np.broadcast_to(labels, (args.count,))} if classes else {}))
    except OSError as err:
        raise errors.UsageError(f"--output {output}: {err.strerror}; choose another place") from None
    print(f"Wrote {args.count} images to {output} (PNGs, grid.png, samples.npz)")
    return 0


def evaluate_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-generate evaluate",
                                description="Classifier FID and class coverage: real, this model, others, untrained.")
    parser.add_argument("--from", dest="run", required=True, help="a generation run folder")
    parser.add_argument("--compare", nargs="*", default=[], metavar="RUN",
                        help="other generation run folders trained on the same images (e.g. the VAE)")
    args = parser.parse_args(argv)
    model, metrics = load_run(args.run)
    trained = argparse.Namespace(**metrics["arguments"])
    task = Generation()
    task.check_arguments(trained)
    prepared = reload_data(task, metrics, args.run, trained)
    run_dir = pathlib.Path(args.run)
    classifier = quality_classifier(trained, prepared, run_dir)
    if classifier is None:
        raise errors.UsageError("these images have no labels, so there is no classifier for FID and coverage")
    generators = {trained.model: generator_of(model)}
    for other in args.compare:
        other_model, other_metrics = load_run(other)
        other_data = task.load(argparse.Namespace(**other_metrics["arguments"]))
        if images_fingerprint(other_data) != images_fingerprint(prepared):  # the same images, split the same way
            raise errors.UsageError(f"--compare {other} was trained on other images ({other_data.source})")
        generators[f"{other_metrics['model']} ({pathlib.Path(other).name})"] = generator_of(other_model)
    out = run_dir / "evaluation"
    out.mkdir(exist_ok=True)
    table = compare(prepared, classifier, generators, trained, out)
    reporting.write_json(out / "quality.json", table)
    print(f"Wrote {out}")
    return 0


def images_fingerprint(prepared: GenerationData) -> str:
    """The raw training and held-out images (not the model's scaling of them: [-1, 1] for GANs, [0, 1] for the VAE)."""
    return data.fingerprint(prepared.images[0], prepared.test[0])


SUBCOMMANDS = {"sample": sample_main, "evaluate": evaluate_main}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return run(Generation(), argv[1:] if argv[:1] == ["train"] else argv)


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-generate"))


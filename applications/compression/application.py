"""Autoencoder compression: a learned image codec, compared with PCA and JPEG.

    kerazoo-compress train --data ../shared/data/mnist --model conv --latent-dim 32 --export
    kerazoo-compress encode --from runs/compression/<stamp> --data images/ --output codes.kzc
    kerazoo-compress decode --from runs/compression/<stamp> codes.kzc --output decoded/    # PNGs (or .npz)
    kerazoo-compress evaluate --from runs/compression/<stamp>                               # its test images

``train`` fits an autoencoder of the zoo (``--model conv``, ``dense`` or
``linear``; ``--latent-dim`` numbers per image) on raw images: the model is
``Rescaling(1/255) -> [GaussianNoise(--denoise), training only] -> [centring,
linear model only] -> encoder -> code -> decoder``, trained to reproduce the
clean image with the mean squared error. Images come from the kit's image
sources (``--data`` IDX / NPZ / a folder of PNG/JPEG, else MNIST, else the
embedded digits); the split is random (seed) into train / validation / test.

The code file's format (``.kzc``) is ``applications.compression.codefile``'s;
PCA, JPEG and the quality measures are ``applications.compression.baselines``'. An image costs
``latent_dim * bits / 8`` bytes plus its share of the
header. ``evaluate`` reports on the same test images, in one run: bytes per
image, compression ratio, MSE, PSNR and SSIM of the autoencoder's decoded
codes; of scikit-learn's PCA with as many components, quantised the same way;
and of JPEG (Pillow) at the quality whose size is closest to the code's and
at quality 5; with ``--denoise``, the PSNR of noisy inputs before and after.
It draws ``reconstructions.png`` and ``rate_distortion.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pathlib
import sys

import keras
import numpy as np

from applications.kit import cli, data, errors, images, precision, reporting
from applications.kit.run import Prepared, Serving, Task, build_model, open_run, reload_data, run
from applications.compression.baselines import (closest_jpeg_quality, jpeg_round_trip, mse, pca_round_trip, psnr,
                                                rate_distortion, scaled, scores, to_uint8)
from applications.compression.codefile import code_ranges, decode_file, encode_file


def bits(text: str) -> int:
    value = cli.positive_int(text)
    if value > 16:
        raise argparse.ArgumentTypeError(f"must be 16 or fewer, got {value}")
    return value


# ----------------------------------------------------------------------- the task

class Compression(Task):
    name = "compression"
    prog = "kerazoo-compress train"
    description = "Train an autoencoder image codec; encode, decode and evaluate against PCA and JPEG."
    defaults = {"epochs": 60, "batch_size": 64, "learning_rate": 1e-3}
    models = ["conv_autoencoder", "dense_autoencoder", "linear_autoencoder"]
    aliases = {"conv": "conv_autoencoder", "dense": "dense_autoencoder", "linear": "linear_autoencoder"}
    default_model = "conv_autoencoder"
    patience = 8

    def add_arguments(self, parser):
        images.add_image_options(parser, resize_help="resize the images as they are read (a folder of "
                                                     "mixed sizes needs it)")
        parser.add_argument("--latent-dim", type=cli.positive_int, default=16,
                            help="numbers per image in the code (default: 16)")
        parser.add_argument("--bits", type=bits, default=8, help="bits per code number, 1-16 (default: 8)")
        parser.add_argument("--denoise", type=cli.number, default=0.0, metavar="SIGMA",
                            help="add Gaussian noise of this standard deviation (pixels in [0, 1]) during "
                                 "training only: a denoising autoencoder (default: 0, off)")
        parser.add_argument("--test-fraction", type=cli.fraction, default=0.2)
        parser.add_argument("--validation-fraction", type=cli.fraction, default=0.1,
                            help="taken from what remains after the test part")

    def check_arguments(self, args):
        if not 0 <= args.denoise < 1:
            raise errors.UsageError(f"--denoise must be in [0, 1) (pixels are scaled to [0, 1]), got {args.denoise}")

    def load(self, args) -> Prepared:
        dataset = images.load_images(args.data, args.source, args.resize, split=data.split_of(args))
        train, validation, test = split_images(dataset, args.test_fraction, args.validation_fraction, args.seed)
        kind = "official" if dataset.test is not None else "random"
        summary = (f"{len(train) + len(validation) + len(test)} images of {'x'.join(map(str, train.shape[1:]))}; "
                   f"split {len(train)} train / {len(validation)} validation / {len(test)} test ({kind}, "
                   f"seed {args.seed})")
        return Prepared(train=(train, scaled(train)), validation=(validation, scaled(validation)), test=test,
                        source=dataset.source, notes=[*dataset.notes, summary],
                        info={"image_shape": list(train.shape[1:]), "latent_dim": args.latent_dim, "bits": args.bits,
                              "split": {"kind": kind, "train": len(train), "validation": len(validation),
                                        "test": len(test)}})

    def loss(self, args):
        return "mse"

    def build(self, args, prepared) -> keras.Model:
        """uint8 images -> image_encoder -> codes -> image_decoder -> images in [0, 1]."""
        shape = tuple(prepared.info["image_shape"])
        autoencoder = build_model(args, input_shape=shape, latent_dim=args.latent_dim)
        linear = args.model == "linear_autoencoder"
        # PCA centres the data; the linear autoencoder (no biases) needs the same to match it.
        mean = scaled(prepared.train[0]).mean(axis=0) if linear else None

        pixels = keras.Input(shape=shape, name="images")
        x = keras.layers.Rescaling(1 / 255, name="rescale", dtype=precision.RAW_INPUT_DTYPE)(pixels)
        if args.denoise:
            x = keras.layers.GaussianNoise(args.denoise, seed=args.seed, name="noise")(x)
        if linear:
            x = centring(mean, name="centre")(x)
        encoder = keras.Model(pixels, autoencoder.get_layer("encoder")(x), name="image_encoder")

        codes = keras.Input(shape=(args.latent_dim,), name="codes")
        y = autoencoder.get_layer("decoder")(codes)
        if linear:
            y = centring(mean, invert=True, name="restore_mean")(y)
        decoder = keras.Model(codes, y, name="image_decoder")
        return keras.Model(pixels, decoder(encoder(pixels)), name=f"compression_{args.model}")

    def evaluate(self, model, prepared, args, run_dir) -> dict:
        return evaluate_codec(model, prepared.train[0], prepared.test, bits=args.bits, denoise=args.denoise,
                              seed=args.seed, run_dir=run_dir)

    def serving(self, model, prepared, args) -> list[Serving]:
        encoder, decoder = parts(model)
        shape = prepared.info["image_shape"]
        ranges = code_ranges(encode_floats(encoder, prepared.train[0]))
        example = prepared.test[:2]
        return [
            Serving(*encoder_signature(encoder, shape), name="compression_encoder", track=encoder, metadata={
                "inputs": {"images": {"dtype": "uint8", "shape": [-1, *shape]}},
                "outputs": {"codes": [-1, args.latent_dim]},
                "example_request": {"instances": example.tolist()},
                "decoder_hash": model_hash(decoder),
                "training_code_ranges": {"offset": ranges[0].tolist(), "scale_8_bit": ranges[1].tolist()}}),
            Serving(*decoder_signature(decoder, args.latent_dim), name="compression_decoder", track=decoder,
                    metadata={"inputs": {"codes": {"dtype": "float32", "shape": [-1, args.latent_dim]}},
                              "outputs": {"images": [-1, *shape]}, "output_ranges": {"images": [0, 255]},
                              "example_request": {"instances": encode_floats(encoder, example).round(4).tolist()},
                              "decoder_hash": model_hash(decoder)}),
        ]


def centring(mean_image, invert=False, name=None):
    """Subtract (or with ``invert`` add back) a fixed mean image: a ``Normalization`` with unit variance."""
    return keras.layers.Normalization(axis=(1, 2, 3), mean=mean_image, variance=np.ones_like(mean_image),
                                      invert=invert, name=name, dtype=precision.RAW_INPUT_DTYPE)


def split_images(dataset, test_fraction, validation_fraction, seed):
    """Train, validation and test images: the source's own test part when it has one (``dataset.test``, with
    validation from its training part), else a seeded random split of every image."""
    if dataset.test is not None:
        train, validation, _ = random_split(dataset.x, 0.0, validation_fraction, seed)
        return train, validation, dataset.test[0]
    return random_split(dataset.x, test_fraction, validation_fraction, seed)


def random_split(x, test_fraction, validation_fraction, seed):
    """Train, validation and test parts of ``x`` (a seeded permutation; images need no strata)."""
    n = len(x)
    n_test = math.ceil(test_fraction * n)
    n_validation = math.ceil(validation_fraction * (n - n_test))
    if n - n_test - n_validation < 2 or n_validation < 1:
        raise errors.DataError(f"{n} images are too few to split into train / validation / test; give more images "
                             "or lower --test-fraction and --validation-fraction")
    order = np.random.default_rng(seed).permutation(n)
    test, validation, train = np.split(order, [n_test, n_test + n_validation])
    return x[train], x[validation], x[test]


def parts(model) -> tuple[keras.Model, keras.Model]:
    return model.get_layer("image_encoder"), model.get_layer("image_decoder")


def model_hash(decoder) -> str:
    """A short hash of the decoder's weights: a code file names the decoder that can read it."""
    digest = hashlib.sha1()
    for weight in decoder.get_weights():
        digest.update(np.ascontiguousarray(weight, dtype="float32").tobytes())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------------ the codec

def encode_floats(encoder, x: np.ndarray) -> np.ndarray:
    """uint8 images ``[N, H, W, C]`` -> float codes ``[N, latent_dim]``."""
    return reporting.predict(encoder, x)


def decode_images(decoder, codes: np.ndarray) -> np.ndarray:
    """Codes ``[N, latent_dim]`` -> uint8 images ``[N, H, W, C]``."""
    return to_uint8(reporting.predict(decoder, codes))



def codec_round_trip(encoder, decoder, x, bits) -> tuple[np.ndarray, float]:
    """Encode ``x`` into a code file's bytes and decode them: (uint8 images, bytes per image)."""
    blob = encode_file(encode_floats(encoder, x), bits=bits, image_shape=x.shape[1:], model="evaluation")
    codes, _ = decode_file(blob)
    return decode_images(decoder, codes), len(blob) / len(x)


def evaluate_codec(model, x_train, x_test, *, bits, denoise=0.0, seed=0, run_dir=None) -> dict:
    """The autoencoder's codec, PCA and JPEG on the same test images; plots in ``run_dir``."""
    encoder, decoder = parts(model)
    latent = int(decoder.inputs[0].shape[-1])
    decoded, size = codec_round_trip(encoder, decoder, x_test, bits)
    results = {"autoencoder": scores(x_test, decoded, size)}
    reconstructions = {"original": x_test[:10], f"autoencoder ({size:.0f} B)": decoded[:10]}
    if latent <= min(len(x_train), math.prod(x_test.shape[1:])):  # PCA has at most that many components
        pca_decoded, pca_size = pca_round_trip(x_train, x_test, latent, bits)
        results[f"pca_{latent}"] = scores(x_test, pca_decoded, pca_size)
        reconstructions[f"PCA {latent} ({pca_size:.0f} B)"] = pca_decoded[:10]
    quality = closest_jpeg_quality(x_test, size)
    for q in sorted({quality, 5}):
        jpeg, jpeg_size = jpeg_round_trip(x_test, q)
        results[f"jpeg_q{q}"] = scores(x_test, jpeg, jpeg_size)
        reconstructions[f"JPEG q{q} ({jpeg_size:.0f} B)"] = jpeg[:10]
    metrics = {f"test_{k}": v for k, v in results["autoencoder"].items()}
    metrics.update({"jpeg_quality_closest_in_size": quality, "comparison": results})
    if results.get(f"pca_{latent}", {}).get("mse"):
        metrics["mse_vs_pca"] = results["autoencoder"]["mse"] / results[f"pca_{latent}"]["mse"]
    if denoise:
        rng = np.random.default_rng(seed)
        noisy = to_uint8(scaled(x_test) + rng.normal(0, denoise, x_test.shape).astype("float32"))
        cleaned, _ = codec_round_trip(encoder, decoder, noisy, bits)
        metrics.update({"test_psnr_noisy_input": psnr(mse(x_test, noisy)),
                        "test_psnr_denoised": psnr(mse(x_test, cleaned))})
        reconstructions = {"original": x_test[:10], f"noisy (sigma {denoise:g})": noisy[:10],
                           "denoised": cleaned[:10], **dict(list(reconstructions.items())[1:])}
    print_comparison(results, metrics)
    if run_dir is not None:
        reporting.plot_image_rows(reconstructions, pathlib.Path(run_dir) / "reconstructions.png")
        curves = rate_distortion(x_train, x_test, bits)
        plot_rate_distortion({"this autoencoder": [(size, results["autoencoder"]["mse"])], **curves},
                             pathlib.Path(run_dir) / "rate_distortion.png")
    return metrics


def print_comparison(results, metrics) -> None:
    print(f"{'codec':<14} {'bytes/image':>11} {'ratio':>7} {'MSE':>8} {'PSNR dB':>8} {'SSIM':>6}")
    for name, row in results.items():
        print(f"{name:<14} {row['bytes_per_image']:>11.1f} {row['compression_ratio']:>7.1f} {row['mse']:>8.5f} "
              f"{row['psnr']:>8.2f} {row['ssim']:>6.3f}")
    if "test_psnr_denoised" in metrics:
        print(f"Denoising: PSNR {metrics['test_psnr_noisy_input']:.2f} dB noisy -> "
              f"{metrics['test_psnr_denoised']:.2f} dB decoded")


def plot_rate_distortion(curves: dict, path) -> None:
    """Bytes per image (log) against MSE, one line (or point) per codec, each with its own marker."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    styles = ["o-", "s--", "x:", "^-.", "D-", "v--", "*-"]
    for (name, points), style in zip(curves.items(), styles):
        points = sorted(points)
        ax.plot([p[0] for p in points], [p[1] for p in points], style if len(points) > 1 else "*",
                markersize=6 if len(points) > 1 else 12, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image")
    ax.set_ylabel("mean squared error (pixels in [0, 1])")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    reporting.save_figure(fig, path)


# ------------------------------------------------------------------- serving

def encoder_signature(encoder, image_shape):
    """``serving_default``: uint8 images ``[N, H, W, C]`` (or ``[N, H, W]`` if grey) -> float32 codes."""
    import tensorflow as tf

    height, width, channels = image_shape

    def serve(images):
        check = tf.debugging.assert_equal(tf.shape(images)[1:3], tf.constant([height, width]),
                                          message=f"images must be {height}x{width}")
        with tf.control_dependencies([check]):
            pixels = tf.cast(tf.reshape(images, [-1, height, width, channels]), tf.float32)
        return {"codes": encoder(pixels, training=False)}

    return serve, [tf.TensorSpec(shape=None, dtype=tf.uint8, name="images")]


def decoder_signature(decoder, latent_dim):
    """``serving_default``: float32 codes ``[N, latent_dim]`` -> uint8 images ``[N, H, W, C]``."""
    import tensorflow as tf

    def serve(codes):
        pixels = tf.cast(decoder(codes, training=False), tf.float32)
        return {"images": tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 1.0) * 255), tf.uint8)}

    return serve, [tf.TensorSpec(shape=[None, latent_dim], dtype=tf.float32, name="codes")]


# --------------------------------------------------------- encode, decode, evaluate

def load_run(path) -> tuple[keras.Model, dict]:
    """A compression run's model (safe mode) and its metrics.json; anything else is a one-line error."""
    return open_run(path, Compression.name, "kerazoo-compress train")


def read_images(path, image_shape) -> np.ndarray:
    """Images to encode from ``path`` (any kit image source), at the model's image size, and its channels."""
    size = tuple(image_shape[:2])
    # every image given is encoded (split="random" pools a train and a test part); files are resized as read
    x = images.load_images(path, resize=size, resize_arrays=False, split="random").x
    if x.shape[1:3] != size:
        print(f"Resizing the images from {x.shape[1]}x{x.shape[2]} to the model's {size[0]}x{size[1]}")
        x = images.resize_images(x, size)
    if x.shape[-1] != image_shape[-1]:
        raise errors.DataError(f"{path} holds {'colour' if x.shape[-1] == 3 else 'grey'} images; this model "
                             f"takes {image_shape[-1]}-channel images")
    return x


def encode_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-compress encode", description="Images -> a .kzc code file.")
    parser.add_argument("--from", dest="run", required=True, help="a compression run folder")
    parser.add_argument("--data", required=True, help="images: a folder of PNG/JPEG, an .npz with x, or IDX files")
    parser.add_argument("--bits", type=bits, help="bits per code number (default: the run's)")
    parser.add_argument("--output", required=True, help="the code file to write (e.g. codes.kzc)")
    args = parser.parse_args(argv)
    model, metrics = load_run(args.run)
    encoder, decoder = parts(model)
    x = read_images(args.data, metrics["image_shape"])
    depth = args.bits or metrics["bits"]
    blob = encode_file(encode_floats(encoder, x), bits=depth, image_shape=x.shape[1:], model=model_hash(decoder))
    write_bytes(args.output, blob)
    print(f"Encoded {len(x)} images ({x.nbytes:,} bytes of pixels) into {args.output}: {len(blob):,} bytes, "
          f"{len(blob) / len(x):.1f} per image, ratio {x.nbytes / len(blob):.1f}")
    return 0


def decode_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-compress decode", description="A .kzc code file -> images.")
    parser.add_argument("codes", help="a code file written by kerazoo-compress encode")
    parser.add_argument("--from", dest="run", required=True, help="the compression run folder that encoded it")
    parser.add_argument("--output", required=True, help="a folder for PNGs, or a file ending in .npz")
    args = parser.parse_args(argv)
    model, _ = load_run(args.run)
    _, decoder = parts(model)
    try:
        blob = pathlib.Path(args.codes).read_bytes()
    except OSError as err:
        raise errors.UsageError(f"cannot read {args.codes}: {err.strerror}") from None
    codes, header = decode_file(blob, model=model_hash(decoder), name=args.codes)
    x = decode_images(decoder, codes)
    output = pathlib.Path(args.output)
    try:
        if output.suffix == ".npz":
            np.savez_compressed(output, x=x)
        else:
            from PIL import Image

            output.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(x):
                Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(output / f"{i:06d}.png")
    except OSError as err:
        raise errors.UsageError(f"--output {output}: {err.strerror}; choose another place") from None
    print(f"Decoded {len(x)} images of {'x'.join(map(str, x.shape[1:]))} into {output}")
    return 0


def evaluate_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-compress evaluate",
                                description="The codec against PCA and JPEG on the run's test images.")
    parser.add_argument("--from", dest="run", required=True, help="a compression run folder")
    parser.add_argument("--bits", type=bits, help="bits per code number (default: the run's)")
    args = parser.parse_args(argv)
    model, metrics = load_run(args.run)
    trained = metrics["arguments"]
    task = Compression()
    prepared = reload_data(task, metrics, args.run, argparse.Namespace(**{**trained, "resize": trained.get("resize")}))
    run_dir = pathlib.Path(args.run) / "evaluation"
    run_dir.mkdir(exist_ok=True)
    results = evaluate_codec(model, prepared.train[0], prepared.test, bits=args.bits or trained["bits"],
                             denoise=trained["denoise"], seed=trained["seed"], run_dir=run_dir)
    reporting.write_json(run_dir / "metrics.json", results)
    print(f"Wrote {run_dir}")
    return 0


def write_bytes(path, blob: bytes) -> None:
    try:
        pathlib.Path(path).write_bytes(blob)
    except OSError as err:
        raise errors.UsageError(f"--output {path}: {err.strerror}; choose another place") from None


SUBCOMMANDS = {"encode": encode_main, "decode": decode_main, "evaluate": evaluate_main}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return run(Compression(), argv[1:] if argv[:1] == ["train"] else argv)


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-compress"))


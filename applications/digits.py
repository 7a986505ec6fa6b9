"""Handwritten digit classification, end to end.

    python -m applications.digits                      # best available data, VGG-style net
    python -m applications.digits --source embedded    # scikit-learn's 8x8 digits, offline
    python -m applications.digits --data ../shared/data/mnist --epochs 20 --export

Data, in order: ``--data`` (a folder of MNIST IDX files, or an NPZ with ``x``
and ``y``); MNIST from tensorflow-datasets or ``keras.datasets`` when it is
cached or the internet answers; else the 1,797 real 8x8 digits that ship
inside scikit-learn. The run prints which one it used.

The images are split (stratified, fixed seed) into train / validation / test.
The model is ``Rescaling(1/255) -> augmentation -> <zoo classifier>``, so it
takes raw pixel values and augments only in training. Each run writes
``runs/digits/<timestamp>/``: ``history.csv``, ``metrics.json``,
``learning_curves.png``, ``confusion_matrix.png``, ``model.keras`` (the evaluated
model) and ``best.keras`` (the best checkpoint);
``--export`` adds a SavedModel under ``saved_models/digits/<version>/``.
"""

from __future__ import annotations

import applications  # noqa: F401  (quietens TensorFlow's C++ start-up lines first)

import inspect
import sys
import time

import keras
import numpy as np

import zoo
from applications import cli, data, reporting, training
from applications.augmentation import image_augmentation
from applications.export import export_saved_model

APP = "digits"
LABELS = [str(d) for d in range(10)]
CLASSIFIER_TASKS = ("image_classification", "classification")


def image_classifiers() -> list[str]:
    """Registered models that can take ``input_shape=(H, W, 1)`` and ``classes``."""
    return [
        name for name in zoo.names()
        if zoo.entry(name).task in CLASSIFIER_TASKS
        and {"input_shape", "classes"} <= set(inspect.signature(zoo.entry(name).builder).parameters)
    ]


def parse_args(argv=None):
    parser = cli.ArgumentParser(prog="kerazoo-digits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="vgg",
                        help="a registered image classifier (default: vgg); "
                             "one of: " + ", ".join(image_classifiers()))
    parser.add_argument("--epochs", type=cli.positive_int, default=60,
                        help="most epochs; early stopping usually ends sooner (default: 60)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--data", help="folder of MNIST IDX files, or an .npz with x and y")
    parser.add_argument("--source", choices=("auto", "mnist", "embedded"), default="auto",
                        help="without --data: 'mnist' (tensorflow-datasets, then keras.datasets), "
                             "'embedded' (scikit-learn's 8x8 digits), or 'auto' (mnist, falling "
                             "back to embedded)")
    parser.add_argument("--test-fraction", type=cli.fraction, default=0.2)
    parser.add_argument("--validation-fraction", type=cli.fraction, default=0.1,
                        help="taken from what remains after the test part")
    parser.add_argument("--augment", type=float, default=0.0,
                        help="augmentation strength: rotation as a fraction of a turn; shifts "
                             "and zooms twice that; 0 (default) turns it off: on the 8x8 digits 0.05 cost 2.5 points")
    parser.add_argument("--precision", choices=training.PRECISIONS, default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", default="runs", help="runs are written under OUTPUT/digits/")
    parser.add_argument("--export", action="store_true",
                        help="also write a SavedModel to EXPORT_DIR/digits/<version>/")
    parser.add_argument("--export-dir", default="saved_models")
    parser.add_argument("--tensorboard", action="store_true")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2)
    args = parser.parse_args(argv)
    if args.model not in image_classifiers():
        try:
            zoo.entry(args.model)
        except ValueError as err:
            raise cli.UsageError(f"--model: {err}") from None
        raise cli.UsageError(f"--model {args.model} is not an image classifier; "
                             f"use one of: {', '.join(image_classifiers())}")
    if not 0 <= args.augment < 0.5:
        raise cli.UsageError(f"--augment must be in [0, 0.5), got {args.augment}")
    if not args.learning_rate > 0:
        raise cli.UsageError(f"--learning-rate must be > 0, got {args.learning_rate}")
    return args


# ------------------------------------------------------------------------ data

def load_mnist():
    """MNIST (70k 28x28) from tensorflow-datasets or keras.datasets, or None when unreachable."""
    arrays = data.load_tfds("mnist")
    if arrays is not None:
        return data.Dataset(arrays[0][..., 0], arrays[1], "MNIST via tensorflow-datasets", LABELS)
    try:
        # Uses ~/.keras/datasets/mnist.npz if present; offline it fails in milliseconds.
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception:
        return None
    return data.Dataset(np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]),
                        "MNIST via keras.datasets", LABELS)


def load_embedded():
    """scikit-learn's 1,797 handwritten digits: real 8x8 scans with 17 grey levels, shipped offline."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return data.Dataset(images, digits.target, "embedded scikit-learn digits (8x8, 1,797 images)",
                        LABELS)


def load_data(args) -> data.Dataset:
    if args.data:
        x, y, source = data.load_path(args.data)
        return data.Dataset(x, y, source)  # labels: the class ids, filled in by main()
    if args.source in ("auto", "mnist"):
        mnist = load_mnist()
        if mnist is not None:
            return mnist
        if args.source == "mnist":
            raise cli.UsageError("MNIST is not cached and cannot be downloaded (offline?); "
                                 "pass --data with MNIST's IDX files, or --source embedded")
        print("MNIST is not cached and cannot be downloaded: falling back to the embedded digits")
    return load_embedded()


def as_images(x: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` or ``[N, H, W, 1]`` pixel arrays -> ``[N, H, W, 1]``, values checked."""
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise data.DataError(f"images have shape {x.shape}; expected [N, H, W] or [N, H, W, 1] grey images")
    if np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all() and x.size and x.max() <= 1.0:
        raise data.DataError("images look scaled to [0, 1]; give raw pixel values in [0, 255] "
                             "(the model scales them itself)")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise data.DataError(f"pixel values span [{x.min()}, {x.max()}]; expected [0, 255]")
    return x


# ----------------------------------------------------------------------- model

def build_model(args, image_shape, classes) -> keras.Model:
    """Raw pixels -> Rescaling(1/255) -> augmentation (training only) -> zoo classifier."""
    try:
        classifier = zoo.build(args.model, input_shape=image_shape, classes=classes)
    except ValueError as err:
        raise cli.UsageError(f"--model {args.model} cannot take {image_shape} images: {err}") from None
    inputs = keras.Input(shape=image_shape, name="images")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    if args.augment:
        x = image_augmentation(rotation=args.augment, translation=2 * args.augment,
                               zoom=2 * args.augment, seed=args.seed)(x)
    outputs = classifier(x)
    return keras.Model(inputs, outputs, name=f"digits_{args.model}")


def serving_signature(model, image_shape):
    """``serving_default``: uint8 images ``[N, H, W]`` or ``[N, H, W, 1]`` -> probabilities, class_id."""
    import tensorflow as tf

    height, width, channels = image_shape

    def serve(images):
        shape = tf.shape(images)
        rank = tf.rank(images)
        rank_ok = tf.logical_or(tf.equal(rank, 3),
                                tf.logical_and(tf.equal(rank, 4), tf.equal(shape[-1], channels)))
        checks = [
            tf.debugging.assert_equal(rank_ok, True, message=(
                f"images must be [N, {height}, {width}] or [N, {height}, {width}, {channels}]")),
            tf.debugging.assert_equal(shape[1:3], tf.constant([height, width]),
                                      message=f"images must be {height}x{width}"),
        ]
        with tf.control_dependencies(checks):  # check before reshape can fail obscurely
            pixels = tf.cast(tf.reshape(images, [-1, height, width, channels]), tf.float32)
        probabilities = tf.cast(model(pixels, training=False), tf.float32)
        return {"probabilities": probabilities,
                "class_id": tf.argmax(probabilities, axis=-1, output_type=tf.int32)}

    return serve, [tf.TensorSpec(shape=None, dtype=tf.uint8, name="images")]


# ------------------------------------------------------------------------- run

def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    precision = training.configure_precision(args.precision)

    dataset = load_data(args)
    x, y = as_images(dataset.x), np.asarray(dataset.y)
    data.check_classification_data(x, y, min_per_class=10)
    classes = int(y.max()) + 1
    labels = dataset.labels or [str(c) for c in range(classes)]
    print(f"Data: {dataset.source}: {len(x)} images of {x.shape[1]}x{x.shape[2]}, {classes} classes")

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.stratified_split(
        x, y, test_fraction=args.test_fraction, validation_fraction=args.validation_fraction,
        seed=args.seed)
    print(f"Split: {len(x_train)} train / {len(x_val)} validation / {len(x_test)} test (stratified, seed {args.seed})")
    train_data = data.make_dataset(x_train, y_train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    val_data = data.make_dataset(x_val, y_val, batch_size=512)

    model = build_model(args, x.shape[1:], classes)
    run_dir = training.new_run_dir(args.output, APP)
    settings = {k: v for k, v in vars(args).items()
                if k not in ("output", "export", "export_dir", "tensorboard", "verbose")}
    backup_dir = training.backup_dir_for(args.output, APP, {**settings, "source": dataset.source})
    print(f"Model: {args.model} ({model.count_params():,} parameters), precision {precision}; run folder {run_dir}")

    result = training.train(
        model, train_data, val_data, epochs=args.epochs, run_dir=run_dir, backup_dir=backup_dir,
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        learning_rate=args.learning_rate, tensorboard=args.tensorboard, verbose=args.verbose)

    probabilities = model.predict(data.make_dataset(x_test, batch_size=512), verbose=0)
    y_pred = probabilities.argmax(axis=-1)
    metrics = reporting.classification_metrics(y_test, y_pred, labels)
    metrics.update({
        "data_source": dataset.source,
        "model": args.model,
        "parameters": model.count_params(),
        "precision_policy": precision,
        "epochs_run": len(result.history),
        "resumed_from_epoch": result.resumed_from_epoch,
        "train_seconds": round(result.seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "split": {"train": len(x_train), "validation": len(x_val), "test": len(x_test)},
        "arguments": settings,
    })
    model.save(run_dir / "model.keras")  # the evaluated model (best weights restored)
    reporting.write_json(run_dir / "metrics.json", metrics)
    reporting.plot_learning_curves(result.history, run_dir / "learning_curves.png")
    reporting.plot_confusion_matrix(metrics["confusion_matrix"], labels, run_dir / "confusion_matrix.png")
    print(f"Test accuracy: {metrics['test_accuracy']:.4f} on {len(x_test)} images "
          f"({len(result.history)} epochs, {result.seconds:.1f} s training)")

    if args.export:
        serve, signature = serving_signature(model, x.shape[1:])
        path = export_saved_model(model, APP, serving_fn=serve, input_signature=signature,
                                  root=args.export_dir, metadata={
                                      "inputs": {"images": {"dtype": "uint8",
                                                            "shape": [-1, *x.shape[1:3]],
                                                            "also_accepts": [-1, *x.shape[1:]]}},
                                      "outputs": {"probabilities": [-1, classes], "class_id": [-1]},
                                      "labels": labels,
                                      "metrics": {"test_accuracy": metrics["test_accuracy"]},
                                      "data_source": dataset.source,
                                      "training_arguments": settings,
                                  })
        print(f"Exported SavedModel to {path}")
    print(f"Wrote {run_dir}")
    return 0


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-digits"))


if __name__ == "__main__":
    cli_main()

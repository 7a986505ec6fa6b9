"""Handwritten digit classification, end to end.

    python -m applications.digits                      # best available data, VGG-style net
    python -m applications.digits --source embedded    # scikit-learn's 8x8 digits, offline
    python -m applications.digits --data ../shared/data/mnist --epochs 20 --export
    python -m applications.digits --model resnet18 --model-arg small_inputs=True --source embedded

Data, in order (the kit's image sources, ``kit.images``): ``--data`` (a
folder of MNIST IDX files, an NPZ with ``x`` and ``y``, or a folder of
PNG/JPEG images with one subfolder per class); MNIST from tensorflow-datasets or ``keras.datasets`` when it is
cached or the internet answers; else the 1,797 real 8x8 digits that ship
inside scikit-learn. The run prints which one it used. Labels may be any
values (1..10 work): they are mapped to class ids and the mapping recorded.

The images are split (stratified, fixed seed) into train / validation / test.
The model is ``[Resizing] -> Rescaling(1/255) -> augmentation -> <zoo
classifier>``, so it takes raw pixel values and augments only in training.
The kit's run skeleton does the rest (options, run folder, resume, plots,
export): this file holds only what is the digits' own.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import sys

import keras
import numpy as np

import zoo
from applications.kit import cli, data, errors, images
from applications.kit.augmentation import image_augmentation
from applications.kit.run import ClassificationTask, Prepared, Serving, build_model, main_for


def image_classifiers() -> list[str]:
    """Registered models that take an image (or a vector it can flatten) and ``classes``."""
    return [name for name in zoo.names()
            if zoo.entry(name).task in ("image_classification", "classification")
            and zoo.entry(name).input_kind in ("image", "vector")
            and {"input_shape", "classes"} <= set(zoo.entry(name).arguments)]


# ----------------------------------------------------------------------- the task

class Digits(ClassificationTask):
    name = "digits"
    description = "Classify handwritten digits with any image classifier of the zoo."
    defaults = {"epochs": 60, "batch_size": 32, "learning_rate": 2e-3}
    default_model = "vgg"
    steps_per_execution = 16  # fewer Python round trips per batch: measured faster on 2 cores

    @property
    def models(self):
        return image_classifiers()

    def add_arguments(self, parser):
        images.add_image_options(parser, resize_help=(
            "resize the images inside the model (e.g. 32 for a ResNet's full stem); a folder of image "
            "files is resized as it is read"))
        parser.add_argument("--test-fraction", type=cli.fraction, default=0.2,
                            help="with a random split (a source without its own test part, or --split random)")
        parser.add_argument("--validation-fraction", type=cli.fraction, default=0.1,
                            help="taken from the training part (what remains after the test part)")
        parser.add_argument("--augment", type=float, default=0.0,
                            help="augmentation strength: rotation as a fraction of a turn; shifts and "
                                 "zooms twice that; 0 (default) turns it off: on the 8x8 digits 0.05 cost "
                                 "2.5 points")

    def check_arguments(self, args):
        if not 0 <= args.augment < 0.5:
            raise errors.UsageError(f"--augment must be in [0, 0.5), got {args.augment}")

    def load(self, args) -> Prepared:
        dataset = images.load_images(args.data, args.source, args.resize, need_labels=True,
                                     resize_arrays=False, split=data.split_of(args))
        held = 0 if dataset.test is None else len(dataset.test[0])  # the source's own test part, last once pooled
        pooled = dataset.pooled()  # labels encoded together: a value is the same class id in both parts
        x, y = pooled.x, np.asarray(pooled.y)
        data.check_classification_data(x, y, min_per_class=3)
        ids, values = data.encode_labels(y)
        labels = data.class_names(values, dataset.labels)
        (x_train, y_train), (x_val, y_val), (x_test, y_test), kind = data.split_classified(
            x, ids, held_out=held, test_fraction=args.test_fraction, validation_fraction=args.validation_fraction,
            seed=args.seed)
        summary = (f"{len(x)} images of {x.shape[1]}x{x.shape[2]}x{x.shape[3]}, {len(labels)} classes; split "
                   f"{len(x_train)} train / {len(x_val)} validation / {len(x_test)} test "
                   f"({kind}{', validation stratified' if held else ', stratified'}, seed {args.seed})")
        return Prepared(train=(x_train, y_train), validation=(x_val, y_val), test=(x_test, y_test),
                        source=dataset.source, pool=(x, ids), notes=[*dataset.notes, summary],
                        info={"labels": labels, "image_shape": list(x.shape[1:]),
                              "split": {"kind": kind, "train": len(x_train), "validation": len(x_val),
                                        "test": len(x_test)}})

    def build(self, args, prepared) -> keras.Model:
        """Raw pixels -> [Resizing] -> Rescaling(1/255) -> augmentation (training only) -> zoo classifier."""
        image_shape = tuple(prepared.info["image_shape"])
        model_shape = (*args.resize, image_shape[-1]) if args.resize else image_shape
        classifier = build_model(args, hint=cli.image_size_hint, input_shape=model_shape,
                                 classes=len(prepared.info["labels"]))
        inputs = keras.Input(shape=image_shape, name="images")
        x = inputs
        if args.resize:
            x = keras.layers.Resizing(*args.resize, name="resize")(x)
        # 8-bit pixels (0..255) are exact in bfloat16 and float16: the policy's dtype loses nothing here
        x = keras.layers.Rescaling(1 / 255, name="rescale")(x)
        if args.augment:
            x = image_augmentation(rotation=args.augment, translation=2 * args.augment,
                                   zoom=2 * args.augment, seed=args.seed)(x)
        return keras.Model(inputs, classifier(x), name=f"digits_{args.model}")

    def serving(self, model, prepared, args) -> Serving:
        image_shape = tuple(prepared.info["image_shape"])
        fn, signature = serving_signature(model, image_shape)
        classes = len(prepared.info["labels"])
        example = prepared.test[0][:2]
        return Serving(fn, signature, metadata={
            "inputs": {"images": {"dtype": "uint8", "shape": [-1, *image_shape[:2]],
                                  "also_accepts": [-1, *image_shape]}},
            "outputs": {"probabilities": [-1, classes], "class_id": [-1]},
            "output_ranges": {"probabilities": [0, 1], "class_id": [0, classes - 1]},
            "example_request": {"instances": (example[..., 0] if image_shape[-1] == 1 else example).tolist()},
        })


def serving_signature(model, image_shape):
    """``serving_default``: uint8 images ``[N, H, W]`` or ``[N, H, W, C]`` -> probabilities, class_id."""
    import tensorflow as tf

    height, width, channels = image_shape

    def serve(images):
        shape = tf.shape(images)
        rank = tf.rank(images)
        rank_ok = tf.logical_or(tf.logical_and(tf.equal(rank, 3), tf.equal(channels, 1)),
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


main = main_for(Digits())


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-digits"))


if __name__ == "__main__":
    cli_main()

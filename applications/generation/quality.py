"""Generation's measuring instrument: a classifier FID and class coverage.

The zoo's ``vgg``, trained by the kit's ``train()`` on the generator's own
training images (``train_quality_classifier``, cached per data set by
``quality_classifier``), gives the features whose Gaussians the Fréchet
distance compares (``frechet_distance``), and the classes whose shares are
the coverage (``QualityClassifier.coverage``).
"""

from __future__ import annotations

import json
import os
import pathlib

import keras
import numpy as np

from applications.kit import data, reporting, training
from applications.kit.optimisation import OptimiserSettings
from applications.kit.run import load_model_safely

COVERAGE_BAND = (0.5, 1.5)  # each class's share of the samples, as a multiple of uniform
CLASSIFIER_FLOOR = 0.9       # below this test accuracy, the quality figures are warned about


class QualityClassifier:
    """The quality classifier (``train_quality_classifier``): its predicted classes, and its penultimate-layer
    features."""

    def __init__(self, model: keras.Model, labels: list):
        self.model, self.labels = model, labels
        inner = model.layers[-1]  # the zoo classifier behind [Resizing] -> Rescaling -> [augmentation]
        features = keras.Model(inner.input, inner.get_layer("logits").input)
        self.features_model = keras.Model(model.input, features(model.layers[-2].output))

    def features(self, x) -> np.ndarray:
        return reporting.predict(self.features_model, x).astype("float64")

    def classes(self, x) -> np.ndarray:
        return reporting.predict(self.model, x).argmax(axis=-1)

    def coverage(self, x) -> dict:
        shares = np.bincount(self.classes(x), minlength=len(self.labels)) / len(x)
        relative = shares * len(self.labels)
        return {"coverage": [round(float(s), 4) for s in shares], "coverage_min": float(relative.min()),
                "coverage_max": float(relative.max()),
                "coverage_in_band": bool(COVERAGE_BAND[0] <= relative.min() and relative.max() <= COVERAGE_BAND[1])}


_CLASSIFIERS: dict = {}


def quality_classifier(args, prepared, run_dir) -> QualityClassifier | None:
    """The zoo's ``vgg`` trained by the kit on ``prepared``'s training images, or None when they have no labels.

    Cached in ``<output>/generation/classifiers/<data fingerprint>/`` (``model.keras``
    and ``metrics.json``), so every run and ``evaluate`` on the same images uses
    the same classifier.
    """
    x, y = prepared.images
    if y is None:
        return None
    fingerprint = f"{data.fingerprint(x, y)}-e{args.classifier_epochs}-s{args.seed}"
    if fingerprint in _CLASSIFIERS:
        return _CLASSIFIERS[fingerprint]
    folder = pathlib.Path(run_dir).parent / "classifiers" / fingerprint
    if not ((folder / "model.keras").exists() and (folder / "metrics.json").exists()):
        print(f"Training the quality classifier (the zoo's vgg, {args.classifier_epochs} epochs) in {folder}")
        train_quality_classifier(x, y, len(prepared.info["labels"]), folder, args)
    model = load_model_safely(folder / "model.keras", "kerazoo-generate train")
    accuracy = json.loads((folder / "metrics.json").read_text())["test_accuracy"]
    print(f"Quality classifier: {folder} (test accuracy {accuracy:.4f} on its own held-out part)")
    if accuracy < CLASSIFIER_FLOOR:
        print(f"Warning: the quality classifier's test accuracy {accuracy:.2f} is below {CLASSIFIER_FLOOR}: "
              "the FID and coverage it gives say little about the images; raise --classifier-epochs")
    classifier = QualityClassifier(model, prepared.info["labels"])
    _CLASSIFIERS[fingerprint] = classifier
    return classifier


def train_quality_classifier(x, y, classes: int, folder: pathlib.Path, args) -> None:
    """Raw pixels -> Rescaling(1/255) -> the zoo's vgg, trained with the kit's ``train()`` on a stratified
    80/20 split of the training images (10 % of the 80 for validation), as the digits application would.

    Written to a staging folder and renamed into place: two runs sharing the cache never see half a classifier.
    """
    import shutil

    import zoo

    data.check_split(y, test_fraction=0.2, validation_fraction=0.1)
    (x_train, y_train), validation, (x_test, y_test) = data.stratified_split(
        x, y, test_fraction=0.2, validation_fraction=0.1, seed=args.seed)
    images = keras.Input(shape=x.shape[1:], name="images")
    scaled = keras.layers.Rescaling(1 / 255, name="rescale")(images)
    model = keras.Model(images, zoo.build("vgg", input_shape=x.shape[1:], classes=classes)(scaled),
                        name="quality_classifier")
    staging = folder.with_name(f"{folder.name}.{os.getpid()}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    result = training.train(model, data.TrainingPipeline(x_train, y_train, batch_size=32, seed=args.seed),
                            data.make_dataset(*validation, batch_size=256), epochs=args.classifier_epochs,
                            run_dir=staging, backup_dir=staging / "backup", loss="sparse_categorical_crossentropy",
                            metrics=["accuracy"], optimiser=OptimiserSettings(learning_rate=2e-3),
                            steps_per_execution=16, verbose=0, log=lambda *_: None)
    accuracy = float((reporting.predict(model, x_test).argmax(axis=-1) == y_test).mean())
    model.save(staging / "model.keras")
    reporting.write_json(staging / "metrics.json", {"test_accuracy": accuracy, "epochs_run": len(result.history),
                                                    "split": {"train": len(x_train), "test": len(x_test)}})
    try:
        os.replace(staging, folder)
    except OSError:  # another run put its classifier there first: use that one
        shutil.rmtree(staging, ignore_errors=True)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` and ``b`` (rows are samples)."""
    from scipy import linalg

    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    # A tiny ridge keeps the product invertible when there are fewer samples than features.
    ridge = 1e-6 * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))

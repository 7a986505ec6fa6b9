"""Checks and splits: labels (``check_labels``, ``encode_labels``, ``class_names``), ``check_split``,
``as_images``, ``stratified_split``.
"""

from __future__ import annotations


import numpy as np

from applications.kit.errors import DataError


def check_classification_data(x: np.ndarray, y: np.ndarray, *, min_per_class: int = 3) -> None:
    """Reject data a classifier cannot learn from, naming the problem and the fix.

    ``y`` holds any label values (0..9, 1..10, "pos"/"neg"); ``encode_labels``
    maps them to class ids afterwards.
    """
    if len(x) == 0:
        raise DataError("the data set is empty; give a file with at least a few labelled examples")
    if len(x) != len(y):
        raise DataError(f"{len(x)} inputs but {len(y)} labels; they must pair one to one")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"inputs have dtype {x.dtype}; expected numbers (e.g. uint8 pixels)")
    check_finite(x, "inputs")
    check_labels(y, min_per_class=min_per_class)


def check_finite(values: np.ndarray, what: str) -> None:
    """A ``DataError`` naming how many examples (rows) of float ``values`` hold NaN or infinity."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).reshape(len(values), -1).any(axis=1).sum())
        raise DataError(f"{what} contain NaN or infinite values in {bad} of {len(values)} examples; clean or "
                        "drop them first")


def check_labels(y: np.ndarray, *, min_per_class: int = 3) -> None:
    """One label per example, at least two classes, at least ``min_per_class`` of each."""
    if y.ndim != 1:
        raise DataError(f"labels have shape {y.shape}; expected one label per example")
    y = whole_numbers_as_int(y)  # "class 1", not "class 1.0"
    if np.issubdtype(y.dtype, np.floating):  # what whole_numbers_as_int left as floats: fractions, NaN, inf
        raise DataError(f"labels have dtype {y.dtype} with non-integer values; expected one integer class id "
                        "(or one label string) per example")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"all labels are {short(classes[0])}: a classifier needs at least two classes; "
                        "check the label column or file")
    if len(classes) > max(20, len(y) // 2) and y.dtype.kind in "OUS":  # nearly one class per example: texts?
        raise DataError(f"the labels hold {len(classes)} different values for {len(y)} examples (such as "
                        f"'{short(classes[counts.argmin()])}'): is the label column the text? name the columns with "
                        "--text-column and --label-column")
    if counts.min() < min_per_class:
        fewest = counts.min()
        raise DataError(f"class {short(classes[counts.argmin()])} has only {fewest} example"
                        f"{'' if fewest == 1 else 's'}; a stratified train/validation/test split needs at least "
                        f"{min_per_class} per class")


def short(value, limit: int = 40) -> str:
    """``value`` for a one-line message: on one line, cut to ``limit`` characters (a review given as a label)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Label values -> class ids 0..K-1 (in sorted order of the values), and the values as names.

    Labels 1..10 become ids 0..9 named "1".."10", so no phantom class 0 appears;
    the names are recorded in metrics.json and the export's metadata.
    """
    values, ids = np.unique(y, return_inverse=True)
    return ids.astype(np.int32), [str(v) for v in whole_numbers_as_int(values)]


def whole_numbers_as_int(values: np.ndarray) -> np.ndarray:
    """Float labels that are all finite whole numbers as int64, so that 1.0 is named "1"; any others as they are."""
    if np.issubdtype(values.dtype, np.floating) and np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values


def class_names(values: list[str], names: list) -> list:
    """The classes' names: a source's own ``names`` when its labels are the ids 0..K-1 of exactly those
    classes (MNIST's digits, an image folder's subfolders, IMDB's neg/pos), else the label values."""
    if names and len(names) == len(values) and values == [str(i) for i in range(len(values))]:
        return list(names)
    return values


def check_split(y: np.ndarray, *, test_fraction: float, validation_fraction: float) -> None:
    """Each part of a stratified split needs at least one example of every class (``test_fraction`` 0: no
    test part, the source has its own)."""
    import math

    classes = len(np.unique(y))
    n_test = math.ceil(test_fraction * len(y))
    n_validation = math.ceil(validation_fraction * (len(y) - n_test))
    for option, fraction, count, of in (("--test-fraction", test_fraction, n_test, len(y)),
                                        ("--validation-fraction", validation_fraction, n_validation,
                                         len(y) - n_test)):
        if count < classes and fraction:  # no test fraction: the source has its own test part
            raise DataError(
                f"{option} {fraction:g} leaves {count} of {of} examples for {classes} classes; a stratified "
                f"split needs at least one per class: use {option} {classes / of:.3g} or more")
    if len(y) - n_test - n_validation < classes:
        raise DataError(f"--test-fraction {test_fraction:g} and --validation-fraction {validation_fraction:g} "
                        f"leave fewer than {classes} training examples; lower them")


def as_images(x: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` or ``[N, H, W, C]`` raw pixel arrays -> ``[N, H, W, C]``, values checked."""
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"images have dtype {x.dtype}; expected numbers: pixel values 0-255 (uint8)")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(f"images have shape {x.shape}; expected [N, H, W] grey or [N, H, W, 1 or 3] images")
    if np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all() and x.size and x.max() <= 1.0:
        raise DataError("images look scaled to [0, 1]; give raw pixel values in [0, 255] "
                        "(the model scales them itself)")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise DataError(f"pixel values span [{x.min()}, {x.max()}]; expected [0, 255]")
    return x


def split_classified(x, ids, *, held_out: int, test_fraction: float, validation_fraction: float, seed: int):
    """Train, validation and test parts of labelled examples, and the split's kind.

    ``held_out`` > 0: the last ``held_out`` examples are the source's own test
    part (``Dataset.pooled()`` puts them last), and validation is taken from
    the rest, stratified ("official"); else every part is stratified at random
    ("random", ``stratified_split``).
    """
    if held_out:
        check_split(ids[:-held_out], test_fraction=0.0, validation_fraction=validation_fraction)
        train, validation, _ = stratified_split(x[:-held_out], ids[:-held_out], test_fraction=None,
                                                validation_fraction=validation_fraction, seed=seed)
        return train, validation, (x[-held_out:], ids[-held_out:]), "official"
    check_split(ids, test_fraction=test_fraction, validation_fraction=validation_fraction)
    return (*stratified_split(x, ids, test_fraction=test_fraction, validation_fraction=validation_fraction,
                              seed=seed), "random")


def stratified_split(x, y, *, test_fraction: float, validation_fraction: float, seed: int):
    """Train, validation and test parts with every class in its proportion (fixed seed).

    ``validation_fraction`` is taken from what remains after the test part;
    ``test_fraction=None`` gives an empty test part.
    """
    from sklearn.model_selection import train_test_split

    if test_fraction:
        x_rest, x_test, y_rest, y_test = train_test_split(
            x, y, test_size=test_fraction, stratify=y, random_state=seed)
    else:  # cross-validation holds its test fold out already
        x_rest, y_rest, x_test, y_test = x, y, x[:0], y[:0]
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation_fraction, stratify=y_rest, random_state=seed)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)

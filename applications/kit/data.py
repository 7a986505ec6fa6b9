"""Data loading, validation, splitting and tf.data pipelines shared by the applications.

Loaders raise ``DataError`` (a ``ValueError``) with a message that names the
problem and the fix, so the command-line tools can print one line and exit 2.

- file formats: IDX (MNIST), NPZ, a ``--data`` path of either;
- public sets: ``load_tfds`` (probes the cheap way first, so offline runs fall back in seconds);
- checks: ``check_classification_data``, ``encode_labels`` (any label values -> 0..K-1),
  ``check_split``, ``as_images``;
- splits: ``stratified_split``; pipelines: ``TrainingPipeline`` (shuffle order a
  function of seed and epoch only, so a resumed run sees the batches it would
  have seen), ``make_dataset``; ``fingerprint`` of the arrays a run trains on.
"""

from __future__ import annotations

import gzip
import pathlib
import socket
from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """The data cannot be used as given; the message says why and what to do."""


@dataclass
class Dataset:
    """Arrays plus where they came from (printed and recorded by every run)."""

    x: np.ndarray
    y: np.ndarray
    source: str
    labels: list = field(default_factory=list)


# ---------------------------------------------------------------- file formats

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a NumPy array."""
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read IDX file {path}: {err}; re-download it or pass another --data") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{path} is not an IDX file (bad magic number); pass MNIST's *-idx?-ubyte[.gz] files")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path} is truncated in its header; re-download it")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(
            f"IDX file {path} is corrupt: its header promises shape {dims} "
            f"({expected} bytes) but it has {len(raw)} bytes; re-download it"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def load_idx_folder(folder) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from every ``<prefix>-images-idx3-ubyte[.gz]`` / ``<prefix>-labels-idx1-ubyte[.gz]`` pair."""
    folder = pathlib.Path(folder)
    image_files = sorted(folder.glob("*-images-idx3-ubyte*"))
    if not image_files:
        raise DataError(
            f"no MNIST IDX files in {folder}: expected e.g. t10k-images-idx3-ubyte.gz "
            "and t10k-labels-idx1-ubyte.gz"
        )
    pairs = [load_idx_pair(image_file) for image_file in image_files]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def load_idx_pair(image_file) -> tuple[np.ndarray, np.ndarray]:
    """An IDX images file and the labels file beside it (``-images-idx3-`` -> ``-labels-idx1-``)."""
    image_file = pathlib.Path(image_file)
    label_file = image_file.with_name(image_file.name.replace("-images-idx3-", "-labels-idx1-"))
    if not label_file.exists():
        raise DataError(f"{image_file} has no matching labels file {label_file.name}; add it")
    x, y = load_idx(image_file), load_idx(label_file)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise DataError(
            f"{image_file.name} ({x.shape}) and {label_file.name} ({y.shape}) do not pair: "
            "expected [N, H, W] images and N labels"
        )
    return x, y


def load_npz(path, x_key="x", y_key="y") -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x`` and ``y`` from an ``.npz`` file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in (x_key, y_key) if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path} has no array named {missing[0]!r} (it has {archive.files}); "
                    f"save it with np.savez(path, {x_key}=images, {y_key}=labels)"
                )
            return archive[x_key], archive[y_key]
    except DataError:
        raise
    except Exception as err:  # zipfile.BadZipFile, ValueError, OSError, EOFError ...
        raise DataError(f"cannot read {path} as NPZ ({type(err).__name__}: {err}); re-create it with np.savez") from None


def load_path(path) -> tuple[np.ndarray, np.ndarray, str]:
    """A user-given ``--data`` path: an NPZ file, one IDX image file, or a folder of IDX files."""
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"--data {path}: no such file or folder; check the path")
    if path.is_dir():
        x, y = load_idx_folder(path)
        return x, y, f"IDX files in {path}"
    if path.suffix == ".npz":
        x, y = load_npz(path)
        return x, y, f"NPZ file {path}"
    if "-images-idx" in path.name:
        x, y = load_idx_pair(path)
        return x, y, f"IDX file {path}"
    raise DataError(f"--data {path}: unsupported file type; give a folder of IDX files or an .npz with x and y")


# ------------------------------------------------------------ public data sets

def internet_reachable(host="storage.googleapis.com", port=443, timeout=2.0) -> bool:
    """A quick connection check, so offline runs fall back in seconds, not minutes."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_tfds(name: str, split: str = "train+test"):
    """A tensorflow-datasets set as NumPy arrays, or None when it is not available.

    It looks for a prepared copy first (``download=False`` fails in a fraction
    of a second) and downloads only when the internet answers: offline,
    ``tfds.load`` would otherwise retry for minutes before failing.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    for download in (False, True):
        if download and not internet_reachable():
            return None
        try:
            data = tfds.load(name, split=split, as_supervised=True, batch_size=-1, download=download)
            x, y = tfds.as_numpy(data)
            return np.asarray(x), np.asarray(y)
        except Exception:  # not prepared (AssertionError/DatasetNotFoundError) or a failed download
            continue
    return None


# ------------------------------------------------------------------ validation

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
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).reshape(len(x), -1).any(axis=1).sum())
        raise DataError(f"inputs contain NaN or infinite values in {bad} examples; clean or drop them first")
    if y.ndim != 1:
        raise DataError(f"labels have shape {y.shape}; expected one label per example")
    if np.issubdtype(y.dtype, np.floating) and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError(f"labels have dtype {y.dtype} with non-integer values; expected one integer class id "
                        "(or one label string) per example")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"all labels are {classes[0]}: a classifier needs at least two classes; check the labels file")
    if counts.min() < min_per_class:
        raise DataError(
            f"class {classes[counts.argmin()]} has only {counts.min()} examples; a stratified "
            f"train/validation/test split needs at least {min_per_class} per class"
        )


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Label values -> class ids 0..K-1 (in sorted order of the values), and the values as names.

    Labels 1..10 become ids 0..9 named "1".."10", so no phantom class 0 appears;
    the names are recorded in metrics.json and the export's metadata.
    """
    values, ids = np.unique(y, return_inverse=True)
    if np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.int64)
    return ids.astype(np.int32), [str(v) for v in values]


def check_split(y: np.ndarray, *, test_fraction: float, validation_fraction: float) -> None:
    """Each part of a stratified split needs at least one example of every class."""
    import math

    classes = len(np.unique(y))
    n_test = math.ceil(test_fraction * len(y))
    n_validation = math.ceil(validation_fraction * (len(y) - n_test))
    for option, fraction, count, of in (("--test-fraction", test_fraction, n_test, len(y)),
                                        ("--validation-fraction", validation_fraction, n_validation,
                                         len(y) - n_test)):
        if count < classes:
            raise DataError(
                f"{option} {fraction:g} leaves {count} of {of} examples for {classes} classes; a stratified "
                f"split needs at least one per class: use {option} {classes / of:.3g} or more")
    if len(y) - n_test - n_validation < classes:
        raise DataError(f"--test-fraction {test_fraction:g} and --validation-fraction {validation_fraction:g} "
                        f"leave fewer than {classes} training examples; lower them")


def as_images(x: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` or ``[N, H, W, C]`` raw pixel arrays -> ``[N, H, W, C]``, values checked."""
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


def stratified_split(x, y, *, test_fraction: float, validation_fraction: float, seed: int):
    """Train, validation and test parts with every class in its proportion (fixed seed).

    ``validation_fraction`` is taken from what remains after the test part.
    """
    from sklearn.model_selection import train_test_split

    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation_fraction, stratify=y_rest, random_state=seed)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


# ------------------------------------------------------------------- pipelines

def make_dataset(x, y=None, *, batch_size: int, shuffle: bool = False, seed: int | None = None,
                 cache: bool = True):
    """A tf.data pipeline: from arrays -> cache -> shuffle (each epoch) -> batch -> prefetch.

    For evaluation and prediction; training uses ``training_pipeline``, whose
    order does not depend on how many epochs this process has run.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        data = data.cache()
    if shuffle:
        data = data.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class TrainingPipeline:
    """Training batches whose order is a function of the seed and the epoch number only.

    Epoch ``e`` visits the examples in the order of a permutation drawn from a
    stateless generator keyed by ``(seed, e)``, so a run resumed at epoch ``e``
    sees exactly the batches the uninterrupted run saw. ``callback`` tells the
    pipeline which epoch begins (``fit`` makes a new iterator each epoch,
    after the callbacks' ``on_epoch_begin``); pass it to ``fit`` with
    ``dataset``. The arrays stay in memory and each batch is gathered from them.
    """

    def __init__(self, x, y=None, *, batch_size: int, seed: int):
        import keras
        import tensorflow as tf

        self.count, self.batch_size = len(x), batch_size
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")
        arrays = tuple(tf.constant(a) for a in ((x,) if y is None else (x, y)))
        seed = tf.constant(seed, tf.int64)

        def permutation(_):
            keys = tf.random.stateless_uniform([self.count], seed=tf.stack([seed, self.epoch.read_value()]))
            return tf.data.Dataset.from_tensor_slices(tf.argsort(keys)).batch(batch_size)

        def gather(indices):
            parts = tuple(tf.gather(a, indices) for a in arrays)
            return parts[0] if y is None else parts

        self.dataset = (tf.data.Dataset.from_tensors(0).flat_map(permutation)
                        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                        .prefetch(tf.data.AUTOTUNE))
        epoch = self.epoch

        class SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, index, logs=None):
                epoch.assign(index)

        self.callback = SetEpoch()

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.count // self.batch_size)


def fingerprint(*arrays) -> str:
    """A short hash of the arrays' contents, shapes and dtypes (a changed data set gets a new one)."""
    import hashlib

    digest = hashlib.sha1()
    for array in arrays:
        if array is None:
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes() if array.dtype != object else "\x00".join(map(str, array.ravel())).encode())
    return digest.hexdigest()[:16]

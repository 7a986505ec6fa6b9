"""File formats: IDX (MNIST's), NPZ, and a ``--data`` path of either; ``Dataset``, what loaders return."""

from __future__ import annotations

import gzip
import pathlib
from dataclasses import dataclass, field

import numpy as np

from applications.kit.errors import DataError


@dataclass
class Dataset:
    """Arrays plus where they came from (printed and recorded by every run)."""

    x: np.ndarray
    y: np.ndarray
    source: str
    labels: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what loading did (rows dropped...), for the run to print
    test: tuple | None = None  # the source's own test part (x, y), when it has one: then x, y are its
                               # training part (MNIST's t10k-* files, tensorflow-datasets' "test" split)

    def pooled(self, note: str | None = None) -> Dataset:
        """The training and test parts as one (the test part last, so ``x[-len(test):]`` is it), and ``note``
        added; itself when it has no test part of its own."""
        if self.test is None:
            return self
        y = None if self.y is None else np.concatenate([self.y, self.test[1]])
        return Dataset(np.concatenate([self.x, self.test[0]]), y, self.source, self.labels,
                       [*self.notes, *([note] if note else [])])


SPLITS = ("official", "random")  # --split: a source's own train/test parts, or every example pooled


def split_of(args) -> str:
    """``--split`` of parsed arguments; "random" for a run recorded before the option existed (it pooled)."""
    return getattr(args, "split", "random")


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a NumPy array.

    The header (magic number, shape) is read and checked first, so a file that
    is not IDX, or whose size does not match its shape, is refused before its
    body is read (a 2 GB file is not loaded whole to find a bad magic number).
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES or magic[3] == 0:
                raise DataError(f"{path} is not an IDX file (bad magic number); pass MNIST's *-idx?-ubyte[.gz] files")
            dtype, ndim = np.dtype(_IDX_DTYPES[magic[2]]), magic[3]
            shape = f.read(4 * ndim)
            if len(shape) < 4 * ndim:
                raise DataError(f"IDX file {path} is truncated in its header; re-download it")
            dims = tuple(int.from_bytes(shape[4 * i: 4 * i + 4], "big") for i in range(ndim))
            header, body_bytes = 4 + 4 * ndim, int(np.prod(dims)) * dtype.itemsize
            if opener is open and path.stat().st_size != header + body_bytes:
                raise DataError(_idx_size_message(path, dims, header + body_bytes, path.stat().st_size))
            body = f.read(body_bytes + 1)  # one byte more: a longer file is corrupt too
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read IDX file {path}: {err}; re-download it or pass another --data") from None
    if len(body) != body_bytes:
        raise DataError(_idx_size_message(path, dims, header + body_bytes, header + len(body)))
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _idx_size_message(path, dims, expected, actual) -> str:
    return (f"IDX file {path} is corrupt: its header promises shape {dims} ({expected} bytes) but it has "
            f"{actual}{'+' if actual > expected else ''} bytes; re-download it")


def idx_train_test(folder) -> tuple[pathlib.Path, pathlib.Path] | None:
    """The training and test image files of an IDX folder laid out as MNIST's downloads are, or None.

    MNIST, Fashion-MNIST and KMNIST name them ``train-images-idx3-ubyte.gz``
    and ``t10k-images-idx3-ubyte.gz``; EMNIST ``emnist-<set>-train-images...``
    and ``emnist-<set>-test-images...``. A folder with exactly one of each is
    an official split.
    """
    image_files = sorted(pathlib.Path(folder).glob("*-images-idx3-ubyte*"))
    train = [p for p in image_files if "train-images" in p.name]
    test = [p for p in image_files if "t10k-images" in p.name or "test-images" in p.name]
    if len(train) == 1 and len(test) == 1 and len(image_files) == 2:
        return train[0], test[0]
    return None


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


def load_npz(path, x_key="x", y_key="y", labels_optional=False) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``x`` and ``y`` from an ``.npz`` file (``y`` None if absent and ``labels_optional``)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if labels_optional and x_key in archive.files and y_key not in archive.files:
                return archive[x_key], None
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
        # numpy reads a file that is not a zip of arrays as a pickle, and its message suggests
        # allow_pickle=True: never pass that on (unpickling a file runs code).
        raise DataError(f"{path} is not an NPZ of arrays ({type(err).__name__}); save the arrays with "
                        "np.savez(path, x=..., y=...)") from None


def load_npz_parts(path) -> tuple[tuple, tuple] | None:
    """``((x_train, y_train), (x_test, y_test))`` from an NPZ saved as keras.datasets saves ``mnist.npz``;
    None for an NPZ of other names (``load_npz`` reads it)."""
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not set(names) <= set(archive.files):
                return None
            x_train, y_train, x_test, y_test = (archive[name] for name in names)
    except Exception:  # not an NPZ of arrays: load_npz says so
        return None
    return (x_train, y_train), (x_test, y_test)


def load_path(path, labels_optional=False, split: str = "official") -> Dataset:
    """A user-given ``--data`` path: an NPZ file, one IDX image file, or a folder of IDX files.

    With ``split="official"``, a folder holding a ``train-*`` and a ``t10k-*``
    pair (``idx_train_test``) and an NPZ of ``x_train, y_train, x_test,
    y_test`` (keras.datasets' ``mnist.npz``) give their own test part in
    ``Dataset.test``; anything else is pooled, and a folder of IDX files
    without both pairs says (``notes``) that it will be split at random.
    ``labels_optional``: an NPZ without ``y`` gives ``y=None`` (autoencoders, GANs).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"--data {path}: no such file or folder; check the path")
    if path.is_dir():
        pairs = idx_train_test(path)
        if pairs and split == "official":
            return Dataset(*load_idx_pair(pairs[0]), f"IDX files in {path}", test=load_idx_pair(pairs[1]),
                           notes=[f"official split: {pairs[0].name} for training, {pairs[1].name} for testing"])
        x, y = load_idx_folder(path)
        why = "--split random" if pairs else "it holds no train-* and t10k-* pair (MNIST's layout)"
        return Dataset(x, y, f"IDX files in {path}", notes=[f"{path}: {why}, so its images are split at random"])
    if path.suffix == ".npz":
        parts = load_npz_parts(path)
        if parts is not None:
            dataset = Dataset(*parts[0], f"NPZ file {path}", test=parts[1])
            if split == "official":
                dataset.notes.append("official split: x_train/y_train for training, x_test/y_test for testing")
                return dataset
            return dataset.pooled(f"{path}: --split random, so its images are split at random")
        return Dataset(*load_npz(path, labels_optional=labels_optional), f"NPZ file {path}")
    if "-images-idx" in path.name:
        return Dataset(*load_idx_pair(path), f"IDX file {path}")
    raise DataError(f"--data {path}: unsupported file type; give a folder of IDX files or an .npz with x and y")

"""Image sources shared by the digits, compression and generation applications.

``load_images(data=..., source=..., resize=...)`` returns a ``data.Dataset`` of
raw ``uint8`` images ``[N, H, W, C]`` (C = 1 grey or 3 colour) and labels,
from the first source that answers:

1. ``--data``: a folder of MNIST IDX files, an ``.npz`` with ``x`` (and ``y``),
   or a folder of PNG/JPEG images read with Pillow (class subfolders give the
   labels, as in ``keras.utils.image_dataset_from_directory``; images directly
   in the folder are unlabelled);
2. MNIST through tensorflow-datasets, then ``keras.datasets`` (when cached or
   the internet answers; offline this falls back in about a second);
3. the 1,797 real 8x8 digits embedded in scikit-learn.

``resize=(H, W)`` resizes every image as it is read (Pillow for files,
antialiased ``tf.image.resize`` for arrays); a folder of mixed sizes needs it.
"""

from __future__ import annotations

import pathlib

import numpy as np

from applications.kit import cli, errors
from applications.kit.data import SPLITS, Dataset, DataUnavailable, as_images, load_path, load_public_split

DIGIT_NAMES = [str(d) for d in range(10)]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SOURCES = ("auto", "mnist", "embedded")


def add_image_options(parser, *, resize_help: str) -> None:
    """``--data``, ``--source`` and ``--resize``: the same on every image application."""
    parser.add_argument("--data", help="a folder of MNIST IDX files, an .npz with x (and y), or a folder of "
                                       "PNG/JPEG images (class subfolders give labels)")
    parser.add_argument("--source", choices=SOURCES, default="auto",
                        help="without --data: 'mnist' (tensorflow-datasets, then keras.datasets), 'embedded' "
                             "(scikit-learn's 8x8 digits), or 'auto' (mnist, falling back to embedded)")
    parser.add_argument("--resize", type=cli.image_size, metavar="H[xW]", help=resize_help)
    parser.add_argument("--split", choices=SPLITS, default="official",
                        help="'official' (default): a source's own test part where it has one (MNIST's t10k-* "
                             "files beside its train-* files, an NPZ's x_test, the public sets' test split), "
                             "validation taken from its training part; else, and with 'random', every image "
                             "is pooled and split at random (--test-fraction)")


def load_mnist(split: str = "official") -> Dataset:
    """MNIST (60k + 10k 28x28) from tensorflow-datasets or keras.datasets; ``DataUnavailable`` saying why otherwise.

    ``split="official"``: the 60k training images, and the 10k test images in ``Dataset.test``; else pooled.
    """
    def from_keras():
        import keras

        return keras.datasets.mnist.load_data()

    train, test, source = load_public_split("MNIST", "mnist", from_keras)
    dataset = Dataset(*train, source, DIGIT_NAMES, test=test)
    if split == "official":
        dataset.notes.append("official split: 60,000 train, 10,000 test")
        return dataset
    return dataset.pooled()


def load_embedded() -> Dataset:
    """scikit-learn's 1,797 handwritten digits: real 8x8 scans with 17 grey levels, shipped offline."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return Dataset(images, digits.target, "embedded scikit-learn digits (8x8, 1,797 images)", DIGIT_NAMES)


def load_image_folder(folder, resize: tuple[int, int] | None = None) -> Dataset:
    """PNG/JPEG files read with Pillow: ``[N, H, W, 1]`` if every image is grey, else ``[N, H, W, 3]``.

    Images in class subfolders (``folder/cat/1.png``) are labelled by the
    subfolder's name; images directly in ``folder`` are unlabelled (``y`` is
    None). Mixed sizes need ``resize``; any other file is an error naming it.
    Grey images of more than 8 bits (16-bit PNGs, 32-bit TIFF-like modes) are
    read at their full depth and, when their values go past 255, scaled to
    0-255 by 255 / the largest value in the folder (their real range, not the
    format's 65535, which would leave a 12-bit scan 16 grey levels); the
    source says so. (Converting them to 8 bits as Pillow does clips every
    value above 255: a silent wrong answer.)
    """
    from PIL import Image, UnidentifiedImageError

    folder = pathlib.Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise errors.DataError(f"--data {folder} is an empty folder; put PNG/JPEG images (or MNIST IDX files) in it")
    others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise errors.DataError(f"--data {folder}: {others[0].relative_to(folder)} is not a PNG or JPEG image; "
                        f"remove it (or the {len(others)} such files) from the folder")
    classes = {p.parent.relative_to(folder).as_posix() for p in files}
    if len(classes) > 1 and "." in classes:
        raise errors.DataError(f"--data {folder} mixes images in the folder itself with class subfolders; "
                        "put every image in a class subfolder, or none")
    images, sizes = [], {}
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                deep = image.mode.startswith("I") or image.mode == "F"  # more than 8 bits a pixel
                colour = not deep and image.mode not in ("1", "L", "LA") and not _is_grey(image)
                image = image.convert("I").convert("F") if deep else image.convert("RGB" if colour else "L")
        except (UnidentifiedImageError, OSError) as err:
            raise errors.DataError(f"--data {folder}: cannot read {path.relative_to(folder)} as an image "
                            f"({err}); remove or replace it") from None
        if resize:
            image = image.resize((resize[1], resize[0]), Image.Resampling.LANCZOS)
        sizes.setdefault(image.size, path)
        images.append(image)
    if len(sizes) > 1:
        (w1, h1), first = next(iter(sizes.items()))
        (w2, h2), second = list(sizes.items())[1]
        raise errors.DataError(f"--data {folder}: images have mixed sizes ({first.name} is {h1}x{w1}, {second.name} "
                        f"is {h2}x{w2}); pass --resize H[xW] to resize them as they are read")
    colour = any(image.mode == "RGB" for image in images)
    deep = any(image.mode == "F" for image in images)
    if colour and deep:
        raise errors.DataError(f"--data {folder} mixes colour images with grey images of more than 8 bits; "
                               "convert them to one kind")
    x = np.stack([np.asarray(image.convert("RGB") if colour else image, dtype=np.float64 if deep else np.uint8)
                  for image in images])
    x = x if colour else x[..., np.newaxis]
    scaled = ""
    if deep:
        largest = float(x.max())
        if largest > 255:
            x = x * (255 / largest)
            scaled = f"; grey images of more than 8 bits, values 0-{largest:g}, scaled to 0-255 by 255/{largest:g}"
        x = np.clip(np.round(x), 0, 255).astype(np.uint8)
    if classes == {"."}:
        y, labels = None, []
    else:
        labels = sorted(classes)
        y = np.array([labels.index(p.parent.relative_to(folder).as_posix()) for p in files])
    height, width = x.shape[1:3]
    return Dataset(x, y, f"{len(x)} {'colour' if colour else 'grey'} images ({height}x{width}) in {folder}{scaled}",
                   labels)


def _is_grey(image) -> bool:
    """A colour-mode image whose channels are all equal (a grey scan saved as RGB)."""
    if image.mode not in ("RGB", "RGBA", "P"):
        return False
    channels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool((channels[..., 0] == channels[..., 1]).all() and (channels[..., 1] == channels[..., 2]).all())


def resize_images(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``uint8 [N, H, W, C]`` -> ``uint8 [N, *size, C]`` (antialiased bilinear, rounded)."""
    import tensorflow as tf

    if tuple(x.shape[1:3]) == tuple(size):
        return x
    resized = tf.image.resize(tf.constant(x, tf.float32), size, antialias=True).numpy()
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def load_images(data=None, source: str = "auto", resize=None, *, need_labels=False,
                resize_arrays=True, split: str = "official") -> Dataset:
    """Raw ``uint8`` images ``[N, H, W, C]`` from ``--data``, else MNIST, else the embedded digits.

    ``resize`` applies to a folder of image files as they are read, and to
    arrays (IDX, NPZ, MNIST, embedded) unless ``resize_arrays=False`` (digits
    resizes inside its model, so its export takes images at their own size).
    ``split="official"``: a source with its own test part returns it in
    ``Dataset.test`` (``x``, ``y`` are then its training part).
    """
    if data:
        path = pathlib.Path(data)
        if path.is_dir() and not any(path.glob("*-images-idx3-ubyte*")):
            dataset = load_image_folder(path, resize)
        else:
            dataset = load_path(path, labels_optional=not need_labels, split=split)
    elif source in ("auto", "mnist"):
        try:
            dataset = load_mnist(split)
        except DataUnavailable as err:
            if source == "mnist":
                raise errors.UsageError(f"{err}; pass --data with MNIST's IDX files, or --source embedded") from None
            dataset = load_embedded()
            dataset.notes.append(f"{err}: falling back to the embedded digits")
    else:
        dataset = load_embedded()
    x, description = pixels(dataset.x, resize if resize_arrays else None)
    test = None
    if dataset.test is not None:
        test_x, _ = pixels(dataset.test[0], resize if resize_arrays else None)
        if test_x.shape[1:] != x.shape[1:]:
            raise errors.DataError(f"{dataset.source}: the test images are {test_x.shape[1:]}, the training images "
                                   f"{x.shape[1:]}; give both parts the same size")
        test = (test_x, dataset.test[1])
    if need_labels and dataset.y is None:
        raise errors.DataError(f"{dataset.source} has no labels; put the images in one subfolder per class")
    return Dataset(x, dataset.y, dataset.source + description, dataset.labels, dataset.notes, test)


def pixels(x, resize=None) -> tuple[np.ndarray, str]:
    """Image arrays as checked ``uint8 [N, H, W, C]`` (resized to ``resize``), and what was done to them, if
    anything the source should say."""
    x = np.asarray(x)
    description = ""
    if x.dtype == bool:  # a thresholded image (x > 127): True is white, not the 1 of 255 it would be
        x = x.astype(np.uint8) * 255
        description = "; boolean images read as 0 and 255"
    x = as_images(x)
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = int((~np.isfinite(x)).reshape(len(x), -1).any(axis=1).sum())
            raise errors.DataError(f"images contain NaN or infinite values in {bad} images; clean or drop them first")
        if not np.array_equal(x, np.round(x)):
            raise errors.DataError(f"images have dtype {x.dtype} with fractional values; give whole pixel values "
                                   "0-255 (uint8)")
        x = x.astype(np.uint8)
    if resize:
        x = resize_images(x, resize)
    return x, description

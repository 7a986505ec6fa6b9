"""Public data sets: ``load_public`` (tensorflow-datasets, then keras.datasets; ``DataUnavailable`` says why
neither answered), ``load_tfds`` (probes the cheap way first, so offline runs fall back in seconds).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys

import numpy as np



def internet_reachable(host="storage.googleapis.com", port=443, timeout=2.0) -> bool:
    """A quick connection check, so offline runs fall back in seconds, not minutes."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class DataUnavailable(Exception):
    """A public data set that could not be loaded; the message says why (offline, not installed, ...).

    ``offline`` is true when the reason is that the internet is unreachable.
    """

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def load_tfds(name: str, split: str = "train+test") -> tuple[np.ndarray, np.ndarray]:
    """A tensorflow-datasets set as NumPy arrays; ``DataUnavailable`` saying why when it cannot be had.

    It looks for a prepared copy first (``download=False`` fails in a fraction
    of a second) and downloads only when the internet answers: offline,
    ``tfds.load`` would otherwise retry for minutes before failing.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise DataUnavailable(f"tensorflow-datasets cannot be imported ({err})") from None

    def load(download):
        data = tfds.load(name, split=split, as_supervised=True, batch_size=-1, download=download)
        x, y = tfds.as_numpy(data)
        return np.asarray(x), np.asarray(y)

    try:
        with _quiet_absl_warnings():  # tfds warns of a "variant folder" it looked for and did not find
            return load(download=False)
    except Exception as err:  # not prepared: AssertionError or DatasetNotFoundError, depending on the version
        not_prepared = str(err).split(". ")[0]
    if not internet_reachable():
        raise DataUnavailable(f"tensorflow-datasets: {not_prepared}, and the internet is unreachable", offline=True)
    try:
        return load(download=True)
    except Exception as err:  # the download or its preparation failed, for any of many reasons
        raise DataUnavailable(f"tensorflow-datasets could not download {name} ({type(err).__name__}: {err})") from None


@contextlib.contextmanager
def _quiet_absl_warnings():
    """Hide absl's WARNING lines (tensorflow-datasets logs through absl) for the duration; errors still show."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_public(name: str, tfds_name: str, keras_load) -> tuple[np.ndarray, np.ndarray, str]:
    """A public data set from tensorflow-datasets, else ``keras.datasets``: ``x, y, source``.

    ``keras_load()`` returns ``x, y`` from ``keras.datasets`` (which uses its
    cache under ``~/.keras/datasets`` and, offline, fails in milliseconds).
    Raises ``DataUnavailable`` with both sources' reasons when neither answers.
    """
    (x, y), source = _first_source(name, lambda: load_tfds(tfds_name), keras_load)
    return x, y, source


def load_public_split(name: str, tfds_name: str, keras_load) -> tuple[tuple, tuple, str]:
    """A public data set's own training and test parts: ``(x_train, y_train), (x_test, y_test), source``.

    tensorflow-datasets' ``train`` and ``test`` splits, else ``keras_load()``,
    which returns them as ``keras.datasets``' ``load_data()`` does.
    """
    (train, test), source = _first_source(
        name, lambda: (load_tfds(tfds_name, "train"), load_tfds(tfds_name, "test")), keras_load)
    return train, test, source


def _first_source(name: str, from_tfds, from_keras):
    """``from_tfds()``'s answer, else ``from_keras()``'s, with the source's name; ``DataUnavailable`` if neither."""
    try:
        return from_tfds(), f"{name} via tensorflow-datasets"
    except DataUnavailable as err:
        reasons, offline = [str(err)], err.offline
    # Offline, keras.datasets prints "Downloading data from https://..." before it fails, which reads as
    # if a download were under way: hold its output back then, and show it only if it loaded (a cached copy).
    held = io.StringIO()
    try:
        with contextlib.redirect_stdout(held) if offline else contextlib.nullcontext():
            answer = from_keras()
    except Exception as err:  # keras raises a bare Exception for a failed download
        reasons.append(f"keras.datasets: {err}")
    else:
        sys.stdout.write(held.getvalue())
        return answer, f"{name} via keras.datasets"
    raise DataUnavailable(f"no copy of {name} is cached or downloadable ({'; '.join(reasons)})", offline=offline)

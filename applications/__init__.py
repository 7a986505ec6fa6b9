"""Applications built on the zoo, and the training kit they share.

Modules: ``digits`` (handwritten digit classification) and, shared by every
application, ``data`` (loaders and tf.data pipelines), ``augmentation``,
``callbacks``, ``training`` (the one ``train`` function), ``reporting``
(metrics and plots), ``export`` (versioned SavedModels) and ``cli``.
"""

import contextlib
import os
from importlib import metadata

try:
    __version__ = metadata.version("kerazoo")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"


@contextlib.contextmanager
def _stderr_silenced():
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_tensorflow_quietly():
    """Import TensorFlow without its C++ start-up lines (oneDNN notice, CPU features, CUDA probing).

    TensorFlow writes some of them before its log level applies, so stderr is
    closed while it imports and probes devices; an import error still raises
    with its traceback afterwards. Set TF_CPP_MIN_LOG_LEVEL=0 to see them.
    """
    # Only an explicit 0 turns this off: other values also ask for less output, and jax
    # (imported by Keras when installed) sets 1 in any process that imported Keras first.
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except ImportError:
            pass  # re-raised with a readable traceback by the real import below


_import_tensorflow_quietly()

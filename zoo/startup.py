"""Quiet TensorFlow's C++ start-up lines; called first thing by every entry point.

Entry points (``python -m zoo``, ``python -m applications.<app>``, the
console scripts) call ``quiet_tensorflow()`` before anything imports Keras.
Importing a package never does this: a library has no business closing its
user's stderr. This module imports nothing heavy, and ``import zoo`` does not
import Keras until a builder is asked for, so ``python -m zoo`` can quiet
TensorFlow before it loads.
"""

from __future__ import annotations

import contextlib
import os


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


def quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up lines (oneDNN notice, CPU features, CUDA probing).

    TensorFlow writes some of them before its log level applies, so stderr is
    closed while it imports and probes devices; an import error still raises
    with its traceback at the real import afterwards. Real warnings from later
    on are kept. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
    """
    # Only an explicit 0 turns this off: jax (imported by Keras when installed)
    # sets 1 in any process that imported Keras first.
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except ImportError:
            pass

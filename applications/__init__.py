"""Applications built on the zoo, and the training kit they share.

Modules: ``digits`` (handwritten digit classification) and, shared by every
application, ``data`` (loaders and tf.data pipelines), ``augmentation``,
``callbacks``, ``training`` (the one ``train`` function), ``reporting``
(metrics and plots) and ``export`` (versioned SavedModels).
"""

import os
from importlib import metadata

# TensorFlow's C++ start-up lines (oneDNN, CPU features, CUDA probing) are noise
# for a command-line user; Python warnings are untouched. A value the user set wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    __version__ = metadata.version("kerazoo")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

"""Applications built on the zoo, and the training kit they share (``applications.kit``).

Each application is one module that reads top to bottom: ``digits``
(handwritten digit classification). Importing this package has no side
effects; the entry points (``python -m applications.<app>`` and the console
scripts in ``applications.console``) quiet TensorFlow's start-up first.
"""

from importlib import metadata

try:
    __version__ = metadata.version("kerazoo")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

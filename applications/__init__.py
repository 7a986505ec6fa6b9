"""Applications built on the zoo, and the training kit they share (``applications.kit``).

Each application reads top to bottom: a module (``digits``, ``sentiment``),
or a small package whose ``application.py`` comes first and whose other
modules hold a second subject (``forecasting``, ``compression``,
``generation``). Importing this package has no side effects; the entry points (``python -m applications.<app>`` and the console
scripts in ``applications.console``) quiet TensorFlow's start-up first.
"""

from importlib import metadata

try:
    __version__ = metadata.version("kerazoo")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

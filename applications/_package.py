"""How an application package's ``__init__`` hands over its application's names (``forward_to``)."""

import importlib


def forward_to(module: str):
    """A module ``__getattr__`` giving ``module``'s names, ``module`` imported the first time one is asked for.

    ``applications.compression.main`` is then ``applications.compression.application.main``, while importing
    the package itself loads neither Keras nor TensorFlow: ``python -m applications.compression`` quiets
    TensorFlow's start-up (its ``__main__.py``) before anything imports it.
    """
    def __getattr__(name):
        if name.startswith("__"):  # what Python itself looks up on a module (__path__, __file__ ...)
            raise AttributeError(name)
        return getattr(importlib.import_module(module), name)

    return __getattr__

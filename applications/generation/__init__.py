"""GAN image generation, a small package: the application (``application.py``, read it first) and its measuring
instrument (``quality.py``: the quality classifier, the classifier FID and class coverage).

``applications.generation.main`` and the application's other names are ``application``'s, loaded the first
time one is asked for: importing the package loads neither Keras nor TensorFlow, so that
``python -m applications.generation`` quiets TensorFlow's start-up first (``__main__.py``).
"""


def __getattr__(name):
    import importlib

    if name.startswith("__"):  # what Python itself looks up on a module (__path__, __file__ ...)
        raise AttributeError(name)
    return getattr(importlib.import_module("applications.generation.application"), name)

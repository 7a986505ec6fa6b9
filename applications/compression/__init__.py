"""Autoencoder compression, a small package: the application (``application.py``, read it first), its code-file
format (``codefile.py``) and what it is compared with (``baselines.py``: PCA, JPEG, MSE/PSNR/SSIM).

``applications.compression.main`` and the application's other names are ``application``'s, loaded the first
time one is asked for: importing the package loads neither Keras nor TensorFlow, so that
``python -m applications.compression`` quiets TensorFlow's start-up first (``__main__.py``).
"""


def __getattr__(name):
    import importlib

    if name.startswith("__"):  # what Python itself looks up on a module (__path__, __file__ ...)
        raise AttributeError(name)
    return getattr(importlib.import_module("applications.compression.application"), name)

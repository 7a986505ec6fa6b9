"""Autoencoder compression, a small package: the application (``application.py``, read it first), its code-file
format (``codefile.py``) and what it is compared with (``baselines.py``: PCA, JPEG, MSE/PSNR/SSIM).

``applications.compression.main`` and the application's other names are ``application``'s, loaded the first
time one is asked for (``forward_to``), so that ``python -m applications.compression`` quiets TensorFlow's start-up
first (``__main__.py``).
"""

from applications._package import forward_to

__getattr__ = forward_to("applications.compression.application")

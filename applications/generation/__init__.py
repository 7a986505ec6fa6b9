"""GAN image generation, a small package: the application (``application.py``, read it first) and its measuring
instrument (``quality.py``: the quality classifier, the classifier FID and class coverage).

``applications.generation.main`` and the application's other names are ``application``'s, loaded the first
time one is asked for (``forward_to``), so that ``python -m applications.generation`` quiets TensorFlow's start-up
first (``__main__.py``).
"""

from applications._package import forward_to

__getattr__ = forward_to("applications.generation.application")

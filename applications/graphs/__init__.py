"""Node classification on graphs, a small package: the application (``application.py``).

``applications.graphs.main`` and the application's other names are ``application``'s, loaded the first time one
is asked for (``forward_to``), so that ``python -m applications.graphs`` quiets TensorFlow's start-up first.
"""

from applications._package import forward_to

__getattr__ = forward_to("applications.graphs.application")

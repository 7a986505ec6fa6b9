"""The course's studies (``kerazoo-study NAME``): the application is ``application.py``.

``applications.studies.main`` and the other names are ``application``'s, loaded the first time one is asked for
(``forward_to``), so that ``python -m applications.studies`` quiets TensorFlow's start-up first.
"""

from applications._package import forward_to

__getattr__ = forward_to("applications.studies.application")

"""Time-series forecasting, a small package: the application (``application.py``, read it first) and its data
preparation (``series.py``: time columns, a regular grid, gaps, windows).

``applications.forecasting.main`` and the application's other names are ``application``'s, loaded the first
time one is asked for (``forward_to``), so that ``python -m applications.forecasting`` quiets TensorFlow's start-up
first (``__main__.py``).
"""

from applications._package import forward_to

__getattr__ = forward_to("applications.forecasting.application")

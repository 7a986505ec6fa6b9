"""KerasTuner sweeps over the applications: ``python -m tuning <app>`` (``kerazoo-tune``).

- ``tuning.spaces``: each application's search space, mapped onto its command-line options;
- ``tuning.sweep``: the hypermodel and tuners that train through the applications' kit, results, export;
- ``tuning.devices``: GPU memory growth, MirroredStrategy, logical CPU devices.
"""

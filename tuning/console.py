"""The ``kerazoo-tune`` console script: quiet TensorFlow's start-up, then run ``python -m tuning``."""

from zoo.startup import quiet_tensorflow


def tune():
    quiet_tensorflow()
    from tuning.__main__ import cli_main

    cli_main()

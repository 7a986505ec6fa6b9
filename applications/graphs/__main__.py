"""``python -m applications.graphs``: quiet TensorFlow before Keras loads it, then run."""

from zoo.startup import quiet_tensorflow

quiet_tensorflow()

from applications.graphs.application import cli_main  # noqa: E402

cli_main()

"""``python -m applications.studies``: quiet TensorFlow before Keras loads it, then run."""

from zoo.startup import quiet_tensorflow

quiet_tensorflow()

from applications.studies.application import cli_main  # noqa: E402

cli_main()

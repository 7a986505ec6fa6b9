"""Console-script entry points: quiet TensorFlow's start-up, then run the application.

A console script imports its target module before calling it; these
functions import the application only after quieting TensorFlow, which is
why the scripts point here rather than at the application modules.
"""

from zoo.startup import quiet_tensorflow


def digits():
    quiet_tensorflow()
    from applications.digits import cli_main

    cli_main()


def sentiment():
    quiet_tensorflow()
    from applications.sentiment import cli_main

    cli_main()


def forecast():
    quiet_tensorflow()
    from applications.forecasting.application import cli_main

    cli_main()


def graph():
    quiet_tensorflow()
    from applications.graphs.application import cli_main

    cli_main()


def study():
    quiet_tensorflow()
    from applications.studies.application import cli_main

    cli_main()


def compress():
    quiet_tensorflow()
    from applications.compression.application import cli_main

    cli_main()


def generate():
    quiet_tensorflow()
    from applications.generation.application import cli_main

    cli_main()


def serve_check():
    quiet_tensorflow()
    from applications.serving import cli_main

    cli_main()

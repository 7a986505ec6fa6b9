"""Scripts that measure speed and quality on real data, side by side with baselines."""


def run_application(main, argv: list[str]) -> None:
    """Run an application's ``main`` as its command line does; stop the benchmark if it fails.

    A user's mistake (an unknown ``--models`` name, a bad option value) is the
    application's one-line error, and the benchmark stops there, not at the
    metrics.json that run did not write.
    """
    from applications.kit import cli

    code = cli.run(main, argv, prog="benchmark")
    if code:
        raise SystemExit(f"the benchmark stopped: the application exited with code {code} on {' '.join(argv)}")

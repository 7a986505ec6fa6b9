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


def check_models(parser, task, names, own=()) -> None:
    """``--models`` names that are neither the benchmark's ``own`` labels nor offered by ``task``: a usage error now,
    before minutes of baselines or other models."""
    from applications.kit import errors, run

    for name in names:
        if name not in own:
            try:
                run.offered_model(task, name)
            except errors.UsageError as err:
                parser.error(f"--models: {err}")


def stats(values) -> dict:
    """Median, min, max and count of the values that are not None (the form every timing table quotes)."""
    import numpy as np

    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values)),
            "n": len(values)}

"""The zoo's typed argument errors: callers read the fields, never the message text.

    try:
        zoo.build("dlinear", lookback=12, features=1, horizon=4)
    except zoo.ArgumentError as err:
        err.argument, err.value, err.allowed   # "moving_average", 25, "<= lookback (12)"
"""

from __future__ import annotations


class ArgumentError(ValueError):
    """A builder argument with a value the builder cannot take, raised before any layer is made.

    ``argument`` names it, ``value`` is what was given, ``allowed`` says in
    words what would do; the message is ``"<argument>=<value> is invalid:
    expected <allowed>."`` unless a builder words it better.
    """

    def __init__(self, argument: str, value, allowed: str, message: str | None = None):
        self.argument, self.value, self.allowed = argument, value, allowed
        super().__init__(message or f"{argument}={value!r} is invalid: expected {allowed}.")


class UnknownArgumentError(ArgumentError, TypeError):
    """An argument the builder does not take (a ``TypeError``, as Python's own for a call): ``allowed``
    lists the ones it takes."""

"""Argument checks shared by the builders.

Every builder validates its arguments before making a layer, so a bad value
fails with a ``zoo.ArgumentError`` (a ``ValueError``) that names the argument, the value and what is
allowed, instead of a shape error from deep inside Keras.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable

from zoo.errors import ArgumentError


def _fail(name, value, allowed):
    raise ArgumentError(name, value, allowed)


def positive_int(name, value, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        _fail(name, value, f"an integer >= {minimum}")
    return int(value)


def positive_float(name, value, *, allow_zero=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > 0 or (allow_zero and value == 0)):
        _fail(name, value, "a finite number >= 0" if allow_zero else "a finite number > 0")
    return float(value)


def fraction(name, value, *, allow_one=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not (0 <= value and (value <= 1 if allow_one else value < 1)):
        _fail(name, value, "a number in [0, 1]" if allow_one else "a number in [0, 1)")
    return float(value)


def flag(name, value):
    """True or False (not 1, 0 or "yes", which a membership test would let through)."""
    if not isinstance(value, bool):
        _fail(name, value, "True or False")
    return value


def choice(name, value, allowed: Iterable):
    allowed = tuple(allowed)
    if value not in allowed:
        _fail(name, value, f"one of {allowed}")
    return value


def shape(name, value, *, rank: int | None = None, min_rank=1):
    """A shape tuple of positive ints (``None`` allowed only where ``rank`` is not fixed)."""
    if not isinstance(value, (tuple, list)) or not value:
        _fail(name, value, "a non-empty tuple of positive integers, e.g. (28, 28, 1)")
    if rank is not None and len(value) != rank:
        _fail(name, value, f"a tuple of {rank} positive integers")
    if len(value) < min_rank:
        _fail(name, value, f"a tuple of at least {min_rank} positive integers")
    for dim in value:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            _fail(name, value, "a tuple of positive integers")
    return tuple(int(d) for d in value)


def divisible_image(name, value, scale):
    """``(H, W, C)`` with H and W divisible by ``scale`` (a network's total down- or up-sampling)."""
    if len(value) != 3 or value[0] % scale or value[1] % scale:
        _fail(name, value, f"(H, W, C) with H and W divisible by {scale}")
    return value


def int_list(name, value, *, minimum=1, allow_empty=False, distinct=False, why=""):
    """A tuple of integers >= ``minimum``; ``distinct``: no value twice (``why`` says what to do instead)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or (not value and not allow_empty):
        _fail(name, value, f"a {'possibly empty ' if allow_empty else ''}list of integers >= {minimum}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item < minimum:
            _fail(name, value, f"a list of integers >= {minimum}")
    if distinct and len(set(value)) != len(value):
        _fail(name, value, f"a list of distinct integers{why}")
    return tuple(int(v) for v in value)


def window(lookback, features, horizon, targets=None):
    """Check a forecaster's window arguments; ``targets`` defaults to ``features``."""
    positive_int("lookback", lookback)
    positive_int("features", features)
    positive_int("horizon", horizon)
    return features if targets is None else positive_int("targets", targets)


def classifier_head(classes, classifier_activation):
    positive_int("classes", classes)
    allowed = ("softmax", "sigmoid", "linear", None)
    choice("classifier_activation", classifier_activation, allowed)
    if classifier_activation == "softmax" and classes == 1:
        _fail("classes", classes, "classes >= 2 with classifier_activation='softmax' "
              "(use classifier_activation='sigmoid' for one binary output)")


def seed(value):
    """A random seed: None (fresh randomness) or an integer >= 0."""
    if value is not None:
        positive_int("seed", value, minimum=0)
    return value

"""The model registry: every builder in the zoo is reachable by name.

    >>> import zoo
    >>> zoo.names("res*")
    ['resnet101', 'resnet152', 'resnet18', 'resnet34', 'resnet50']
    >>> model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)

A builder registers itself with the ``register`` decorator (cf. timm's
``register_model``). The registry also records a builder's family and the task it
solves, so that an application can list, say, every image classifier without
special-casing a family.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Callable

import keras

TASKS = (
    "image_classification",
    "classification",
    "regression",
    "sequence_classification",
    "forecasting",
    "autoencoder",
    "generative",
)


@dataclass(frozen=True)
class Entry:
    name: str
    builder: Callable[..., keras.Model]
    family: str
    task: str

    @property
    def summary(self) -> str:
        doc = (self.builder.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


_REGISTRY: dict[str, Entry] = {}


def register(name: str | None = None, *, family: str, task: str):
    """Decorator registering a builder under ``name`` (default: the function's name)."""
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of {TASKS}")

    def decorator(builder):
        key = name or builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"a builder named {key!r} is already registered")
        _REGISTRY[key] = Entry(key, builder, family, task)
        return builder

    return decorator


def names(pattern: str = "*", *, task: str | None = None, family: str | None = None) -> list[str]:
    """Sorted names of registered builders matching a shell-style ``pattern``."""
    return sorted(
        key
        for key, entry in _REGISTRY.items()
        if fnmatch.fnmatchcase(key, pattern)
        and (task is None or entry.task == task)
        and (family is None or entry.family == family)
    )


def entry(name: str) -> Entry:
    """The registry entry for ``name``; unknown names raise ``ValueError`` with close matches."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown model name {name!r}.{hint} Registered models: {', '.join(names())}."
        )
    return _REGISTRY[name]


def build(name: str, **kwargs) -> keras.Model:
    """Build the registered model ``name`` with the builder's keyword arguments."""
    return entry(name).builder(**kwargs)

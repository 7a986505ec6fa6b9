"""The model registry: every builder in the zoo is reachable by name.

    >>> import zoo
    >>> zoo.names("res*")
    ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
    >>> model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)

A builder registers itself with the ``register`` decorator (cf. timm's
``register_model``). Each entry records the builder's family, the task it
solves and the kind of input it takes, and its default input shape is read
off the builder's signature, so an application or ``python -m zoo`` can list,
say, every image classifier and its input without building a model.

The family modules (and with them Keras) are imported the first time the
registry is asked for a name, so ``import zoo`` is cheap and has no side
effects.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Callable

from zoo.errors import UnknownArgumentError

TASKS = (
    "image_classification",
    "classification",
    "regression",
    "sequence_classification",
    "forecasting",
    "autoencoder",
    "generative",
    "node_classification",
)
# What a model's first input is: pixels [H, W, C], a feature vector, token ids,
# a window of a multivariate series [lookback, features], a latent code, or a graph (node features
# [N, features] and an edge list [E, 2]).
INPUT_KINDS = ("image", "vector", "tokens", "window", "latent", "graph")
FAMILIES = ("perceptron", "mlp", "convnet", "resnet", "recurrent", "forecasting", "transformer",
            "autoencoder", "vae", "gan", "graph")


@dataclass(frozen=True)
class Entry:
    name: str
    builder: Callable
    family: str
    task: str
    input_kind: str

    @property
    def summary(self) -> str:
        doc = (self.builder.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def arguments(self) -> dict:
        """The builder's keyword arguments and their defaults."""
        return {name: p.default for name, p in inspect.signature(self.builder).parameters.items()}

    @property
    def default_input_shape(self) -> tuple:
        """The input shape the builder's defaults give, without building the model."""
        args = self.arguments
        if self.input_kind == "window":
            return (args["lookback"], args["features"])
        if self.input_kind == "tokens":
            return (args["sequence_length"],)
        if self.input_kind == "latent":
            return (args["latent_dim"],)
        if self.input_kind == "graph":  # per node (the edge list is the second input)
            return (args["features"],)
        return tuple(args["input_shape"])


_REGISTRY: dict[str, Entry] = {}
_loaded = False


def register(name: str | None = None, *, task: str, input_kind: str):
    """Decorator registering a builder under ``name`` (default: the function's name).

    The builder's family is the module that defines it (``zoo.resnet`` -> ``resnet``), one of ``FAMILIES``.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of {TASKS}")
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"input_kind={input_kind!r} is not one of {INPUT_KINDS}")

    def decorator(builder):
        key = name or builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"a builder named {key!r} is already registered")
        family = builder.__module__.rpartition(".")[2]
        if family not in FAMILIES:
            raise ValueError(f"{key} is defined in {builder.__module__}, not in a family module of the zoo "
                             f"({', '.join(FAMILIES)})")
        _REGISTRY[key] = Entry(key, builder, family, task, input_kind)
        return builder

    return decorator


def _load_families() -> None:
    """Import every family module once; importing a module registers its builders."""
    global _loaded
    if not _loaded:
        for family in FAMILIES:
            importlib.import_module(f"zoo.{family}")
        _loaded = True


def natural_key(name: str):
    """Sort key that orders embedded numbers by value: resnet18 < resnet34 < resnet101."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def names(pattern: str = "*", *, task: str | None = None, family: str | None = None,
          input_kind: str | None = None) -> list[str]:
    """Names of registered builders matching a shell-style ``pattern``, in natural order."""
    _load_families()
    return sorted(
        (key for key, entry in _REGISTRY.items()
         if fnmatch.fnmatchcase(key, pattern)
         and (task is None or entry.task == task)
         and (family is None or entry.family == family)
         and (input_kind is None or entry.input_kind == input_kind)),
        key=natural_key,
    )


def entry(name: str) -> Entry:
    """The registry entry for ``name``; unknown names raise ``ValueError`` with close matches."""
    _load_families()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown model name {name!r}.{hint} Registered models: {', '.join(names())}."
        )
    return _REGISTRY[name]


def build(name: str, weights=None, **kwargs):
    """Build the registered model ``name`` with the builder's keyword arguments.

    An argument the builder does not take is a ``TypeError`` that names the
    closest one it does take and lists them all (a forecaster takes
    ``lookback`` and ``features``, not ``input_shape``). ``weights``: ``None``
    (as built), a ``.keras``/``.weights.h5``/``.h5`` file or a run folder, or
    ``"imagenet"`` (``resnet50/101/152``), loaded layer by layer (``zoo.weights``);
    one line says which layers were loaded and which were left new.
    """
    if weights is not None:
        from zoo.weights import load_weights

        model = build(name, **kwargs)
        print(load_weights(model, weights, name=name, include_top=kwargs.get("include_top", True)).line())
        return model
    builder = entry(name).builder
    parameters = inspect.signature(builder).parameters  # (Entry.arguments, with defaults, reads it again per call)
    unknown = [key for key in kwargs if key not in parameters]
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        close = difflib.get_close_matches(unknown[0], list(parameters), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownArgumentError(unknown[0], kwargs[unknown[0]], ", ".join(parameters),
                                   f"{name} takes no argument {unknown[0]!r}{hint}; its arguments: {', '.join(parameters)}")
    return builder(**kwargs)

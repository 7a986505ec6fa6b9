"""Weights for any zoo model, matched layer by layer: ``zoo.build(name, weights=...)`` or ``zoo.load_weights``.

    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=49, weights="runs/digits/20261207-101500")
    # Weights: loaded 6 layers (conv1 ... logits would be 10 -> 49: left new) from runs/digits/...
    model = zoo.build("resnet50", include_top=False, pooling="avg", weights="imagenet")

A source is

- a ``.keras`` model file, or a run folder holding ``model.keras``: its layers
  are matched to the model's by name (nested models are searched too), so a
  backbone trained inside an application's model loads into a bare builder;
- a ``.weights.h5`` file (``model.save_weights``): Keras keys its layers by
  class and position (``conv2d``, ``conv2d_1``...), not by name, so these
  match a model of the same layer sequence, such as
  ``keras.applications.ResNet50`` and the zoo's ``resnet50``;
- a legacy ``.h5`` weights file (Keras 2, keras.applications' downloads): by name;
- ``"imagenet"`` for ``resnet50``, ``resnet101``, ``resnet152``:
  keras.applications' ImageNet files, through ``keras.utils.get_file``
  (downloaded once into the Keras cache, ``~/.keras/models``, read from it
  after; offline and not cached, a ``WeightsError`` saying so).

A layer whose weights have other shapes (a head for other classes) or that
the source lacks is left as built; one line says which layers were loaded and
which were not. A source that loads no layer at all is a ``WeightsError``.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# keras.applications' ImageNet weights: file hashes (with the top, without it)
IMAGENET = {"resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
            "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
            "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c")}
# Layers keras.applications names otherwise: its classifier Dense is "predictions", the zoo's "logits"
# (its "predictions" is the float32 activation after it).
ALIASES = {"logits": "predictions"}


class WeightsError(ValueError):
    """A weights source that cannot be read or fits no layer of the model; the message says which and why."""


@dataclass
class Loaded:
    source: str
    loaded: list[str]
    new: list[str]        # layers with weights that kept their built values, with the reason

    def line(self) -> str:
        def names(items):
            return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")

        left = f"; left new: {names(self.new)}" if self.new else "; every layer with weights loaded"
        return f"Weights: loaded {len(self.loaded)} layers from {self.source}{left}"


def imagenet_file(name: str, include_top: bool) -> str:
    """The path of keras.applications' ImageNet weights for ``name``: the Keras cache, or downloaded into it."""
    import keras

    if name not in IMAGENET:
        raise WeightsError(f"weights='imagenet' exists for {', '.join(IMAGENET)} only, not {name}: "
                           "pass weights=None or a file or run folder")
    file_name = f"{name}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    try:
        return keras.utils.get_file(file_name, IMAGENET_URL + file_name, cache_subdir="models",
                                    file_hash=IMAGENET[name][0 if include_top else 1])
    except Exception as err:  # offline: keras raises a plain Exception ("URL fetch failure ...")
        cache = pathlib.Path(keras.config.keras_home() if hasattr(keras.config, "keras_home")
                             else "~/.keras").expanduser() / "models" / file_name
        raise WeightsError(f"the ImageNet weights of {name} are not in the Keras cache ({cache}) and cannot be "
                           f"downloaded ({str(err).splitlines()[0][:120]}): connect once, or copy the file "
                           f"there from {IMAGENET_URL + file_name}") from None


def layers_with_weights(model, learned_only: bool = False):
    """Every layer with weights, in order, nested models searched (depth first); ``learned_only``: those with a
    trainable weight (not a preprocessing layer's statistics, such as ``Normalization``'s mean)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from layers_with_weights(layer, learned_only)
        elif layer.trainable_weights if learned_only else layer.weights:
            yield layer


def _arrays_from_keras_model(path: pathlib.Path) -> dict[str, list[np.ndarray]]:
    import keras

    try:
        source = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # a file of another application whose layers are not registered, or no model
        raise WeightsError(f"cannot read {path} as a Keras model: {str(err).splitlines()[0][:200]}") from None
    arrays = {}
    for layer in layers_with_weights(source):
        arrays.setdefault(layer.name, [np.asarray(w) for w in layer.get_weights()])
    return arrays


def _arrays_from_legacy_h5(path: pathlib.Path) -> dict[str, list[np.ndarray]]:
    """Keras 2 weights files (keras.applications' downloads): groups named by layer, ``weight_names`` in order."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in group.attrs:
            raise WeightsError(f"{path} is not a Keras weights file (no layer names in it)")
        arrays = {}
        for name in group.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else name
            weight_names = [w.decode() if isinstance(w, bytes) else w for w in group[name].attrs["weight_names"]]
            if weight_names:
                arrays[name] = [np.asarray(group[name][w]) for w in weight_names]
    return arrays


def _arrays_from_weights_h5(path: pathlib.Path, model) -> dict[str, list[np.ndarray]]:
    """Keras 3 ``.weights.h5``: the model's layers' keys as Keras writes them (snake-cased class, numbered in
    order), mapped back to the model's layer names."""
    import h5py
    import keras

    def snake(name):  # Keras' own rule (keras.src.utils.naming.to_snake_case): Conv2D -> conv2d
        import re

        name = re.sub(r"\W+", "", name)
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
        return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()

    arrays = {}

    def walk(model, group):
        used = {}
        for layer in model.layers:
            key = snake(type(layer).__name__)
            used[key] = used.get(key, -1) + 1
            key = key if used[key] == 0 else f"{key}_{used[key]}"
            if group is None or key not in group:
                continue
            if isinstance(layer, keras.Model):
                walk(layer, group[key].get("layers"))
            elif layer.weights and "vars" in group[key]:
                found = group[key]["vars"]
                arrays[layer.name] = [np.asarray(found[str(i)]) for i in range(len(found))]

    with h5py.File(path, "r") as f:
        walk(model, f.get("layers"))
    return arrays


def load_weights(model, source, *, name: str | None = None, include_top: bool = True,
                 learned_only: bool = False) -> Loaded:
    """Load ``source`` into ``model`` layer by layer (see the module's docstring); the ``Loaded`` report.

    ``learned_only``: leave the layers without trainable weights (an application's preprocessing, fitted to its
    own data: a ``Normalization``'s statistics) as they are."""
    if isinstance(source, str) and source == "imagenet":
        path = pathlib.Path(imagenet_file(name or model.name, include_top))
        label = f"ImageNet ({path.name})"
    else:
        path = pathlib.Path(source)
        if path.is_dir():
            path = path / "model.keras"
        if not path.exists():
            raise WeightsError(f"{source} does not exist: pass a .keras, .weights.h5 or .h5 file, or a run folder "
                               "holding model.keras")
        label = str(source)
    if path.suffix == ".keras":
        arrays = _arrays_from_keras_model(path)
    elif path.name.endswith(".weights.h5"):
        arrays = _arrays_from_weights_h5(path, model)
    elif path.suffix == ".h5":
        arrays = _arrays_from_legacy_h5(path)
    else:
        raise WeightsError(f"{source}: expected a .keras, .weights.h5 or .h5 file, or a run folder")
    loaded, new = [], []
    for layer in layers_with_weights(model, learned_only):
        found = arrays.get(layer.name)
        if found is None and layer.name in ALIASES:
            found = arrays.get(ALIASES[layer.name])
        shapes = [tuple(w.shape) for w in layer.weights]
        if found is None:
            new.append(f"{layer.name} (not in the source)")
        elif [tuple(a.shape) for a in found] != shapes:
            got = ", ".join("x".join(map(str, a.shape)) for a in found)
            new.append(f"{layer.name} ({got} in the source, {', '.join('x'.join(map(str, s)) for s in shapes)} here)")
        else:
            layer.set_weights(found)
            loaded.append(layer.name)
    if not loaded:
        raise WeightsError(f"no layer of {model.name} matches {label} by name and shape: "
                           "is it a model of another architecture or application?")
    return Loaded(label, loaded, new)

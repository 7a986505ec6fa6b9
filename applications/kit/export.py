"""Versioned SavedModels in TF Serving's layout: ``<root>/<model>/<version>/``.

A version is written to a temporary folder beside the final one and renamed
into place, so a reader (TF Serving polls the folder) never sees a half-written
model, and an existing version is never overwritten: the next free integer is
taken. ``metadata.json`` in the version folder names the inputs, outputs, class
labels, metrics and training arguments.

Export on the CPU: an LSTM/GRU traced on a GPU can bake in cuDNN-only ops that
fail when served from a CPU.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import keras

from applications import __version__
from applications.kit.reporting import write_json


def existing_versions(model_dir) -> list[int]:
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())


def export_saved_model(model: keras.Model, name: str, *, serving_fn, input_signature,
                       metadata: dict, root="saved_models") -> pathlib.Path:
    """Write ``serving_fn`` as the ``serving_default`` signature of a new version; return its path.

    ``serving_fn`` takes what a client has (raw images, strings, windows) and
    does the preprocessing inside the graph; it returns a dict of named outputs,
    which become the signature's output keys. Floating outputs are served as
    float32 whatever the training precision policy (a bfloat16 or float16
    tensor is not what a client expects); the policy is in the metadata.
    """
    import tensorflow as tf

    def serve_float32(*args, **kwargs):
        outputs = serving_fn(*args, **kwargs)
        return {key: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                for key, value in outputs.items()}

    model_dir = pathlib.Path(root) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve_float32, input_signature=input_signature)

    staging = pathlib.Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        while True:
            version = max(existing_versions(model_dir), default=0) + 1
            write_json(staging / "model" / "metadata.json",
                       {"model": name, "version": version, "package_version": __version__, **metadata})
            try:
                # rename() refuses to replace a non-empty folder, so a version
                # another process wrote meanwhile is kept and we take the next.
                (staging / "model").rename(model_dir / str(version))
                return model_dir / str(version)
            except OSError:
                if not (model_dir / str(version)).exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)

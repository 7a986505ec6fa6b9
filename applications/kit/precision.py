"""The dtype policy (``--precision``) and the CPU features it is chosen from.

A leaf of the kit: it imports nothing of the package. Layers that see raw
values (a ``Normalization`` of raw readings, a ``Rescaling`` of pixels) must
compute in float32 whatever the policy: ``RAW_INPUT_DTYPE`` is the dtype to
give them (bfloat16 rounds 300 to a multiple of 2; float16 overflows above 65504).
"""

from __future__ import annotations

import pathlib
import warnings

import keras

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
RAW_INPUT_DTYPE = "float32"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        return set(pathlib.Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def cpu_has_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AVX512_BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def configure_precision(mode: str = "auto") -> str:
    """Set Keras' global dtype policy before a model is built; returns the policy name.

    ``auto``: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a CPU with
    native bfloat16 (faster than float32 on the MNIST convnet here, same
    accuracy), else ``float32``. An explicit ``mixed_float16`` without a GPU
    or a CPU that computes float16 natively warns: float16 is emulated there,
    several times slower than float32.
    """
    if mode not in PRECISIONS:
        raise ValueError(f"precision={mode!r} is invalid: expected one of {PRECISIONS}")
    import tensorflow as tf

    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    if mode == "auto":
        if on_gpu:
            mode = "mixed_float16"
        else:
            mode = "mixed_bfloat16" if cpu_has_bf16() else "float32"
    elif mode == "mixed_float16" and not on_gpu and not {"avx512_fp16", "amx_fp16"} & cpu_flags():
        warnings.warn("precision mixed_float16 without a GPU: this CPU has no native float16, so it is emulated "
                      "and trains several times slower than float32; use --precision auto (mixed_bfloat16 or "
                      "float32 on a CPU)", stacklevel=2)
    keras.mixed_precision.set_global_policy(mode)
    return mode


def inner_optimizer(optimizer):
    """The optimiser that holds the rate: under ``mixed_float16`` ``compile`` wraps it in a ``LossScaleOptimizer``."""
    return getattr(optimizer, "inner_optimizer", optimizer)

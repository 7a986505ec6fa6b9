"""Devices for a sweep or a training job: GPU memory growth, the distribution strategy, logical CPU devices.

- ``configure_gpus()``: memory growth on every GPU, so trials (and several
  processes) share a GPU instead of the first one taking all of its memory.
- ``strategy(cpu_devices=0)``: ``MirroredStrategy`` over every GPU when there
  are several; over ``cpu_devices`` logical CPU devices when asked (this is
  how the tests exercise the mirrored code path on a CPU-only machine); else
  the default strategy. Mixed precision is the kit's ``--precision auto``:
  float16 with loss scaling on GPU, bfloat16 on CPUs with native bfloat16.
- ``split_cpu(n)``: split the CPU into ``n`` logical devices; call it before
  TensorFlow runs anything.
"""

from __future__ import annotations

from applications.kit.distribute import configure_gpus, make_strategy  # the applications' own


def split_cpu(count: int) -> list:
    """Split the first CPU into ``count`` logical devices (before TensorFlow initialises)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return tf.config.list_logical_devices("CPU")


def strategy(cpu_devices: int = 0):
    """``MirroredStrategy`` over several GPUs (or ``cpu_devices`` logical CPUs); else the default strategy."""
    if len(configure_gpus()) > 1:
        return make_strategy("mirrored")
    if cpu_devices > 1:
        return make_strategy("mirrored", devices=[d.name for d in split_cpu(cpu_devices)])
    return make_strategy("default")


def describe() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}" if gpus else "CPU only (no GPU visible)"

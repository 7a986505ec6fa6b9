"""The model zoo: a Keras functional builder for every architecture of the course.

    import zoo
    zoo.names()                       # every registered builder
    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)
    model = zoo.build("resnet50", include_top=False, pooling="avg", weights="imagenet")

Builders return uncompiled ``keras.Model`` objects and use ``keras.layers`` and
``keras.ops`` only, so they build on any Keras backend. ``import zoo`` itself
imports nothing heavy: the family modules (and Keras) load the first time the
registry is asked for a name.
"""

from zoo.errors import ArgumentError, UnknownArgumentError
from zoo.registry import build, entry, names, register


def load_weights(model, source, **kwargs):
    """Load weights into a built model layer by layer; see ``zoo.weights``."""
    from zoo.weights import load_weights

    return load_weights(model, source, **kwargs)


__all__ = ["ArgumentError", "UnknownArgumentError", "build", "entry", "load_weights", "names", "register"]

"""The model zoo: a Keras functional builder for every architecture of the course.

    import zoo
    zoo.names()                       # every registered builder
    model = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)

Builders return uncompiled ``keras.Model`` objects and use ``keras.layers`` and
``keras.ops`` only, so they build on any Keras backend.
"""

from zoo.registry import build, entry, names, register

# Importing the family modules registers their builders.
from zoo import (  # noqa: E402,F401  isort: skip
    autoencoder, convnet, forecasting, mlp, perceptron, recurrent, resnet, transformer, vae, gan,
)

__all__ = ["build", "entry", "names", "register"]

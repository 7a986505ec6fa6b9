"""Loss scaling for models that compute their own loss under a ``tf.distribute`` strategy."""

from __future__ import annotations

import keras


def per_replica(loss):
    """``loss`` divided by the number of replicas, so that the replicas' summed gradients are the mean's.

    Under a strategy with several replicas (mirrored GPUs, several workers)
    each replica's gradients are summed across replicas; Keras' compiled
    losses divide by the replica count for this, and a model that computes
    its own loss (a GAN's ``train_step``, the VAE's ``compute_loss``) must do
    the same, or its step is as many times too large. One replica: unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * keras.ops.cast(1.0 / replicas, loss.dtype)

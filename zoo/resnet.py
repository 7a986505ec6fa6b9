"""ResNet v1 (He et al., 2015): 18 and 34 with basic blocks, 50, 101 and 152 with bottlenecks.

One private builder, ``_resnet``, takes the block type and the number of
blocks per stage; the public builders are thin (cf. keras.applications
``ResNet(stack_fn, ...)`` behind ``ResNet50``). Input ``[batch, H, W, C]``;
output ``[batch, classes]`` or, with ``include_top=False``, the last feature
map ``[batch, H/32, W/32, 512 * expansion]`` (``[batch, features]`` with
``pooling``).

The bottleneck variants follow keras.applications layer for layer (biased
convolutions, BN epsilon 1.001e-5), so their parameter counts equal
``keras.applications.ResNet50/101/152``. The basic-block variants follow the
paper and torchvision (convolutions without bias).

``small_inputs=True`` swaps the 7x7/2 stem and its max-pool for one 3x3/1
convolution, the usual stem for 28x28 and 32x32 images (CIFAR, MNIST).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.errors import ArgumentError
from zoo import _checks
from zoo.layers import check_top, classifier_top, pool_features
from zoo.registry import register

BN_EPSILON = 1.001e-5


def _conv_bn(x, filters, kernel, stride, name, use_bias, relu=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=use_bias,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def basic_block(x, filters, stride, name, use_bias):
    """Two 3x3 convolutions; output channels = filters."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_0", use_bias, relu=False)
    x = _conv_bn(x, filters, 3, stride, f"{name}_1", use_bias)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", use_bias, relu=False)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(x, filters, stride, name, use_bias):
    """1x1 reduce, 3x3, 1x1 expand (x4); output channels = 4 * filters."""
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = _conv_bn(x, 4 * filters, 1, stride, f"{name}_0", use_bias, relu=False)
    x = _conv_bn(x, filters, 1, stride, f"{name}_1", use_bias)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", use_bias)
    x = _conv_bn(x, 4 * filters, 1, 1, f"{name}_3", use_bias, relu=False)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _resnet(block, stage_blocks, use_bias, *, input_shape, classes, include_top, pooling,
            classifier_activation, small_inputs, name):
    check_top(include_top, pooling, classes, classifier_activation)
    _checks.flag("small_inputs", small_inputs)
    input_shape = _checks.shape("input_shape", input_shape, rank=3)
    # Three stride-2 stages, plus stride 4 in the full stem.
    min_size = 8 if small_inputs else 32
    if min(input_shape[:2]) < min_size:
        raise ArgumentError("input_shape", input_shape, f"H and W >= {min_size}"
                            f"{' (or use small_inputs=True)' if not small_inputs else ''}")

    inputs = keras.Input(shape=input_shape, name="images")
    if small_inputs:
        x = _conv_bn(inputs, 64, 3, 1, "conv1", use_bias)
    else:
        x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
        x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), stage_blocks), start=2):
        for b in range(1, blocks + 1):
            stride = 2 if b == 1 and stage > 2 else 1
            x = block(x, filters, stride, f"conv{stage}_block{b}", use_bias)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = classifier_top(x, classes=classes, classifier_activation=classifier_activation)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


@register(task="image_classification", input_kind="image")
def resnet18(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", small_inputs=False, name="resnet18"):
    """ResNet-18: basic blocks (2, 2, 2, 2); [batch, H, W, C] -> [batch, classes].

    Args:
        input_shape: ``(H, W, C)``; H and W >= 32, or >= 8 with ``small_inputs=True``.
        classes: number of classes (with ``include_top``).
        include_top: end with global average pooling and the classifier; else
            return the last feature map ``[batch, H/32, W/32, channels]``.
        pooling: without the top, ``None``, ``"avg"`` or ``"max"`` global pooling.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        small_inputs: a 3x3/1 stem without max-pool, for 28x28 or 32x32 images.
        name: the model's name.
    """
    return _resnet(basic_block, (2, 2, 2, 2), False, input_shape=input_shape, classes=classes,
                   include_top=include_top, pooling=pooling,
                   classifier_activation=classifier_activation, small_inputs=small_inputs, name=name)


@register(task="image_classification", input_kind="image")
def resnet34(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", small_inputs=False, name="resnet34"):
    """ResNet-34: basic blocks (3, 4, 6, 3); [batch, H, W, C] -> [batch, classes].

    Args:
        input_shape: ``(H, W, C)``; H and W >= 32, or >= 8 with ``small_inputs=True``.
        classes: number of classes (with ``include_top``).
        include_top: end with global average pooling and the classifier; else
            return the last feature map ``[batch, H/32, W/32, channels]``.
        pooling: without the top, ``None``, ``"avg"`` or ``"max"`` global pooling.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        small_inputs: a 3x3/1 stem without max-pool, for 28x28 or 32x32 images.
        name: the model's name.
    """
    return _resnet(basic_block, (3, 4, 6, 3), False, input_shape=input_shape, classes=classes,
                   include_top=include_top, pooling=pooling,
                   classifier_activation=classifier_activation, small_inputs=small_inputs, name=name)


@register(task="image_classification", input_kind="image")
def resnet50(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", small_inputs=False, name="resnet50"):
    """ResNet-50: bottlenecks (3, 4, 6, 3); [batch, H, W, C] -> [batch, classes].

    Args:
        input_shape: ``(H, W, C)``; H and W >= 32, or >= 8 with ``small_inputs=True``.
        classes: number of classes (with ``include_top``).
        include_top: end with global average pooling and the classifier; else
            return the last feature map ``[batch, H/32, W/32, channels]``.
        pooling: without the top, ``None``, ``"avg"`` or ``"max"`` global pooling.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        small_inputs: a 3x3/1 stem without max-pool, for 28x28 or 32x32 images.
        name: the model's name.
    """
    return _resnet(bottleneck_block, (3, 4, 6, 3), True, input_shape=input_shape, classes=classes,
                   include_top=include_top, pooling=pooling,
                   classifier_activation=classifier_activation, small_inputs=small_inputs, name=name)


@register(task="image_classification", input_kind="image")
def resnet101(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", small_inputs=False, name="resnet101"):
    """ResNet-101: bottlenecks (3, 4, 23, 3); [batch, H, W, C] -> [batch, classes].

    Args:
        input_shape: ``(H, W, C)``; H and W >= 32, or >= 8 with ``small_inputs=True``.
        classes: number of classes (with ``include_top``).
        include_top: end with global average pooling and the classifier; else
            return the last feature map ``[batch, H/32, W/32, channels]``.
        pooling: without the top, ``None``, ``"avg"`` or ``"max"`` global pooling.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        small_inputs: a 3x3/1 stem without max-pool, for 28x28 or 32x32 images.
        name: the model's name.
    """
    return _resnet(bottleneck_block, (3, 4, 23, 3), True, input_shape=input_shape, classes=classes,
                   include_top=include_top, pooling=pooling,
                   classifier_activation=classifier_activation, small_inputs=small_inputs, name=name)


@register(task="image_classification", input_kind="image")
def resnet152(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", small_inputs=False, name="resnet152"):
    """ResNet-152: bottlenecks (3, 8, 36, 3); [batch, H, W, C] -> [batch, classes].

    Args:
        input_shape: ``(H, W, C)``; H and W >= 32, or >= 8 with ``small_inputs=True``.
        classes: number of classes (with ``include_top``).
        include_top: end with global average pooling and the classifier; else
            return the last feature map ``[batch, H/32, W/32, channels]``.
        pooling: without the top, ``None``, ``"avg"`` or ``"max"`` global pooling.
        classifier_activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``None``.
        small_inputs: a 3x3/1 stem without max-pool, for 28x28 or 32x32 images.
        name: the model's name.
    """
    return _resnet(bottleneck_block, (3, 8, 36, 3), True, input_shape=input_shape, classes=classes,
                   include_top=include_top, pooling=pooling,
                   classifier_activation=classifier_activation, small_inputs=small_inputs, name=name)

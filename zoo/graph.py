"""Graph neural networks for node classification: GCN, GAT and GraphSAGE.

Each takes two inputs, node features ``[N, F]`` (float) and an edge list
``[E, 2]`` of ``(source, target)`` node indices (int; an undirected graph
lists each edge both ways), and returns class probabilities ``[N, classes]``.
Messages flow along the edges: gathered at their source, combined at their
target with ``keras.ops.segment_sum`` / ``segment_max``, so no ``N x N``
matrix is ever made and memory grows with ``N + E``. The whole graph is one
"batch": train with one element ``((features, edges), labels, weights)`` per
step, the weights masking the nodes that are not training nodes.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from zoo import _checks
from zoo.layers import regularizer
from zoo.registry import register


def _with_self_loops(edges, nodes):
    """Sources and targets with one self loop per node appended (GCN and GAT aggregate the node itself too)."""
    loops = ops.arange(nodes, dtype="int32")
    edges = ops.cast(edges, "int32")
    return ops.concatenate([edges[:, 0], loops]), ops.concatenate([edges[:, 1], loops])


class _GraphLayer(layers.Layer):
    """Shared plumbing: ``call([x, edges])``, output ``[N, units]``; built from the features' width."""

    def __init__(self, units, activation=None, use_bias=True, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], self.output_width())

    def output_width(self) -> int:
        return self.units

    def kernel_weight(self, rows: int, columns: int, name: str = "kernel"):
        return self.add_weight(shape=(rows, columns), initializer="glorot_uniform",
                               regularizer=self.kernel_regularizer, name=name)

    def bias_weight(self):
        return self.add_weight(shape=(self.output_width(),), initializer="zeros", name="bias") if self.use_bias \
            else None

    def finish(self, out):
        """``activation(out + bias)``."""
        if self.bias is not None:
            out = out + ops.cast(self.bias, out.dtype)
        return self.activation(out)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}


@keras.saving.register_keras_serializable(package="zoo")
class GCNConv(_GraphLayer):
    """Kipf & Welling's graph convolution: ``D^-1/2 (A + I) D^-1/2 X W + b``, degrees counted with the self loop.

    Each edge's message ``x_source W`` is scaled by ``1 / sqrt(deg(source) deg(target))`` and summed at its
    target. A repeated edge counts as often as it is listed.
    """

    def build(self, input_shapes):
        self.kernel = self.kernel_weight(input_shapes[0][-1], self.units)
        self.bias = self.bias_weight()

    def call(self, inputs):
        x, edges = inputs
        nodes = ops.shape(x)[0]
        source, target = _with_self_loops(edges, nodes)
        degree = ops.segment_sum(ops.ones_like(target, dtype=x.dtype), target, num_segments=nodes)
        norm = ops.take(ops.rsqrt(degree), source) * ops.take(ops.rsqrt(degree), target)
        h = ops.matmul(x, ops.cast(self.kernel, x.dtype))
        return self.finish(ops.segment_sum(ops.take(h, source, axis=0) * norm[:, None], target, num_segments=nodes))


@keras.saving.register_keras_serializable(package="zoo")
class GATConv(_GraphLayer):
    """Graph attention (Velickovic et al., 2018): ``heads`` attentions over each node's in-neighbours and itself.

    ``e_ij = LeakyReLU_0.2(a_src . W x_i + a_dst . W x_j)`` for an edge i -> j, softmax over the edges into
    j (``segment_max`` first, for stability), ``attention_dropout`` on the coefficients in training; the
    heads are concatenated (``concat=True``, ``[N, heads * units]``) or averaged (``[N, units]``).
    """

    def __init__(self, units, heads=1, concat=True, attention_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self.heads, self.concat, self.attention_dropout, self.seed = heads, concat, attention_dropout, seed
        self.dropout = layers.Dropout(attention_dropout, seed=seed)

    def output_width(self) -> int:
        return self.units * self.heads if self.concat else self.units

    def build(self, input_shapes):
        self.kernel = self.kernel_weight(input_shapes[0][-1], self.heads * self.units)
        self.attention_source = self.add_weight(shape=(self.heads, self.units), initializer="glorot_uniform",
                                                name="attention_source")
        self.attention_target = self.add_weight(shape=(self.heads, self.units), initializer="glorot_uniform",
                                                name="attention_target")
        self.bias = self.bias_weight()

    def attention(self, x, edges, training=None):
        """``(h [N, heads, units], source, target, alpha [E + N, heads])``: the coefficients of every edge."""
        nodes = ops.shape(x)[0]
        source, target = _with_self_loops(edges, nodes)
        h = ops.reshape(ops.matmul(x, ops.cast(self.kernel, x.dtype)), (-1, self.heads, self.units))
        score_source = ops.sum(h * ops.cast(self.attention_source, h.dtype), axis=-1)  # [N, heads]
        score_target = ops.sum(h * ops.cast(self.attention_target, h.dtype), axis=-1)
        logits = ops.leaky_relu(ops.take(score_source, source, axis=0) + ops.take(score_target, target, axis=0),
                                negative_slope=0.2)
        highest = ops.segment_max(logits, target, num_segments=nodes)
        weights = ops.exp(logits - ops.take(highest, target, axis=0))
        total = ops.segment_sum(weights, target, num_segments=nodes)
        alpha = weights / ops.take(total, target, axis=0)
        return h, source, target, self.dropout(alpha, training=training)

    def call(self, inputs, training=None):
        x, edges = inputs
        h, source, target, alpha = self.attention(x, edges, training)
        out = ops.segment_sum(ops.take(h, source, axis=0) * alpha[..., None], target, num_segments=ops.shape(x)[0])
        return self.finish(ops.reshape(out, (-1, self.heads * self.units)) if self.concat else ops.mean(out, axis=1))

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "concat": self.concat,
                "attention_dropout": self.attention_dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class SAGEConv(_GraphLayer):
    """GraphSAGE with the mean aggregator (Hamilton et al., 2017): ``x W_self + mean(x_neighbours) W_neigh + b``.

    The neighbours are the sources of the edges into a node (no self loop); a node without any aggregates zeros.
    """

    def build(self, input_shapes):
        self.kernel = self.kernel_weight(input_shapes[0][-1], self.units)
        self.neighbour_kernel = self.kernel_weight(input_shapes[0][-1], self.units, name="neighbour_kernel")
        self.bias = self.bias_weight()

    def call(self, inputs):
        x, edges = inputs
        nodes = ops.shape(x)[0]
        edges = ops.cast(edges, "int32")
        source, target = edges[:, 0], edges[:, 1]
        total = ops.segment_sum(ops.take(x, source, axis=0), target, num_segments=nodes)
        count = ops.segment_sum(ops.ones_like(target, dtype=x.dtype), target, num_segments=nodes)
        mean = total / ops.maximum(count, 1.0)[:, None]
        return self.finish(ops.matmul(x, ops.cast(self.kernel, x.dtype))
                           + ops.matmul(mean, ops.cast(self.neighbour_kernel, x.dtype)))


def _check(features, classes, classifier_activation, hidden_units, dropout, l2):
    _checks.positive_int("features", features)
    _checks.classifier_head(classes, classifier_activation)
    _checks.positive_int("hidden_units", hidden_units)
    _checks.fraction("dropout", dropout)
    _checks.positive_float("l2", l2, allow_zero=True)


def _inputs(features):
    return (keras.Input(shape=(features,), name="features"),
            keras.Input(shape=(2,), dtype="int32", name="edges"))


def _two_layers(features, first, second, dropout, classifier_activation, name):
    """The shape all three share: dropout -> ``first`` -> dropout -> ``second`` -> the float32 activation."""
    x_in, edges = inputs = _inputs(features)
    x = layers.Dropout(dropout, name="input_dropout")(x_in)
    x = first([x, edges])
    x = layers.Dropout(dropout, name="hidden_dropout")(x)
    x = second([x, edges])
    outputs = layers.Activation(classifier_activation or "linear", dtype="float32", name="predictions")(x)
    return keras.Model(list(inputs), outputs, name=name)


@register(task="node_classification", input_kind="graph")
def gcn(features=1433, classes=7, hidden_units=16, dropout=0.5, l2=2.5e-4, classifier_activation="softmax",
        name="gcn"):
    """GCN (Kipf & Welling, 2017): two graph convolutions; features [N, F] + edges [E, 2] -> [N, classes].

    The defaults are the paper's for Cora: 16 hidden units, ReLU, dropout 0.5
    before each convolution, L2 on the first convolution's kernel (Keras'
    ``L2(l2)`` adds ``l2 * sum(w ** 2)``; the paper's 5e-4 multiplies
    ``tf.nn.l2_loss``, half that sum: hence 2.5e-4).
    """
    _check(features, classes, classifier_activation, hidden_units, dropout, l2)
    return _two_layers(features,
                       GCNConv(hidden_units, activation="relu", kernel_regularizer=regularizer(0.0, l2), name="gcn_1"),
                       GCNConv(classes, name="gcn_2"), dropout, classifier_activation, name)


@register(task="node_classification", input_kind="graph")
def gat(features=1433, classes=7, hidden_units=8, heads=8, output_heads=1, dropout=0.6, l2=2.5e-4,
        classifier_activation="softmax", name="gat"):
    """GAT (Velickovic et al., 2018): attention heads, concatenated, ELU; an averaged output layer.

    The defaults are the paper's for Cora: 8 heads of 8 units, dropout 0.6 on
    each layer's input and on the attention coefficients, L2 on the kernels
    (2.5e-4 in Keras' terms: the paper's 5e-4 on half the squared sum), one
    output head.
    """
    _check(features, classes, classifier_activation, hidden_units, dropout, l2)
    _checks.positive_int("heads", heads)
    _checks.positive_int("output_heads", output_heads)
    return _two_layers(features,
                       GATConv(hidden_units, heads=heads, concat=True, attention_dropout=dropout, activation="elu",
                               kernel_regularizer=regularizer(0.0, l2), name="gat_1"),
                       GATConv(classes, heads=output_heads, concat=False, attention_dropout=dropout,
                               kernel_regularizer=regularizer(0.0, l2), name="gat_2"),
                       dropout, classifier_activation, name)


@register(task="node_classification", input_kind="graph")
def graphsage(features=1433, classes=7, hidden_units=16, dropout=0.5, l2=2.5e-4, classifier_activation="softmax",
              name="graphsage"):
    """GraphSAGE (Hamilton et al., 2017), mean aggregator: features [N, F] + edges [E, 2] -> [N, classes]."""
    _check(features, classes, classifier_activation, hidden_units, dropout, l2)
    return _two_layers(features,
                       SAGEConv(hidden_units, activation="relu", kernel_regularizer=regularizer(0.0, l2),
                                name="sage_1"),
                       SAGEConv(classes, name="sage_2"), dropout, classifier_activation, name)

"""The zoo's graph networks: hand-computed layers on a 4-node graph, node-order equivariance, parameter counts."""

import numpy as np
import pytest

import zoo
from zoo.graph import GATConv, GCNConv, SAGEConv

# A path 0 - 1 - 2 - 3, each undirected edge listed both ways.
EDGES = np.array([[0, 1], [1, 0], [1, 2], [2, 1], [2, 3], [3, 2]], "int32")


def dense_adjacency(edges, nodes):
    a = np.zeros((nodes, nodes))
    for source, target in edges:
        a[target, source] += 1
    return a


def test_gcn_is_the_symmetrically_normalised_adjacency_with_self_loops():
    layer = GCNConv(4, use_bias=False)
    x = np.eye(4, dtype="float32")
    layer.build([(4, 4), (6, 2)])
    layer.kernel.assign(np.eye(4))
    a = dense_adjacency(EDGES, 4) + np.eye(4)
    degree = a.sum(axis=1)  # 2, 3, 3, 2
    expected = a / np.sqrt(np.outer(degree, degree))
    np.testing.assert_allclose(np.asarray(layer([x, EDGES])), expected @ x, rtol=1e-6)
    assert expected[0, 1] == pytest.approx(1 / np.sqrt(6)) and expected[0, 0] == pytest.approx(1 / 2)


def test_gat_attention_sums_to_one_over_each_neighbourhood_and_itself():
    layer = GATConv(3, heads=2)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    layer([x, EDGES])
    h, source, target, alpha = (np.asarray(t) for t in layer.attention(x, EDGES))
    assert alpha.shape == (6 + 4, 2)  # every edge and one self loop per node, per head
    for node in range(4):
        into = target == node
        np.testing.assert_allclose(alpha[into].sum(axis=0), [1.0, 1.0], rtol=1e-6)
        assert node in source[into]  # the node attends to itself
    # A node with one neighbour (node 0) splits its attention between that neighbour and itself.
    assert sorted(source[target == 0].tolist()) == [0, 1]


def test_sage_adds_its_own_transform_to_the_mean_of_its_neighbours():
    layer = SAGEConv(2, use_bias=False)
    x = np.arange(8, dtype="float32").reshape(4, 2)
    layer.build([(4, 2), (6, 2)])
    w_self, w_neighbour = np.eye(2), 2 * np.eye(2)
    layer.kernel.assign(w_self)
    layer.neighbour_kernel.assign(w_neighbour)
    a = dense_adjacency(EDGES, 4)
    mean = (a @ x) / a.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(layer([x, EDGES])), x @ w_self + mean @ w_neighbour, rtol=1e-6)


@pytest.mark.parametrize("name", ["gcn", "gat", "graphsage"])
def test_permuting_the_nodes_permutes_the_outputs(name):
    model = zoo.build(name, features=6, classes=3)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 6)).astype("float32")
    edges = np.array([[0, 1], [1, 0], [1, 2], [2, 1], [3, 4], [4, 3], [5, 6], [6, 5], [2, 6], [6, 2], [0, 0]],
                     "int32")
    order = rng.permutation(7)  # node order[i] of the old numbering is node i of the new one
    new_id = np.argsort(order)
    out = np.asarray(model([x, edges], training=False))
    permuted = np.asarray(model([x[order], new_id[edges].astype("int32")], training=False))
    np.testing.assert_allclose(permuted, out[order], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, expected", [
    ("gcn", 1433 * 16 + 16 + 16 * 7 + 7),                              # Kipf & Welling's Cora GCN
    ("gat", (1433 * 64 + 2 * 64 + 64) + (64 * 7 + 2 * 7 + 7)),         # 8 heads of 8, then one head (PyG: 92,373)
    ("graphsage", 2 * 1433 * 16 + 16 + 2 * 16 * 7 + 7),                # self and neighbour kernels per layer
])
def test_graph_parameter_counts(name, expected):
    assert zoo.build(name).count_params() == expected


def test_no_dense_adjacency_in_memory_on_a_large_graph():
    """100,000 nodes and 1,000,000 edges: an N x N float32 matrix would be 40 GB."""
    rng = np.random.default_rng(0)
    nodes, edges = 100_000, 1_000_000
    model = zoo.build("gcn", features=16, classes=4)
    out = model([rng.random((nodes, 16), dtype=np.float32), rng.integers(0, nodes, (edges, 2)).astype("int32")])
    assert out.shape == (nodes, 4)

"""Node classification on a graph, end to end: GCN, GAT or GraphSAGE against feature-only and graph-only baselines.

    python -m applications.graphs --data ../shared/data/graphs/cora/cora.npz          # GCN on Cora
    python -m applications.graphs --data cora.npz --model gat --repeat 10
    python -m applications.graphs --nodes nodes.csv.gz --edges edges.csv --export

Data: ``--data`` an NPZ holding ``features`` [N, F], ``labels`` [N] and
``edges`` [E, 2] (both directions listed), with optional ``train_mask``,
``val_mask`` and ``test_mask``; or ``--nodes`` a table (CSV/TSV, gzipped
or not) with a node id column (``--node-column``, default ``node``), a label
column (``--label-column``, any values), an optional split column
(``--split-column``: train / val / test) and features in every other numeric
column, with ``--edges`` a table of ``source,target`` node ids, each
undirected edge once (``--directed``: as listed). Splits: the file's masks or
split column, else Planetoid's recipe (``--per-class`` training nodes of each
class, then ``--validation`` and ``--test`` nodes, drawn with ``--seed``).

The whole graph is one batch (one optimiser step an epoch); the loss is over
the training nodes only (the model's forecast for every node, then the
training nodes taken from it). Early stopping watches the validation nodes'
loss. Every run scores, on the same test nodes: the model, logistic
regression on the features alone, the zoo's ``mlp`` on the features alone,
and label propagation over the graph alone (Zhou et al. 2004); and plots a 2-D
PCA of the first layer's node embeddings coloured by class. ``--repeat K``
runs seeds 0..K-1 and reports mean +- std. The export takes ``features``
[N, F] and ``edges`` [E, 2] of any graph with the same features and returns
``probabilities`` [N, classes] and ``class_id`` [N].
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import keras
import numpy as np

import zoo
from applications.kit import cli, data, errors, reporting
from applications.kit.run import ClassificationTask, Prepared, Serving, build_model, main_for, run


def graph_models() -> list[str]:
    return zoo.names(task="node_classification")


# ------------------------------------------------------------------------ data

@dataclass
class Graph:
    features: np.ndarray          # [N, F] float32
    labels: np.ndarray            # [N] class ids
    edges: np.ndarray             # [E, 2] int32 (source, target)
    names: list                   # class names, by id
    splits: dict | None           # {"train"|"validation"|"test": bool [N]} from the file, or None
    source: str
    notes: list = field(default_factory=list)


def load_npz_graph(path) -> Graph:
    try:
        archive = np.load(path, allow_pickle=False)  # (never a pickle)
    except (OSError, ValueError) as err:
        raise errors.DataError(f"--data {path}: cannot read it as an NPZ ({errors.first_line(err)})") from None
    missing = [key for key in ("features", "labels", "edges") if key not in archive.files]
    if missing:
        raise errors.DataError(f"--data {path} has no {', '.join(missing)} (it has {', '.join(archive.files)}): a "
                               "graph NPZ holds features [N, F], labels [N] and edges [E, 2]")
    labels = archive["labels"]
    names, ids = np.unique(labels, return_inverse=True)
    masks = {part: archive[key].astype(bool) for part, key in
             (("train", "train_mask"), ("validation", "val_mask"), ("test", "test_mask")) if key in archive.files}
    return Graph(np.asarray(archive["features"], "float32"), ids, np.asarray(archive["edges"]),
                 [str(n) for n in names], masks if len(masks) == 3 else None, f"NPZ graph {path}")


def load_csv_graph(args) -> Graph:
    import pandas as pd

    nodes = data.read_table(args.nodes, None)
    for option, column in (("--node-column", args.node_column), ("--label-column", args.label_column)):
        if column not in nodes.columns:
            raise errors.DataError(f"{args.nodes} has no column {column!r} ({option}); its columns: "
                                   f"{', '.join(map(str, nodes.columns[:10]))}")
    split = args.split_column if args.split_column in nodes.columns else None
    taken = {args.node_column, args.label_column, split}
    features = [c for c in nodes.columns if c not in taken and pd.api.types.is_numeric_dtype(nodes[c])]
    if not features:
        raise errors.DataError(f"{args.nodes} has no numeric feature column besides {args.node_column!r} and "
                               f"{args.label_column!r}: give each node's features as numeric columns")
    ids = nodes[args.node_column].astype(str).to_numpy()
    if len(set(ids)) < len(ids):
        raise errors.DataError(f"{args.nodes}: node ids repeat in column {args.node_column!r}; each node once")
    index = {node: i for i, node in enumerate(ids)}
    table = data.read_table(args.edges, None)
    for column in (args.source_column, args.target_column):
        if column not in table.columns:
            raise errors.DataError(f"{args.edges} has no column {column!r} (--source-column/--target-column); "
                                   f"its columns: {', '.join(map(str, table.columns[:10]))}")
    pairs = table[[args.source_column, args.target_column]].astype(str).to_numpy()
    unknown = [(row, node) for row, pair in enumerate(pairs) for node in pair if node not in index]
    if unknown:
        row, node = unknown[0]
        raise errors.DataError(f"{args.edges} row {row + 1} names node {node!r}, which is not in {args.nodes} "
                               f"({len(unknown)} such ends in all)")
    edges = np.array([[index[a], index[b]] for a, b in pairs], "int64").reshape(-1, 2)
    if not args.directed:
        edges = np.concatenate([edges, edges[:, ::-1]])
    names, labels = np.unique(nodes[args.label_column].astype(str).to_numpy(), return_inverse=True)
    splits = None
    if split:
        values = nodes[split].astype(str).str.lower().to_numpy()
        splits = {"train": values == "train", "validation": np.isin(values, ("val", "validation")),
                  "test": values == "test"}
    return Graph(nodes[features].to_numpy("float32"), labels, edges, list(names), splits,
                 f"nodes {args.nodes}, edges {args.edges}")


def check_graph(graph: Graph) -> list[str]:
    """One-line errors for a graph no model can use; notes counting what is accepted (self loops, repeats)."""
    nodes = len(graph.features)
    if nodes < 2:
        raise errors.DataError(f"{graph.source} has {nodes} node(s): a graph to classify needs 2 or more")
    if len(graph.labels) != nodes:
        raise errors.DataError(f"{graph.source}: {len(graph.labels)} labels for {nodes} nodes; one label per node")
    data.check_finite(graph.features, "the node features")
    edges = graph.edges
    if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
        raise errors.DataError(f"{graph.source}: edges must be integer pairs [E, 2], got {edges.dtype} "
                               f"{list(edges.shape)}")
    outside = (edges < 0) | (edges >= nodes)
    if outside.any():
        row = int(np.argwhere(outside)[0][0])
        raise errors.DataError(f"{graph.source}: edge {row} ({edges[row, 0]}, {edges[row, 1]}) names a node that "
                               f"does not exist (nodes are 0..{nodes - 1})")
    loops = int((edges[:, 0] == edges[:, 1]).sum())
    repeats = len(edges) - len(np.unique(edges, axis=0))
    return [f"{nodes} nodes, {len(edges)} directed edges ({loops} self loops, {repeats} repeated: kept), "
            f"{graph.features.shape[1]} features, {len(graph.names)} classes"]


def planetoid_split(labels, classes, per_class, validation, test, seed) -> dict:
    """Planetoid's recipe: ``per_class`` training nodes of each class, then ``validation`` and ``test`` nodes of
    the rest, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    masks = {part: np.zeros(len(labels), bool) for part in ("train", "validation", "test")}
    for c in range(classes):
        members = np.flatnonzero(labels == c)
        masks["train"][rng.choice(members, min(per_class, len(members)), replace=False)] = True
    rest = rng.permutation(np.flatnonzero(~masks["train"]))
    masks["validation"][rest[:validation]] = True
    masks["test"][rest[validation:validation + test]] = True
    return masks


# ----------------------------------------------------------------- baselines

def label_propagation(edges, nodes, train, labels, classes, alpha=0.99, steps=50) -> np.ndarray:
    """Zhou et al.'s label spreading over the graph alone: ``F <- alpha S F + (1 - alpha) Y`` with the
    symmetrically normalised adjacency ``S`` (scipy sparse); class scores per node."""
    from scipy import sparse

    a = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 1], edges[:, 0])), shape=(nodes, nodes)).tocsr()
    degree = np.asarray(a.sum(axis=1)).ravel()
    scale = sparse.diags(1 / np.sqrt(np.maximum(degree, 1)))
    s = scale @ a @ scale
    seeds = np.zeros((nodes, classes))
    seeds[np.flatnonzero(train), labels[train]] = 1
    scores = seeds.copy()
    for _ in range(steps):
        scores = alpha * (s @ scores) + (1 - alpha) * seeds
    return scores


def feature_baselines(graph: Graph, masks: dict, args) -> dict:
    """Test accuracy of logistic regression and of the zoo's ``mlp`` on the node features alone."""
    from sklearn.linear_model import LogisticRegression

    x, y = graph.features, graph.labels
    train, validation, test = masks["train"], masks["validation"], masks["test"]
    logistic = LogisticRegression(max_iter=2000).fit(x[train], y[train])
    mlp = zoo.build("mlp", input_shape=(x.shape[1],), classes=len(graph.names), depth=1, width=16, dropout=0.5)
    mlp.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    mlp.fit(x[train], y[train], validation_data=(x[validation], y[validation]), epochs=args.epochs,
            batch_size=int(train.sum()), callbacks=[stop], verbose=0)
    return {"logistic regression (features only)": float((logistic.predict(x[test]) == y[test]).mean()),
            "mlp (features only)": float((reporting.predict(mlp, x[test]).argmax(-1) == y[test]).mean())}


# ----------------------------------------------------------------------- the task

@keras.saving.register_keras_serializable(package="graphs")
class TakeNodes(keras.layers.Layer):
    """``[probabilities [N, C], nodes [M]]`` -> ``[M, C]``: the rows of the nodes a loss is taken over."""

    def call(self, inputs):
        values, nodes = inputs
        return keras.ops.take(values, keras.ops.cast(nodes, "int32"), axis=0)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[1][0], input_shapes[0][-1])


@keras.saving.register_keras_serializable(package="graphs")
class RowNormalise(keras.layers.Layer):
    """Each node's features divided by their sum (Kipf & Welling's preprocessing of bag-of-words features); a row
    summing to 0 stays 0."""

    def call(self, features):
        total = keras.ops.sum(features, axis=-1, keepdims=True)
        return features / keras.ops.where(keras.ops.equal(total, 0), keras.ops.ones_like(total), total)


@dataclass
class GraphData(Prepared):
    """The kit's ``Prepared`` (``train`` etc. are ``(node ids, class ids)``) plus the graph itself."""

    graph: Graph = None
    masks: dict = None

    @property
    def fingerprint_arrays(self):
        return (self.graph.features, self.graph.edges)


class Graphs(ClassificationTask):
    name = "graph"
    description = ("Classify the nodes of a graph with GCN, GAT or GraphSAGE, against feature-only and "
                   "graph-only baselines.")
    defaults = {"epochs": 200, "batch_size": 1, "learning_rate": 0.01, "schedule": "constant"}  # Kipf & Welling's
    aliases = {"sage": "graphsage"}
    default_model = "gcn"
    patience = 20
    cross_validates = False

    @property
    def models(self):
        return graph_models()

    def add_arguments(self, parser):
        parser.add_argument("--data", help="an NPZ graph: features [N, F], labels [N], edges [E, 2] (+ masks)")
        parser.add_argument("--nodes", help="a node table: id, label, [split], numeric features (CSV/TSV, .gz)")
        parser.add_argument("--edges", help="an edge table: source, target node ids (with --nodes)")
        parser.add_argument("--node-column", default="node", help="(default: node)")
        parser.add_argument("--label-column", default="label", help="(default: label)")
        parser.add_argument("--split-column", default="split", help="train/val/test per node, if present "
                                                                    "(default: split)")
        parser.add_argument("--source-column", default="source", help="(default: source)")
        parser.add_argument("--target-column", default="target", help="(default: target)")
        parser.add_argument("--directed", action="store_true",
                            help="take the edge table as directed (default: each row is an undirected edge)")
        parser.add_argument("--per-class", type=cli.positive_int, default=20,
                            help="without a split in the file: training nodes per class (default: 20)")
        parser.add_argument("--validation", type=cli.positive_int, default=500, help="(default: 500)")
        parser.add_argument("--test", type=cli.positive_int, default=1000, help="(default: 1000)")
        parser.add_argument("--feature-scaling", choices=("row", "none"), default="row",
                            help="row: divide each node's features by their sum, inside the model (Kipf & "
                                 "Welling's preprocessing of word counts; needs features >= 0); none: as they are "
                                 "(default: row)")
        parser.add_argument("--repeat", type=cli.positive_int, metavar="K",
                            help="run seeds 0..K-1 (each its own run folder) and report mean +- std")

    def load(self, args) -> Prepared:
        if not args.data and not (args.nodes and args.edges):
            raise errors.UsageError("give a graph: --data graph.npz, or --nodes NODES --edges EDGES "
                                    "(Cora: ../shared/data/graphs/cora/cora.npz)")
        if args.data and (args.nodes or args.edges):
            raise errors.UsageError("give --data or --nodes/--edges, not both")
        graph = load_npz_graph(args.data) if args.data else load_csv_graph(args)
        notes = check_graph(graph)
        if args.feature_scaling == "row" and (graph.features < 0).any():
            raise errors.DataError(f"{graph.source}: --feature-scaling row divides each node's features by their "
                                   "sum, but some features are negative: pass --feature-scaling none")
        classes = len(graph.names)
        if graph.splits is not None:
            masks, how = graph.splits, "the file's split"
        else:
            masks = planetoid_split(graph.labels, classes, args.per_class, args.validation, args.test, args.seed)
            how = f"Planetoid-style, seed {args.seed}: {args.per_class} per class"
        train_classes = np.bincount(graph.labels[masks["train"]], minlength=classes)
        if (train_classes == 0).any():
            missing = graph.names[int(np.argmin(train_classes))]
            raise errors.DataError(f"no training node has class {missing!r}: the split must label at least one "
                                   "node of every class for training")
        for part in ("validation", "test"):
            if not masks[part].any():
                raise errors.DataError(f"the split has no {part} node")
        parts = {part: (np.flatnonzero(mask).astype("int32"), graph.labels[mask]) for part, mask in masks.items()}
        sizes = {part: int(mask.sum()) for part, mask in masks.items()}
        notes.append(f"split ({how}): {sizes['train']} training / {sizes['validation']} validation / "
                     f"{sizes['test']} test nodes")
        return GraphData(train=parts["train"], validation=parts["validation"], test=parts["test"],
                         source=graph.source, notes=[*graph.notes, *notes], graph=graph, masks=masks,
                         info={"labels": graph.names, "features": int(graph.features.shape[1]),
                               "nodes": len(graph.features), "edges": len(graph.edges),
                               "split": {"kind": "file" if graph.splits is not None else "planetoid", **sizes}})

    def datasets(self, args, prepared):
        import tensorflow as tf

        features = tf.constant(prepared.graph.features)
        edges = tf.constant(prepared.graph.edges.astype("int32"))

        def whole_graph(part):
            nodes, labels = part
            return tf.data.Dataset.from_tensors(((features, edges, tf.constant(nodes)), tf.constant(labels)))

        return whole_graph(prepared.train), whole_graph(prepared.validation)

    def build(self, args, prepared) -> keras.Model:
        """(features, edges) -> zoo graph network -> class probabilities of every node -> the given nodes' rows."""
        info = prepared.info
        network = build_model(args, features=info["features"], classes=len(info["labels"]))
        features = keras.Input(shape=(info["features"],), name="features")
        edges = keras.Input(shape=(2,), dtype="int32", name="edges")
        nodes = keras.Input(shape=(), dtype="int32", name="nodes")
        x = RowNormalise(name="row_normalise")(features) if args.feature_scaling == "row" else features
        probabilities = network([x, edges])
        return keras.Model([features, edges, nodes], TakeNodes(name="take_nodes")([probabilities, nodes]),
                           name=f"graph_{args.model}")

    def evaluate(self, model, prepared, args, run_dir) -> dict:
        graph, masks = prepared.graph, prepared.masks
        network = node_classifier(model, args.model)
        probabilities = np.asarray(network([graph.features, graph.edges.astype("int32")], training=False))
        test = masks["test"]
        metrics = reporting.classification_metrics(graph.labels[test], probabilities[test].argmax(-1), graph.names)
        reporting.plot_confusion_matrix(metrics["confusion_matrix"], graph.names, run_dir / "confusion_matrix.png")
        baselines = feature_baselines(graph, masks, args)
        spread = label_propagation(graph.edges, len(graph.features), masks["train"], graph.labels, len(graph.names))
        baselines["label propagation (graph only)"] = float((spread[test].argmax(-1) == graph.labels[test]).mean())
        print(f"  model ({args.model})" + " " * max(1, 36 - len(args.model)) +
              f"test accuracy {metrics['test_accuracy']:.4f}")
        for name, accuracy in baselines.items():
            print(f"  {name:44s} test accuracy {accuracy:.4f}")
        plot_embeddings(model.get_layer(args.model), graph, run_dir / "embeddings.png")
        return {**metrics, "baselines": baselines}

    def serving(self, model, prepared, args) -> Serving:
        info = prepared.info
        network = node_classifier(model, args.model)
        fn, signature = serving_signature(network, info["features"])
        graph = prepared.graph
        few = np.arange(min(5, len(graph.features)))
        inside = np.isin(graph.edges, few).all(axis=1)
        example_edges = graph.edges[inside][:20]
        return Serving(fn, signature, track=network, metadata={
            "inputs": {"features": {"dtype": "float32", "shape": [-1, info["features"]]},
                       "edges": {"dtype": "int64", "shape": [-1, 2]}},
            "outputs": {"probabilities": [-1, len(info["labels"])], "class_id": [-1], "labels": info["labels"]},
            "request_formats": ["inputs"], "batch_input": "features",
            "example_request": {"inputs": {"features": graph.features[few].tolist(),
                                           "edges": example_edges.tolist() or [[0, 1], [1, 0]]}},
        })


def node_classifier(model, name) -> keras.Model:
    """(features, edges) -> probabilities of every node: the trained model without its ``nodes`` input."""
    features, edges, _ = model.inputs
    x = model.get_layer("row_normalise")(features) if any(l.name == "row_normalise" for l in model.layers) \
        else features
    network = model.get_layer(name)
    return keras.Model([features, edges], network([x, edges]), name=f"{name}_nodes")


def serving_signature(network, features):
    """``serving_default``: features [N, F] float32 and edges [E, 2] int64 -> probabilities [N, C], class_id [N]."""
    import tensorflow as tf

    def serve(features_, edges):
        nodes = tf.shape(features_, out_type=tf.int64)[0]
        checks = [tf.debugging.assert_non_negative(edges, message="edges must name nodes 0..N-1"),
                  tf.debugging.assert_less(edges, nodes, message="an edge names a node beyond the features' rows")]
        with tf.control_dependencies(checks):
            probabilities = tf.cast(network([features_, tf.cast(edges, tf.int32)], training=False), tf.float32)
        return {"probabilities": probabilities, "class_id": tf.argmax(probabilities, axis=-1)}

    return serve, [tf.TensorSpec([None, features], tf.float32, name="features"),
                   tf.TensorSpec([None, 2], tf.int64, name="edges")]


def plot_embeddings(network, graph: Graph, path) -> None:
    """The first graph layer's output for every node, reduced to 2-D by PCA, coloured by class."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    first = next(layer for layer in network.layers if type(layer).__module__ == "zoo.graph")  # GCNConv, GATConv...
    hidden = keras.Model(network.inputs, first.output)
    embedding = np.asarray(hidden([graph.features, graph.edges.astype("int32")], training=False), "float32")
    points = PCA(n_components=2).fit_transform(embedding)
    figure, axis = plt.subplots(figsize=(6, 5))
    scatter = axis.scatter(points[:, 0], points[:, 1], c=graph.labels, s=6, cmap="tab10")
    axis.legend(*scatter.legend_elements(), title="class", fontsize=7, loc="best")
    axis.set(title=f"{network.name}: node embeddings ({first.name}), PCA", xticks=[], yticks=[])
    reporting.save_figure(figure, path)


def repeat_main(argv) -> int:
    """``--repeat K``: the run for seeds 0..K-1, then the mean +- std of each test accuracy."""
    import json
    import pathlib

    args = parse(argv)
    rest = [a for i, a in enumerate(argv) if a != "--repeat" and (i == 0 or argv[i - 1] != "--repeat")
            and not a.startswith("--repeat=")]
    rows = []
    for seed in range(args.repeat):
        code = run(TASK, [*rest, "--seed", str(seed)])
        if code:
            return code
        run_dir = max(pathlib.Path(args.output, TASK.name).glob("2*"), key=lambda p: p.stat().st_mtime)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        rows.append({"model": metrics["test_accuracy"], **metrics["baselines"]})
    print(f"\n{args.repeat} seeds, test accuracy mean +- std:")
    for name in rows[0]:
        values = np.array([row[name] for row in rows])
        print(f"  {name if name != 'model' else f'model ({args.model})':44s} {values.mean():.4f} +- "
              f"{values.std(ddof=1) if len(values) > 1 else 0.0:.4f}")
    return 0


TASK = Graphs()
_main = main_for(TASK)


def parse(argv):
    from applications.kit.run import parse_args

    return parse_args(TASK, argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--repeat" or a.startswith("--repeat=") for a in argv):
        return repeat_main(argv)
    return _main(argv)


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-graph"))

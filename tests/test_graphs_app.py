"""The node-classification application: Cora above its baselines, the export on another graph, bad input."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA, assert_one_line_error, run_in_process

CORA = SHARED_DATA / "graphs" / "cora" / "cora.npz"


@pytest.fixture(scope="module")
def cora_run(tmp_path_factory):
    if not CORA.exists():
        pytest.skip(f"{CORA} is absent (real data kept beside the project, not part of a fresh clone)")
    from applications.graphs import main

    work = tmp_path_factory.mktemp("graph")
    code, out, err = run_in_process(main, "--data", CORA, "--epochs", "40",
                                    "--verbose", "0", "--output", work / "runs", "--export",
                                    "--export-dir", work / "exports")
    assert code == 0, out + err
    return work, next((work / "runs" / "graph").glob("2*")), out


def test_gcn_on_cora_beats_the_feature_only_mlp_at_the_same_budget(cora_run):
    _, run_dir, out = cora_run
    assert "2708 nodes, 10556 directed edges (0 self loops, 0 repeated: kept), 1433 features, 7 classes" in out
    assert "split (the file's split): 140 training / 500 validation / 1000 test nodes" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    baselines = metrics["baselines"]
    # 40 epochs (the MLP gets as many): the graph lifts GCN far above the features alone (0.55 here).
    assert metrics["test_accuracy"] > baselines["mlp (features only)"] + 0.1
    assert metrics["test_accuracy"] > 0.7
    assert baselines["label propagation (graph only)"] > 0.6  # the graph alone carries the labels too
    assert (run_dir / "embeddings.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # a fresh process loading TensorFlow
def test_the_export_labels_the_nodes_of_another_graph_in_a_fresh_process(cora_run):
    work, _, _ = cora_run
    export = work / "exports" / "graph" / "1"
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
        rng = np.random.default_rng(0)
        features = (rng.random((4, 1433)) < 0.02).astype("float32")
        edges = np.array([[0, 1], [1, 0], [2, 3], [3, 2], [1, 2]], "int64")
        out = serve(features=tf.constant(features), edges=tf.constant(edges))
        print(json.dumps({{"p": out["probabilities"].numpy().tolist(), "c": out["class_id"].numpy().tolist()}}))
    """)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout.strip().splitlines()[-1])
    p = np.array(answer["p"])
    assert p.shape == (4, 7) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert answer["c"] == p.argmax(axis=1).tolist()


def small_graph(tmp_path, nodes=None, edges=None):
    """Two classes of 12 nodes; features say the class (noisily); edges within the classes."""
    rng = np.random.default_rng(0)
    if nodes is None:
        labels = np.repeat(["a", "b"], 12)
        nodes = pd.DataFrame({"node": [f"n{i}" for i in range(24)], "label": labels,
                              "f0": (labels == "a") + rng.random(24), "f1": rng.random(24)})
    if edges is None:
        edges = pd.DataFrame({"source": [f"n{i}" for i in range(23) if i != 11],
                              "target": [f"n{i + 1}" for i in range(23) if i != 11]})
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    edges.to_csv(tmp_path / "edges.csv", index=False)
    return ["--nodes", tmp_path / "nodes.csv", "--edges", tmp_path / "edges.csv"]


def test_a_csv_graph_with_repeats_and_self_loops_trains_and_counts_them(tmp_path, capsys):
    from applications.graphs import main

    edges = pd.DataFrame({"source": ["n0", "n0", "n3", "n13"], "target": ["n1", "n1", "n3", "n14"]})
    code, out, err = run_in_process(main, *small_graph(tmp_path, edges=edges), "--per-class", "3",
                                    "--validation", "6", "--test", "10", "--epochs", "3", "--verbose", "0",
                                    "--output", tmp_path / "runs", capsys=capsys)
    assert code == 0, err
    assert "24 nodes, 8 directed edges (2 self loops, 3 repeated: kept), 2 features, 2 classes" in out
    assert "Planetoid-style, seed 42: 3 per class): 6 training / 6 validation / 10 test nodes" in out


@pytest.mark.parametrize("change, message", [
    ("unknown node", "row 2 names node 'ghost', which is not in"),
    ("no features", "has no numeric feature column besides 'node' and 'label'"),
    ("no labels", "has no column 'label' (--label-column)"),
    ("nan feature", "the node features"),
    ("one node", "has 1 node(s): a graph to classify needs 2 or more"),
    ("class without training node", "no training node has class 'b'"),
])
def test_bad_graphs_are_one_line_errors(change, message, tmp_path, capsys):
    from applications.graphs import main

    labels = np.repeat(["a", "b"], 12)
    nodes = pd.DataFrame({"node": [f"n{i}" for i in range(24)], "label": labels, "f0": np.arange(24.0)})
    edges = pd.DataFrame({"source": ["n0", "n1"], "target": ["n1", "n2"]})
    extra = []
    if change == "unknown node":
        edges.loc[1, "target"] = "ghost"
    elif change == "no features":
        nodes = nodes.drop(columns="f0")
    elif change == "no labels":
        nodes = nodes.drop(columns="label")
    elif change == "nan feature":
        nodes.loc[3, "f0"] = np.nan
    elif change == "one node":
        nodes, edges = nodes.head(1), pd.DataFrame({"source": ["n0"], "target": ["n0"]})
    else:
        nodes["split"] = np.where(np.arange(24) < 4, "train", np.where(np.arange(24) < 12, "val", "test"))
    code, out, err = run_in_process(main, *small_graph(tmp_path, nodes, edges), *extra, "--epochs", "1",
                                    "--output", tmp_path / "runs", capsys=capsys)
    assert_one_line_error(code, err, message)


def test_a_graph_is_required(capsys):
    from applications.graphs import main

    code, out, err = run_in_process(main, capsys=capsys)
    assert_one_line_error(code, err, "give a graph: --data graph.npz, or --nodes NODES --edges EDGES")

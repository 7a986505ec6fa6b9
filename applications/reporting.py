"""What a run writes besides its checkpoints: metrics JSON and PNG plots."""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix (scikit-learn)."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0)
    return {
        "test_accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "per_class": {
            str(label): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def write_json(path, data) -> None:
    pathlib.Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")


def plot_learning_curves(history, path, metric="accuracy") -> None:
    """Loss and ``metric`` per epoch, training and validation side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name in zip(axes, ("loss", metric)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + name in history:
                ax.plot(history["epoch"] + 1, history[prefix + name], style,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion_matrix(matrix, labels, path) -> None:
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, count, ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black", fontsize=8)
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

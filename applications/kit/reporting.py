"""What a run writes besides its checkpoints: its folder, metrics JSON and PNG plots."""

from __future__ import annotations

import datetime
import json
import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.layout_engine import TightLayoutEngine  # noqa: E402
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


def predict(model, x, batch_size=512) -> np.ndarray:
    """The model's outputs as float32, by direct calls on slices of ``x``.

    ``Model.predict`` costs about 40 ms a call whatever the batch; this is
    10x faster on small test sets and takes strings as well as numbers.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.number):
        x = x.astype("float32")
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False), dtype="float32")
                           for i in range(0, len(x), batch_size)])


def evaluate_classifier(model, x_test, y_test, labels, run_dir) -> dict:
    """Test accuracy, per-class scores and the confusion matrix (also as ``confusion_matrix.png``)."""
    probabilities = predict(model, x_test)
    metrics = classification_metrics(y_test, probabilities.argmax(axis=-1), labels)
    plot_confusion_matrix(metrics["confusion_matrix"], labels, pathlib.Path(run_dir) / "confusion_matrix.png")
    return metrics


def new_run_dir(output, app: str) -> pathlib.Path:
    """A fresh ``<output>/<app>/<timestamp>/`` folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path(output) / app
    for suffix in [""] + [f"-{i}" for i in range(1, 100)]:
        run_dir = base / f"{stamp}{suffix}"
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
            return run_dir
        except FileExistsError:
            continue
    raise OSError(f"could not create a new run folder under {base}")


def write_json(path, data) -> None:
    """Write ``data`` as JSON, atomically: a reader (or a rerun after a kill) sees the old file or the whole
    new one, never a part. A file's existence marks progress (a finished fold, a run's ``run.json``)."""
    path = pathlib.Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.staging")  # one per process: no two writers share it
    staging.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(staging, path)


def save_figure(fig, path, dpi=100) -> None:
    """Lay ``fig`` out once as ``tight_layout`` would, write it as a PNG and close it.

    ``fig.tight_layout()`` leaves a placeholder layout engine on the figure,
    and ``savefig`` draws a figure that has one twice (once to lay it out,
    once to render it). The engine's ``execute`` sets the same margins and
    leaves none, which spares that draw.
    """
    TightLayoutEngine().execute(fig)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_learning_curves(history, path) -> None:
    """Each logged quantity per epoch (loss first), training and validation on one panel each."""
    names = [c for c in history.columns
             if c not in ("epoch", "learning_rate") and not c.startswith("val_")]
    names = sorted(names, key=lambda n: (n != "loss", n))[:4]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + name in history:
                ax.plot(history["epoch"] + 1, history[prefix + name], style,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_learning_rate(steps, rates, steps_per_epoch, path) -> None:
    """The learning rate at every optimiser step (warm-up, schedule, plateau halvings)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, rates)
    ax.set_xlabel(f"step ({steps_per_epoch} per epoch)")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    save_figure(fig, path)


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
    save_figure(fig, path)


def plot_image_rows(rows: dict, path) -> None:
    """One row of images per entry of ``rows`` (uint8 ``[n, H, W, C]``), titled by its key."""
    count = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), count, figsize=(count * 0.9, len(rows) * 1.0), squeeze=False)
    for r, (title, row) in enumerate(rows.items()):
        for c in range(count):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row):
                image = row[c]
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        axes[r][0].set_title(title, fontsize=8, loc="left")
    save_figure(fig, path, dpi=80)

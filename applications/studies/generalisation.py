"""The studies of generalisation: regularisation, capacity, ensembles."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

import zoo
from applications.kit import reporting
from applications.studies.registry import digits_split, study


@study("ensembles", "Do averaged models beat their members, and do they beat k-nearest neighbours and an RBF SVM?")
def ensembles_study(args, run_dir):
    import matplotlib.pyplot as plt
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    x_train, y_train, x_test, y_test = digits_split(args.seed)
    rows, averaged = [], {}
    for kind in ("seeds", "bagging"):
        probabilities = []
        for member in range(args.members):
            keras.utils.set_random_seed(args.seed + member)
            picks = (np.random.default_rng(args.seed + member).integers(0, len(y_train), len(y_train))
                     if kind == "bagging" else np.arange(len(y_train)))
            model = zoo.build("mlp", input_shape=(64,), classes=10, depth=1, width=32, dropout=0.2)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
            model.fit(x_train[picks], y_train[picks], epochs=args.epochs, batch_size=64, verbose=0)
            probabilities.append(reporting.predict(model, x_test))
            rows.append({"kind": kind, "model": f"member {member + 1}",
                         "test_accuracy": float((probabilities[-1].argmax(-1) == y_test).mean())})
            mean = np.mean(probabilities, axis=0)
            rows.append({"kind": kind, "model": f"ensemble of {member + 1}",
                         "test_accuracy": float((mean.argmax(-1) == y_test).mean())})
        averaged[kind] = rows[-1]["test_accuracy"]
    for name, classifier in (("k-nearest neighbours (k=3)", KNeighborsClassifier(3)), ("RBF SVM", SVC())):
        classifier.fit(x_train, y_train)
        rows.append({"kind": "baseline", "model": name,
                     "test_accuracy": float((classifier.predict(x_test) == y_test).mean())})
    table = pd.DataFrame(rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    for kind, marker in (("seeds", "o"), ("bagging", "s")):
        group = table[(table["kind"] == kind)]
        members = group[group["model"].str.startswith("member")]["test_accuracy"].to_numpy()
        ensembles = group[group["model"].str.startswith("ensemble")]["test_accuracy"].to_numpy()
        sizes = np.arange(1, len(ensembles) + 1)
        axis.plot(sizes, ensembles, marker=marker, label=f"{kind}: ensemble of the first n")
        axis.plot(sizes, members, marker=marker, linestyle=":", alpha=0.6, label=f"{kind}: member n alone")
    for (_, row), style in zip(table[table["kind"] == "baseline"].iterrows(), ("--", "-.")):
        axis.axhline(row["test_accuracy"], linestyle=style, color="grey", label=row["model"])
    axis.set(xlabel="members", ylabel="test accuracy", title="Averaging MLPs on the 8x8 digits")
    axis.legend(fontsize=7)
    reporting.save_figure(figure, run_dir / "ensembles.png")
    member_mean = {kind: float(table[(table["kind"] == kind) & table["model"].str.startswith("member")]
                               ["test_accuracy"].mean()) for kind in ("seeds", "bagging")}
    baselines = table[table["kind"] == "baseline"].set_index("model")["test_accuracy"]
    answer = (f"An ensemble of {args.members} seeds scores {averaged['seeds']:.3f} against {member_mean['seeds']:.3f} "
              f"for its mean member; bagging {averaged['bagging']:.3f} against {member_mean['bagging']:.3f}. "
              f"k-nearest neighbours scores {baselines.iloc[0]:.3f} and the RBF SVM {baselines.iloc[1]:.3f}.")
    setting = (f"{args.members} MLPs of the zoo (one hidden layer of 32, dropout 0.2, Adam 1e-3, {args.epochs} "
               "epochs) per kind: seeds (the same data) and bagging (bootstrap samples); probabilities averaged; "
               "the 8x8 digits; scikit-learn's k-NN (k=3) and SVC (RBF) on the same split.")
    measures = {f"ensemble_{k}": v for k, v in averaged.items()}
    measures.update({f"mean_member_{k}": v for k, v in member_mean.items()})
    measures.update({name: float(v) for name, v in baselines.items()})
    return table, ["ensembles.png"], answer, setting, measures

"""The course's claims as runnable experiments: ``kerazoo-study NAME`` measures one and writes a report.

    python -m applications.studies --list
    python -m applications.studies activations            # runs/studies/activations/<stamp>/report.md
    python -m applications.studies initialisation --epochs 10 --output runs

Each study trains models of the zoo with Keras' ``fit`` on real data (the 8x8
digits that ship with scikit-learn, 1,797 images, a stratified 75/25 split,
unless it needs a toy problem), writes every measurement to ``results.csv``,
draws its figures as PNG files, and writes ``report.md``: the question, the
setting, the figures, and the answer computed from the measurements. Each
default runs in under 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import pandas as pd

import zoo
from applications.kit import cli, errors, reporting, training


@dataclass
class Study:
    name: str
    question: str
    run: Callable        # (args, run_dir) -> (table, figures, answer, setting)


STUDIES: dict[str, Study] = {}


def study(name: str, question: str):
    def register(function):
        STUDIES[name] = Study(name, question, function)
        return function

    return register


def digits_split(seed: int):
    """The 8x8 digits, scaled to [0, 1], stratified 75/25: ``(x_train, y_train, x_test, y_test)``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split((x / 16.0).astype("float32"), y, test_size=0.25,
                                                        stratify=y, random_state=seed)
    return x_train, y_train, x_test, y_test


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense) and layer.name != "logits"]


def gradient_norms(model, x, y) -> list[float]:
    """The norm of the loss gradient with respect to each hidden Dense kernel, first layer first (one batch)."""
    import tensorflow as tf

    kernels = [layer.kernel for layer in dense_layers(model)]
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))
        loss = tf.reduce_mean(loss)
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


# ------------------------------------------------------------------ perceptron

@study("perceptron", "Does Rosenblatt's rule converge on separable data within Novikoff's bound, and never on XOR?")
def perceptron_study(args, run_dir):
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    import matplotlib.pyplot as plt

    iris = load_iris()
    keep = iris.target < 2  # setosa against versicolor: linearly separable
    x = iris.data[keep][:, [0, 1]].astype("float32")
    x = x - x.mean(axis=0)
    y = np.where(iris.target[keep] == 0, -1, 1)
    keras.utils.set_random_seed(args.seed)
    model = zoo.build("perceptron", input_shape=(2,))
    history = model.fit(x, y, epochs=100, batch_size=1, shuffle=True, verbose=0)
    mistakes = history.history["mistakes"]
    # Novikoff: at most (R / gamma)^2 updates, R the largest norm, gamma the margin of the best separating
    # hyperplane; the bias is a weight on a constant input 1, so both are measured on (x, 1).
    augmented = np.hstack([x, np.ones((len(x), 1))])
    svm = SVC(kernel="linear", C=1e6).fit(augmented, y)
    w = svm.coef_.ravel()
    gamma = float(np.min(y * (augmented @ w + svm.intercept_[0])) / np.linalg.norm(w))
    bound = float((np.linalg.norm(augmented, axis=1).max() / gamma) ** 2)
    xor_x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
    xor_y = np.array([-1, 1, 1, -1])
    xor = zoo.build("perceptron", input_shape=(2,))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the perceptron warns that it did not converge: that is the finding
        xor_history = xor.fit(xor_x, xor_y, epochs=50, batch_size=1, verbose=0)
    keras.utils.set_random_seed(args.seed)
    mlp = zoo.build("mlp", input_shape=(2,), classes=2, depth=1, width=8, activation="tanh", initializer="glorot")
    mlp.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    mlp.fit(xor_x, (xor_y > 0).astype(int), epochs=300, batch_size=4, verbose=0)
    mlp_accuracy = float((reporting.predict(mlp, xor_x).argmax(-1) == (xor_y > 0)).mean())

    table = pd.DataFrame({"epoch": range(1, len(mistakes) + 1), "mistakes": mistakes, "problem": "iris (separable)"})
    table = pd.concat([table, pd.DataFrame({"epoch": range(1, len(xor_history.history["mistakes"]) + 1),
                                            "mistakes": xor_history.history["mistakes"], "problem": "xor"})])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for problem, rows in table.groupby("problem"):
        axes[0].plot(rows["epoch"], rows["mistakes"], marker="o", label=problem)
    axes[0].set(xlabel="epoch", ylabel="mistakes", title="Mistakes per epoch")
    axes[0].legend()
    grid = np.stack(np.meshgrid(np.linspace(x[:, 0].min() - 0.5, x[:, 0].max() + 0.5, 200),
                                np.linspace(x[:, 1].min() - 0.5, x[:, 1].max() + 0.5, 200)), -1).reshape(-1, 2)
    axes[1].contourf(grid[:, 0].reshape(200, 200), grid[:, 1].reshape(200, 200),
                     np.asarray(model.predict(grid.astype("float32"), verbose=0)).reshape(200, 200), alpha=0.3)
    axes[1].scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=12)
    axes[1].set(title="Iris (setosa / versicolor): the perceptron's boundary", xlabel="sepal length (centred)",
                ylabel="sepal width (centred)")
    reporting.save_figure(figure, run_dir / "perceptron.png")
    total = int(np.sum(mistakes))
    answer = (f"On the separable set the perceptron made {total} mistakes in all and converged after "
              f"{len(mistakes)} epochs; Novikoff's bound (R/gamma)^2 is {bound:.0f}, so the count is "
              f"{'within' if total <= bound else 'ABOVE'} the bound. On XOR it still made "
              f"{xor_history.history['mistakes'][-1]:.0f} mistakes in its 50th epoch (converged: {xor.converged}); "
              f"an MLP with one hidden layer of 8 tanh units classifies XOR with accuracy {mlp_accuracy:.2f}.")
    measures = {"total_mistakes": total, "novikoff_bound": bound, "xor_converged": bool(xor.converged),
                "xor_last_epoch_mistakes": float(xor_history.history["mistakes"][-1]), "mlp_xor_accuracy": mlp_accuracy}
    setting = ("Rosenblatt's rule (the zoo's `perceptron`, one example at a time, shuffled) on iris' setosa "
               "against versicolor (sepal length and width, centred), and on XOR; the margin from a hard-margin "
               "linear SVM.")
    return table, ["perceptron.png"], answer, setting, measures


# ----------------------------------------------------------------- activations

@study("activations", "Do gradients vanish through a deep stack of sigmoid or tanh layers, and does ReLU keep them?")
def activations_study(args, run_dir):
    import matplotlib.pyplot as plt

    x_train, y_train, x_test, y_test = digits_split(args.seed)
    rows, curves = [], {}
    for activation in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"):
        keras.utils.set_random_seed(args.seed)
        initializer = "he" if activation in ("relu", "leaky_relu", "elu", "gelu") else "glorot"
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=args.depth, width=64, activation=activation,
                          initializer=initializer)
        norms = gradient_norms(model, x_train[:256], y_train[:256])
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs, batch_size=64,
                            verbose=0)
        trained = gradient_norms(model, x_train[:256], y_train[:256])
        curves[activation] = history.history["val_accuracy"]
        for layer, (before, after) in enumerate(zip(norms, trained), start=1):
            rows.append({"activation": activation, "initializer": initializer, "layer": layer,
                         "gradient_norm_at_init": before, "gradient_norm_trained": after,
                         "test_accuracy": history.history["val_accuracy"][-1]})
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for activation, group in table.groupby("activation", sort=False):
        axes[0].semilogy(group["layer"], group["gradient_norm_at_init"], marker="o", label=activation)
        axes[1].plot(range(1, len(curves[activation]) + 1), curves[activation], label=activation)
    axes[0].set(xlabel="layer (1 = next to the input)", ylabel="gradient norm of the kernel",
                title=f"Gradients at initialisation, {args.depth}-layer MLP")
    axes[1].set(xlabel="epoch", ylabel="test accuracy", title="Learning curves (SGD, momentum 0.9)")
    axes[0].legend(fontsize=8)
    reporting.save_figure(figure, run_dir / "activations.png")
    ratio = table.groupby("activation", sort=False).apply(
        lambda g: g["gradient_norm_at_init"].iloc[0] / g["gradient_norm_at_init"].iloc[-1], include_groups=False)
    final = table.groupby("activation", sort=False)["test_accuracy"].first()
    answer = (f"At initialisation the first layer's gradient is {ratio['sigmoid']:.2g} times the last hidden "
              f"layer's with sigmoid and {ratio['tanh']:.2g} with tanh, against {ratio['relu']:.2g} with ReLU: "
              f"{'the sigmoid stack' if ratio['sigmoid'] < 0.1 else 'no stack'} loses its gradient on the way "
              f"down. After {args.epochs} epochs the test accuracy is {final['sigmoid']:.3f} with sigmoid, "
              f"{final['tanh']:.3f} with tanh and {final['relu']:.3f} with ReLU.")
    setting = (f"The zoo's `mlp`, {args.depth} hidden layers of 64, Glorot initialisation for sigmoid and tanh, He "
               f"for the rest; the 8x8 digits (1,347 training, 450 test); SGD 0.05 with momentum 0.9, "
               f"batch 64, {args.epochs} epochs; gradient norms on 256 training images.")
    measures = {f"first_over_last_{k}": float(v) for k, v in ratio.items()}
    measures.update({f"test_accuracy_{k}": float(v) for k, v in final.items()})
    return table, ["activations.png"], answer, setting, measures


# -------------------------------------------------------------- initialisation

@study("initialisation", "Does the initialisation matter: zeros, N(0, 1), Glorot and He, with tanh and ReLU?")
def initialisation_study(args, run_dir):
    import matplotlib.pyplot as plt

    x_train, y_train, x_test, y_test = digits_split(args.seed)
    rows = []
    symmetric = None
    for activation in ("tanh", "relu"):
        for initializer in ("zeros", "normal", "glorot", "he"):
            keras.utils.set_random_seed(args.seed)
            model = zoo.build("mlp", input_shape=(64,), classes=10, depth=args.depth, width=64,
                              activation=activation, initializer=initializer)
            probe = keras.Model(model.inputs, [model.get_layer(f"{activation}_{i}").output
                                               for i in range(1, args.depth + 1)])
            stds = [float(np.std(np.asarray(a))) for a in probe(x_train[:512])]
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
                                batch_size=64, verbose=0)
            if initializer == "zeros" and activation == "tanh":
                kernel = np.asarray(model.get_layer("dense_2").kernel)
                symmetric = float(np.abs(kernel - kernel[:, :1]).max())  # every column (unit) the same?
            for layer, std in enumerate(stds, start=1):
                rows.append({"activation": activation, "initializer": initializer, "layer": layer,
                             "activation_std_at_init": std, "test_accuracy": history.history["val_accuracy"][-1]})
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, activation in zip(axes, ("tanh", "relu")):
        for initializer, group in table[table["activation"] == activation].groupby("initializer", sort=False):
            axis.semilogy(group["layer"], np.maximum(group["activation_std_at_init"], 1e-8), marker="o",
                          label=f"{initializer} ({group['test_accuracy'].iloc[0]:.3f})")
        axis.set(xlabel="layer", ylabel="std of the layer's output", title=f"{activation}: activations at init")
        axis.legend(fontsize=8, title="init (test accuracy)")
    reporting.save_figure(figure, run_dir / "initialisation.png")
    accuracy = table.groupby(["activation", "initializer"])["test_accuracy"].first()
    answer = (f"With zeros every hidden unit of a layer stays identical through training (largest difference "
              f"between units of layer 2 after training: {symmetric:.1e}) and the test accuracy is "
              f"{accuracy['tanh', 'zeros']:.3f} (tanh). Glorot with tanh reaches {accuracy['tanh', 'glorot']:.3f}, "
              f"He with ReLU {accuracy['relu', 'he']:.3f}; N(0, 1) gives {accuracy['tanh', 'normal']:.3f} (tanh, "
              f"saturated units) and {accuracy['relu', 'normal']:.3f} (ReLU, exploding activations).")
    setting = (f"The zoo's `mlp`, {args.depth} hidden layers of 64; the 8x8 digits; Adam 1e-3, batch 64, "
               f"{args.epochs} epochs; activation spread on 512 training images.")
    measures = {"zero_init_unit_difference": symmetric,
                **{f"test_accuracy_{a}_{i}": float(v) for (a, i), v in accuracy.items()}}
    return table, ["initialisation.png"], answer, setting, measures


# ------------------------------------------------------------------ optimisers

OPTIMISERS = {
    "SGD": lambda rate: keras.optimizers.SGD(rate),
    "momentum": lambda rate: keras.optimizers.SGD(rate, momentum=0.9),
    "Nesterov": lambda rate: keras.optimizers.SGD(rate, momentum=0.9, nesterov=True),
    "RMSProp": lambda rate: keras.optimizers.RMSprop(rate),
    "Adam": lambda rate: keras.optimizers.Adam(rate),
    "AdamW": lambda rate: keras.optimizers.AdamW(rate, weight_decay=1e-2),
}
RATES = {"SGD": 0.05, "momentum": 0.05, "Nesterov": 0.05, "RMSProp": 1e-3, "Adam": 1e-3, "AdamW": 1e-3}


def rosenbrock_path(make, steps=300):
    """The optimiser's steps on Rosenbrock's function from (-1.5, 2): a 2-D variable and ``apply_gradients``
    (no model to ``fit`` here); the path and the final value."""
    import tensorflow as tf

    point = tf.Variable([-1.5, 2.0])
    optimizer = make()
    path = [point.numpy().copy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = (1 - point[0]) ** 2 + 100 * (point[1] - point[0] ** 2) ** 2
        optimizer.apply_gradients([(tape.gradient(value, point), point)])
        path.append(point.numpy().copy())
    path = np.array(path)
    return path, float((1 - path[-1, 0]) ** 2 + 100 * (path[-1, 1] - path[-1, 0] ** 2) ** 2)


@study("optimisers", "How do SGD, momentum, Nesterov, RMSProp, Adam and AdamW compare on the same model and data?")
def optimisers_study(args, run_dir):
    import matplotlib.pyplot as plt

    x_train, y_train, x_test, y_test = digits_split(args.seed)
    rows, paths = [], {}
    for name, make in OPTIMISERS.items():
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=64)
        model.compile(optimizer=make(RATES[name]), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs, batch_size=64,
                            verbose=0)
        path_rate = 1e-3 if name in ("SGD", "momentum", "Nesterov") else 0.05
        paths[name], final = rosenbrock_path(lambda: make(path_rate))
        for epoch, (loss, accuracy) in enumerate(zip(history.history["loss"], history.history["val_accuracy"]), 1):
            rows.append({"optimiser": name, "rate": RATES[name], "epoch": epoch, "train_loss": loss,
                         "test_accuracy": accuracy, "rosenbrock_final_value": final})
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, group in table.groupby("optimiser", sort=False):
        axes[0].semilogy(group["epoch"], group["train_loss"], label=f"{name} ({RATES[name]:g})")
    axes[0].set(xlabel="epoch", ylabel="training loss", title="The same MLP, data and seed")
    axes[0].legend(fontsize=8)
    grid_x, grid_y = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    axes[1].contour(grid_x, grid_y, (1 - grid_x) ** 2 + 100 * (grid_y - grid_x ** 2) ** 2,
                    levels=np.logspace(-1, 3.5, 15), cmap="Greys", linewidths=0.6)
    for name, path in paths.items():
        axes[1].plot(path[:, 0], path[:, 1], label=name, linewidth=1.2)
    axes[1].plot([1], [1], "k*", markersize=10)
    axes[1].set(xlim=(-2, 2), ylim=(-1, 3), title="300 steps on Rosenbrock's function from (-1.5, 2)")
    axes[1].legend(fontsize=8)
    reporting.save_figure(figure, run_dir / "optimisers.png")
    last = table.groupby("optimiser", sort=False).last()
    first_below = {name: next((int(e) for e, loss in zip(g["epoch"], g["train_loss"]) if loss < 0.1), None)
                   for name, g in table.groupby("optimiser", sort=False)}
    answer = ("Epochs to a training loss below 0.1: " + ", ".join(
        f"{name} {first_below[name] if first_below[name] else 'never'}" for name in OPTIMISERS) +
        ". Final test accuracy: " + ", ".join(f"{name} {last.loc[name, 'test_accuracy']:.3f}" for name in OPTIMISERS)
        + ". On Rosenbrock, after 300 steps the value left is " + ", ".join(
        f"{name} {last.loc[name, 'rosenbrock_final_value']:.3g}" for name in OPTIMISERS) + ".")
    setting = (f"The zoo's `mlp` (2 hidden layers of 64, ReLU, He), the 8x8 digits, batch 64, {args.epochs} epochs, "
               "rates 0.05 for the SGD family and 1e-3 for the adaptive ones (AdamW: weight decay 1e-2); on "
               "Rosenbrock rates 1e-3 (SGD family) and 0.05 (adaptive).")
    measures = {f"epochs_to_loss_0.1_{k}": v for k, v in first_below.items()}
    measures.update({f"rosenbrock_{k}": float(last.loc[k, "rosenbrock_final_value"]) for k in OPTIMISERS})
    return table, ["optimisers.png"], answer, setting, measures


# ------------------------------------------------------------------- ensembles

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


# ----------------------------------------------------------------------- main

def write_report(run_dir: pathlib.Path, study_: Study, setting: str, figures: list[str], answer: str) -> None:
    lines = [f"# Study: {study_.name}", "", f"**Question.** {study_.question}", "", f"**Setting.** {setting}", ""]
    lines += [f"![{figure}]({figure})" for figure in figures]
    lines += ["", f"**Answer (measured, from results.csv).** {answer}", ""]
    (run_dir / "report.md").write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-study", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="the study to run (--list names them)")
    parser.add_argument("--list", action="store_true", help="name every study, one line each")
    parser.add_argument("--epochs", type=cli.positive_int, default=20, help="(default: 20)")
    parser.add_argument("--depth", type=cli.positive_int, default=10,
                        help="hidden layers of the deep MLPs (default: 10)")
    parser.add_argument("--members", type=cli.positive_int, default=5, help="ensemble members (default: 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="runs", help="runs are written under OUTPUT/studies/NAME/ "
                                                         "(default: runs)")
    args = parser.parse_args(argv)
    if args.list:
        for study_ in STUDIES.values():
            print(f"{study_.name:16s} {study_.question}")
        return 0
    if args.name not in STUDIES:
        raise errors.UsageError(f"{'no study named ' + repr(args.name) if args.name else 'name a study'}: "
                                f"choose one of {', '.join(STUDIES)} (--list says what each asks)")
    study_ = STUDIES[args.name]
    training.seed_everything(args.seed)
    run_dir = reporting.new_run_dir(pathlib.Path(args.output) / "studies", args.name)
    table, figures, answer, setting, measures = study_.run(args, run_dir)
    table.to_csv(run_dir / "results.csv", index=False)
    reporting.write_json(run_dir / "measures.json", measures)
    write_report(run_dir, study_, setting, figures, answer)
    print(answer)
    print(f"Wrote {run_dir}/report.md")
    return 0


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-study"))

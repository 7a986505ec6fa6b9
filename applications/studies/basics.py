"""The studies of a unit and a stack of units: the perceptron, activation functions, initialisation."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

import zoo
from applications.kit import reporting
from applications.studies.registry import accuracy, gradient_norms, study, study_data


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
    mlp_accuracy = accuracy(mlp, xor_x, xor_y > 0)

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

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    rows, curves = [], {}
    for activation in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"):
        keras.utils.set_random_seed(args.seed)
        initializer = "he" if activation in ("relu", "leaky_relu", "elu", "gelu") else "glorot"
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=args.depth, width=64,
                          activation=activation, initializer=initializer)
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
               f"for the rest; {data.name}; SGD 0.05 with momentum 0.9, "
               f"batch 64, {args.epochs} epochs; gradient norms on 256 training images.")
    measures = {f"first_over_last_{k}": float(v) for k, v in ratio.items()}
    measures.update({f"test_accuracy_{k}": float(v) for k, v in final.items()})
    return table, ["activations.png"], answer, setting, measures


# -------------------------------------------------------------- initialisation

@study("initialisation", "Does the initialisation matter: zeros, N(0, 1), Glorot and He, with tanh and ReLU?")
def initialisation_study(args, run_dir):
    import matplotlib.pyplot as plt

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    rows = []
    symmetric = None
    for activation in ("tanh", "relu"):
        for initializer in ("zeros", "normal", "glorot", "he"):
            keras.utils.set_random_seed(args.seed)
            model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=args.depth,
                              width=64, activation=activation, initializer=initializer)
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
    scores = table.groupby(["activation", "initializer"])["test_accuracy"].first()
    answer = (f"With zeros every hidden unit of a layer stays identical through training (largest difference "
              f"between units of layer 2 after training: {symmetric:.1e}) and the test accuracy is "
              f"{scores['tanh', 'zeros']:.3f} (tanh). Glorot with tanh reaches {scores['tanh', 'glorot']:.3f}, "
              f"He with ReLU {scores['relu', 'he']:.3f}; N(0, 1) gives {scores['tanh', 'normal']:.3f} (tanh, "
              f"saturated units) and {scores['relu', 'normal']:.3f} (ReLU, exploding activations).")
    setting = (f"The zoo's `mlp`, {args.depth} hidden layers of 64; {data.name}; Adam 1e-3, batch 64, "
               f"{args.epochs} epochs; activation spread on 512 training images.")
    measures = {"zero_init_unit_difference": symmetric,
                **{f"test_accuracy_{a}_{i}": float(v) for (a, i), v in scores.items()}}
    return table, ["initialisation.png"], answer, setting, measures

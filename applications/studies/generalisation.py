"""The studies of generalisation: regularisation, capacity, ensembles."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

import zoo
from applications.kit import reporting
from applications.studies.registry import accuracy, dense_layers, study, study_data


def stratified_subset(x, y, per_class: int, seed: int, exclude=None):
    """Indices of ``per_class`` examples of each class, drawn with ``seed`` (outside ``exclude``)."""
    rng = np.random.default_rng(seed)
    taken = set() if exclude is None else set(exclude.tolist())
    return np.concatenate([rng.choice([i for i in np.flatnonzero(y == c) if i not in taken], per_class,
                                      replace=False) for c in np.unique(y)])


def near_zero_share(model, threshold: float = 1e-3) -> float:
    """The share of the hidden Dense kernels' weights whose size is below ``threshold``."""
    weights = np.concatenate([np.asarray(layer.kernel).ravel() for layer in dense_layers(model)])
    return float(np.mean(np.abs(weights) < threshold))


# ---------------------------------------------------------------- regularisation

# name -> (builder, its arguments, early stopping?, augmentation?)
REGULARISERS = {
    "none": ("mlp", {}, False, False),
    "L1": ("mlp", {"l1": 1e-4}, False, False),
    "L2": ("mlp", {"l2": 1e-3}, False, False),
    "elastic net": ("mlp", {"l1": 5e-5, "l2": 5e-4}, False, False),
    "dropout": ("mlp", {"dropout": 0.5}, False, False),
    "batch norm": ("mlp", {"batch_norm": "before"}, False, False),
    "early stopping": ("mlp", {}, True, False),
    "augmentation": ("mlp", {}, False, True),
    "conv, none": ("vgg", {"spatial_dropout": 0.0}, False, False),
    "conv, spatial dropout": ("vgg", {"spatial_dropout": 0.1}, False, False),
}
MLP = {"depth": 2, "width": 256}
CONV = {"block_filters": (16, 32), "convs_per_block": 1, "batch_norm": False, "dropout": 0.0}


@study("regularisation", "On a small training set, what do L1, L2, elastic net, dropout, batch norm, early stopping "
                         "and augmentation do to overfitting?", epochs=80)
def regularisation_study(args, run_dir):
    import matplotlib.pyplot as plt
    from sklearn.metrics import log_loss

    from applications.kit.augmentation import image_augmentation

    data = study_data(args)
    x_all, y_all, x_test, y_test = data
    images, test_images = x_all.reshape(-1, *data.image_shape), x_test.reshape(-1, *data.image_shape)
    train = stratified_subset(x_all, y_all, args.per_class, args.seed)
    validation = stratified_subset(x_all, y_all, 20, args.seed + 1, exclude=train)
    rows, curves = [], {}
    for name, (builder, arguments, early_stopping, augment) in REGULARISERS.items():
        keras.utils.set_random_seed(args.seed)
        model = zoo.build(builder, input_shape=data.image_shape, classes=data.classes,
                          **(MLP if builder == "mlp" else CONV), **arguments)
        trained = model
        if augment:  # random shifts, turns and zooms, in training only (the kit's image augmentation)
            shift = image_augmentation(rotation=0.03, translation=0.0, zoom=0.05, seed=args.seed)
            trained = keras.Sequential([keras.Input(data.image_shape), shift, model])
        trained.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"])
        callbacks = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)] if early_stopping else []
        history = trained.fit(images[train], y_all[train], validation_data=(images[validation], y_all[validation]),
                              epochs=args.epochs, batch_size=32, verbose=0, callbacks=callbacks).history
        curves[name] = history
        train_accuracy = accuracy(model, images[train], y_all[train])
        validation_accuracy = accuracy(model, images[validation], y_all[validation])
        rows.append({"regulariser": name, "model": builder, "epochs_run": len(history["loss"]),
                     "train_accuracy": train_accuracy, "validation_accuracy": validation_accuracy,
                     "gap": train_accuracy - validation_accuracy, "test_accuracy": accuracy(model, test_images, y_test),
                     # (Keras' val_loss adds the L1/L2 penalty: the cross-entropy alone, of the final model)
                     "validation_cross_entropy": log_loss(y_all[validation], reporting.predict(
                         model, images[validation]), labels=range(10)),
                     "near_zero_share": near_zero_share(model) if builder == "mlp" else None})
    table = pd.DataFrame(rows)

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    positions = np.arange(len(table))
    axes[0].barh(positions + 0.2, table["train_accuracy"], height=0.4, label="training")
    axes[0].barh(positions - 0.2, table["test_accuracy"], height=0.4, label="test")
    axes[0].set(yticks=positions, yticklabels=table["regulariser"], xlim=(0.8, 1.0), xlabel="accuracy",
                title=f"{args.per_class} training images per class")
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8, loc="lower right")
    for name in ("none", "dropout", "early stopping", "augmentation"):  # (the L1/L2 losses include the penalty)
        line, = axes[1].plot(curves[name]["loss"], linewidth=1, label=f"{name}: training")
        axes[1].plot(curves[name]["val_loss"], linestyle="--", color=line.get_color(), linewidth=1,
                     label=f"{name}: validation")
    axes[1].set(yscale="log", xlabel="epoch", ylabel="loss", title="Training and validation loss")
    axes[1].legend(fontsize=6, ncol=2)
    reporting.save_figure(figure, run_dir / "regularisation.png")

    by = table.set_index("regulariser")
    best = by["test_accuracy"].idxmax()
    measures = {f"{k}_{name.replace(' ', '_').replace(',', '')}": (None if pd.isna(v) else float(v))
                for name, row in by.iterrows() for k, v in row.items() if k not in ("model",)}
    lowest = int(np.argmin(curves["none"]["val_loss"]))
    answer = (f"Without regularisation the MLP fits its {len(train)} training images "
              f"({by.loc['none', 'train_accuracy']:.3f}) and scores {by.loc['none', 'test_accuracy']:.3f} on the "
              f"test set, a train-validation gap of {by.loc['none', 'gap']:.3f}; its validation loss is lowest "
              f"after epoch {lowest + 1} ({curves['none']['val_loss'][lowest]:.3f}) and ends at "
              f"{by.loc['none', 'validation_cross_entropy']:.3f}, where early stopping keeps "
              f"{by.loc['early stopping', 'validation_cross_entropy']:.3f}. The best test accuracy comes with "
              f"{best} ({by.loc[best, 'test_accuracy']:.3f}); the gap is smallest with {by['gap'].idxmin()} "
              f"({by['gap'].min():.3f}). L1 leaves {by.loc['L1', 'near_zero_share']:.0%} of the hidden weights "
              f"below 1e-3 in size, against {by.loc['L2', 'near_zero_share']:.0%} with L2 and "
              f"{by.loc['none', 'near_zero_share']:.0%} without. Spatial dropout takes the small convnet from "
              f"{by.loc['conv, none', 'test_accuracy']:.3f} to {by.loc['conv, spatial dropout', 'test_accuracy']:.3f}.")
    setting = (f"{args.per_class} images per class of the training split of {data.name} (stratified, seed "
               f"{args.seed}), 20 per class of the rest for validation (early stopping only), the 450 test images. "
               f"The zoo's `mlp` (2 hidden layers of 256, ReLU, He) and `vgg` (blocks of 16 and 32 filters, one "
               f"convolution each, no batch norm, no dense dropout); Adam 1e-3, batch 32, {args.epochs} epochs; "
               "L1 1e-4, L2 1e-3, elastic net 5e-5 + 5e-4, dropout 0.5, batch norm before the activation, early "
               "stopping with patience 10 (best weights restored), the kit's image augmentation (turns of up to "
               "11 degrees, zooms of up to 5 %), spatial dropout 0.1.")
    return table, ["regularisation.png"], answer, setting, measures


# --------------------------------------------------------------------- capacity

WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SIZES = (10, 20, 50, 100, 200, 500)  # and the whole training split


def error_rates(model, data, epochs: int, seed: int, per_epoch: int = 1347) -> tuple[float, float]:
    """Fit ``model`` on ``(x, y)`` (repeated to at least ``per_epoch`` examples, so each size trains as many
    steps); the training and test error rates."""
    x, y, x_test, y_test = data
    repeats = int(np.ceil(per_epoch / len(y)))
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(np.tile(x, (repeats, 1)), np.tile(y, repeats), epochs=epochs, batch_size=64, verbose=0)
    return 1 - accuracy(model, x, y), 1 - accuracy(model, x_test, y_test)


@study("capacity", "How do training and test error move with the model's width and with the training set's "
                   "size?", epochs=30)
def capacity_study(args, run_dir):
    import matplotlib.pyplot as plt

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    rows = []
    for width in WIDTHS:
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=1, width=width)
        train_error, test_error = error_rates(model, data, args.epochs, args.seed, per_epoch=len(y_train))
        rows.append({"sweep": "width", "width": width, "training_examples": len(y_train),
                     "train_error": train_error, "test_error": test_error})
    for size in [*(n for n in SIZES if n < len(y_train)), len(y_train)]:
        picks = (np.random.default_rng(args.seed).permutation(len(y_train))[:size] if size < len(y_train) else
                 np.arange(len(y_train)))
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=1, width=128)
        train_error, test_error = error_rates(model, (x_train[picks], y_train[picks], x_test, y_test),
                                              args.epochs, args.seed, per_epoch=len(y_train))
        rows.append({"sweep": "training set size", "width": 128, "training_examples": len(picks),
                     "train_error": train_error, "test_error": test_error})
    table = pd.DataFrame(rows)

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, sweep, column in ((axes[0], "width", "width"), (axes[1], "training set size", "training_examples")):
        group = table[table["sweep"] == sweep]
        axis.plot(group[column], group["train_error"], marker="o", label="training error")
        axis.plot(group[column], group["test_error"], marker="s", label="test error")
        axis.fill_between(group[column], group["train_error"], group["test_error"], alpha=0.15,
                          label="generalisation gap")
        axis.set(xscale="log", xlabel=column.replace("_", " "), ylabel="error rate")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    axes[0].set_title(f"One hidden layer, all {len(y_train)} training images")
    axes[1].set_title("One hidden layer of 128")
    reporting.save_figure(figure, run_dir / "capacity.png")

    widths = table[table["sweep"] == "width"].set_index("width")
    sizes = table[table["sweep"] == "training set size"].set_index("training_examples")
    gaps = sizes["test_error"] - sizes["train_error"]
    best_width = int(widths["test_error"].idxmin())
    measures = {**{f"width_{w}_{k}": float(widths.loc[w, k]) for w in WIDTHS for k in ("train_error", "test_error")},
                **{f"size_{n}_{k}": float(sizes.loc[n, k]) for n in sizes.index
                   for k in ("train_error", "test_error")}}
    fits = widths.index[widths["train_error"] < 0.01]
    answer = (f"With {WIDTHS[0]} hidden unit the MLP underfits: training error "
              f"{widths.loc[WIDTHS[0], 'train_error']:.3f}, test error {widths.loc[WIDTHS[0], 'test_error']:.3f}. "
              f"From width {int(fits[0]) if len(fits) else '-'} the training error is below 1 %, and the test "
              f"error is lowest at width {best_width} "
              f"({widths.loc[best_width, 'test_error']:.3f}). With {sizes.index[0]} training images the width-128 "
              f"MLP fits them ({sizes['train_error'].iloc[0]:.3f}) and overfits (test error "
              f"{sizes['test_error'].iloc[0]:.3f}, a gap of {gaps.iloc[0]:.3f}); with all {sizes.index[-1]} the "
              f"gap is {gaps.iloc[-1]:.3f}.")
    setting = (f"The zoo's `mlp`, one hidden layer (ReLU, He); {data.name}; "
               f"widths {', '.join(map(str, WIDTHS))} on all training images; width 128 on random subsets of "
               f"{', '.join(str(n) for n in SIZES if n < len(y_train))} images and all of them (each repeated to "
               f"{len(y_train):,} images an epoch, so each model takes as many steps); Adam 3e-3, batch 64, "
               f"{args.epochs} epochs.")
    return table, ["capacity.png"], answer, setting, measures


# --------------------------------------------------------------------- ensembles

KINDS = ("seeds", "bagging", "snapshot")
SNAPSHOT_RATE = 1e-2  # each cosine cycle restarts at this Adam rate (a snapshot ensemble wants a large one)


def ensemble_member(seed: int, input_shape=(64,), classes=10):
    keras.utils.set_random_seed(seed)
    return zoo.build("mlp", input_shape=input_shape, classes=classes, depth=2, width=64, dropout=0.2)


def member_probabilities(kind: str, args, data) -> list:
    """The test probabilities of each member: ``seeds`` (seed + i, all the data), ``bagging`` (also a
    bootstrap sample each) or ``snapshot`` (one model, ``--epochs`` in ``--members`` cosine cycles from
    ``SNAPSHOT_RATE``, a member at the end of each: the kit's schedule, one model's price)."""
    from applications.kit.optimisation import OptimiserSettings, make_optimizer

    x_train, y_train, x_test = data
    shape = {"input_shape": x_train.shape[1:], "classes": int(y_train.max()) + 1}
    if kind == "snapshot":
        every = max(1, args.epochs // args.members)
        settings = OptimiserSettings(learning_rate=SNAPSHOT_RATE, schedule="cosine-restarts", cycles=args.members)
        model, found = ensemble_member(args.seed, **shape), []
        model.compile(optimizer=make_optimizer(settings.check(every * args.members), epochs=every * args.members,
                                               steps_per_epoch=int(np.ceil(len(y_train) / 64))),
                      loss="sparse_categorical_crossentropy")
        snapshot = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: found.append(
            reporting.predict(model, x_test)) if (epoch + 1) % every == 0 else None)
        model.fit(x_train, y_train, epochs=every * args.members, batch_size=64, verbose=0, callbacks=[snapshot])
        return found
    found = []
    for member in range(args.members):
        picks = (np.random.default_rng(args.seed + member).integers(0, len(y_train), len(y_train))
                 if kind == "bagging" else np.arange(len(y_train)))
        model = ensemble_member(args.seed + member, **shape)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(x_train[picks], y_train[picks], epochs=args.epochs, batch_size=64, verbose=0)
        found.append(reporting.predict(model, x_test))
    return found


@study("ensembles", "Do averaged models beat their members, and do they beat k-nearest neighbours and an RBF SVM?",
       epochs=40)
def ensembles_study(args, run_dir):
    import matplotlib.pyplot as plt
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    rows, averaged = [], {}
    for kind in KINDS:
        probabilities = member_probabilities(kind, args, (x_train, y_train, x_test))
        for member in range(len(probabilities)):
            rows.append({"kind": kind, "model": f"member {member + 1}",
                         "test_accuracy": float((probabilities[member].argmax(-1) == y_test).mean())})
            mean = np.mean(probabilities[:member + 1], axis=0)
            rows.append({"kind": kind, "model": f"ensemble of {member + 1}",
                         "test_accuracy": float((mean.argmax(-1) == y_test).mean())})
        averaged[kind] = rows[-1]["test_accuracy"]
    for name, classifier in (("k-nearest neighbours (k=3)", KNeighborsClassifier(3)), ("RBF SVM", SVC())):
        classifier.fit(x_train, y_train)
        rows.append({"kind": "baseline", "model": name,
                     "test_accuracy": float((classifier.predict(x_test) == y_test).mean())})
    table = pd.DataFrame(rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    for kind, marker in zip(KINDS, "osd"):
        group = table[(table["kind"] == kind)]
        members = group[group["model"].str.startswith("member")]["test_accuracy"].to_numpy()
        ensembles = group[group["model"].str.startswith("ensemble")]["test_accuracy"].to_numpy()
        sizes = np.arange(1, len(ensembles) + 1)
        axis.plot(sizes, ensembles, marker=marker, label=f"{kind}: ensemble of the first n")
        axis.plot(sizes, members, marker=marker, linestyle=":", alpha=0.6, label=f"{kind}: member n alone")
    for (_, row), style in zip(table[table["kind"] == "baseline"].iterrows(), ("--", "-.")):
        axis.axhline(row["test_accuracy"], linestyle=style, color="grey", label=row["model"])
    axis.set(xlabel="members", ylabel="test accuracy", title=f"Averaging MLPs on {data.name.split(' (')[0]}")
    axis.legend(fontsize=7)
    reporting.save_figure(figure, run_dir / "ensembles.png")
    member_mean = {kind: float(table[(table["kind"] == kind) & table["model"].str.startswith("member")]
                               ["test_accuracy"].mean()) for kind in KINDS}
    baselines = table[table["kind"] == "baseline"].set_index("model")["test_accuracy"]
    answer = (f"An ensemble of {args.members} seeds scores {averaged['seeds']:.3f} against {member_mean['seeds']:.3f} "
              f"for its mean member; bagging {averaged['bagging']:.3f} against {member_mean['bagging']:.3f}; "
              f"a snapshot ensemble, at the price of one model, {averaged['snapshot']:.3f} against "
              f"{member_mean['snapshot']:.3f}. "
              f"k-nearest neighbours scores {baselines.iloc[0]:.3f} and the RBF SVM {baselines.iloc[1]:.3f}.")
    setting = (f"{args.members} MLPs of the zoo (two hidden layers of 64, dropout 0.2, Adam 1e-3, {args.epochs} "
               "epochs) per kind: seeds (the same data) and bagging (bootstrap samples); and one MLP trained "
               f"{args.epochs} epochs in {args.members} cosine cycles restarting at Adam {SNAPSHOT_RATE:g}, a "
               "snapshot at the end of each (Huang et al., 2017); probabilities averaged; {data.name}; "
               "scikit-learn's k-NN (k=3) and SVC (RBF) on the same split.")
    measures = {f"ensemble_{k}": v for k, v in averaged.items()}
    measures.update({f"mean_member_{k}": v for k, v in member_mean.items()})
    measures.update({name: float(v) for name, v in baselines.items()})
    return table, ["ensembles.png"], answer, setting, measures

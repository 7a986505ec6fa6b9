"""The studies of optimisation: the optimisers, weight decay against an L2 penalty, the learning rate."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

import zoo
from applications.kit import reporting
from applications.kit.optimisation import OptimiserSettings, learning_rate_schedule, make_optimizer
from applications.studies.registry import accuracy, dense_layers, study, study_data


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

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    rows, paths = [], {}
    for name, make in OPTIMISERS.items():
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=2, width=64)
        model.compile(optimizer=make(RATES[name]), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs, batch_size=64,
                            verbose=0)
        path_rate = 1e-3 if name in ("SGD", "momentum", "Nesterov") else 0.05
        paths[name], final = rosenbrock_path(lambda: make(path_rate))
        for epoch, (loss, score) in enumerate(zip(history.history["loss"], history.history["val_accuracy"]), 1):
            rows.append({"optimiser": name, "rate": RATES[name], "epoch": epoch, "train_loss": loss,
                         "test_accuracy": score, "rosenbrock_final_value": final})
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
    setting = (f"The zoo's `mlp` (2 hidden layers of 64, ReLU, He), {data.name}, batch 64, {args.epochs} "
               "epochs, "
               "rates 0.05 for the SGD family and 1e-3 for the adaptive ones (AdamW: weight decay 1e-2); on "
               "Rosenbrock rates 1e-3 (SGD family) and 0.05 (adaptive).")
    measures = {f"epochs_to_loss_0.1_{k}": v for k, v in first_below.items()}
    measures.update({f"rosenbrock_{k}": float(last.loc[k, "rosenbrock_final_value"]) for k in OPTIMISERS})
    return table, ["optimisers.png"], answer, setting, measures


# ---------------------------------------------------------------- weight decay

def decoupled(optimizer: str, rate: float, strength: float, model) -> keras.optimizers.Optimizer:
    """The kit's optimiser with decoupled weight decay ``strength`` on the hidden kernels only (the weights an
    L2 penalty of the zoo's ``mlp`` covers: not the biases, not the logits)."""
    settings = OptimiserSettings(optimizer=optimizer, learning_rate=rate, schedule="constant", weight_decay=strength)
    made = make_optimizer(settings, steps_per_epoch=1, epochs=1)
    kernels = {id(layer.kernel) for layer in dense_layers(model)}
    made.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if id(v) not in kernels])
    return made


def kernel_norm(model) -> float:
    """The norm of all hidden kernels together."""
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(layer.kernel))) for layer in dense_layers(model))))


def train_with_norms(model, optimizer, data, epochs: int) -> tuple[list[float], float, list]:
    """Fit ``model``; the hidden kernels' norm at the start and after every epoch, the test accuracy, the
    final weights."""
    x_train, y_train, x_test, y_test = data
    norms = [kernel_norm(model)]
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: norms.append(kernel_norm(model)))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0, callbacks=[record])
    return norms, accuracy(model, x_test, y_test), model.get_weights()


WEIGHT_DECAY_RATES = {"sgd": 0.05, "adam": 1e-3}
STRENGTHS = (0.01, 0.1)
LABELS = {("sgd", "none"): "SGD", ("sgd", "L2 penalty"): "SGD + L2", ("sgd", "decoupled"): "SGDW",
          ("adam", "none"): "Adam", ("adam", "L2 penalty"): "Adam + L2", ("adam", "decoupled"): "AdamW"}


@study("weight-decay", "With Adam, is an L2 penalty the same as decoupled weight decay (AdamW), as it is with SGD?")
def weight_decay_study(args, run_dir):
    import matplotlib.pyplot as plt

    data = study_data(args)
    rows, finals = [], {}
    for family in ("sgd", "adam"):
        rate = WEIGHT_DECAY_RATES[family]
        for strength in (0.0, *STRENGTHS):
            for method in (("none",) if strength == 0 else ("L2 penalty", "decoupled")):
                keras.utils.set_random_seed(args.seed)
                # Keras' L2(l) adds l * sum(w^2), whose gradient 2 l w equals decoupled decay's strength * w
                # at l = strength / 2: the two are the same update for plain SGD.
                l2 = strength / 2 if method == "L2 penalty" else 0.0
                model = zoo.build("mlp", input_shape=data.x_train.shape[1:], classes=data.classes, depth=2,
                                  width=64, l2=l2)
                optimizer = decoupled(family, rate, strength if method == "decoupled" else 0.0, model)
                norms, score, weights = train_with_norms(model, optimizer, data, args.epochs)
                finals[family, strength, method] = weights
                label = LABELS[family, method]
                for epoch, norm in enumerate(norms):
                    rows.append({"optimiser": family, "method": method, "label": label, "strength": strength,
                                 "epoch": epoch, "kernel_norm": norm, "test_accuracy": score})
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for axis, family in zip(axes, ("sgd", "adam")):
        for (label, strength), group in table[table["optimiser"] == family].groupby(["label", "strength"],
                                                                                   sort=False):
            style = {"none": "-", "L2 penalty": "--", "decoupled": ":"}[group["method"].iloc[0]]
            axis.plot(group["epoch"], group["kernel_norm"], style, linewidth=1.6,
                      label=f"{label} {strength:g} ({group['test_accuracy'].iloc[0]:.3f})" if strength else
                      f"{label} ({group['test_accuracy'].iloc[0]:.3f})")
        axis.set(xlabel="epoch", ylabel="norm of the hidden kernels",
                 title=f"{'SGD' if family == 'sgd' else 'Adam'} (rate {WEIGHT_DECAY_RATES[family]:g})")
        axis.legend(fontsize=7, title="method, strength (test accuracy)")
    reporting.save_figure(figure, run_dir / "weight_decay.png")

    def difference(family, strength):  # the largest relative difference of the final weights, L2 against decoupled
        a, b = finals[family, strength, "L2 penalty"], finals[family, strength, "decoupled"]
        return float(max(np.abs(x - y).max() / (np.abs(x).max() + 1e-12) for x, y in zip(a, b)))

    last = table.groupby(["optimiser", "method", "strength"])[["kernel_norm", "test_accuracy"]].last()
    strength = max(STRENGTHS)
    measures = {f"weight_difference_{f}_{s:g}": difference(f, s) for f in ("sgd", "adam") for s in STRENGTHS}
    measures.update({f"final_norm_{f}_{m.replace(' ', '_')}_{s:g}": float(v["kernel_norm"])
                     for (f, m, s), v in last.iterrows()})
    measures.update({f"test_accuracy_{f}_{m.replace(' ', '_')}_{s:g}": float(v["test_accuracy"])
                     for (f, m, s), v in last.iterrows()})
    answer = (f"With SGD an L2 penalty and decoupled decay of the same strength end with the same weights (largest "
              f"relative difference {measures[f'weight_difference_sgd_{strength:g}']:.1e} at {strength:g}). With "
              f"Adam they do not ({measures[f'weight_difference_adam_{strength:g}']:.2f}): Adam divides the "
              f"penalty's gradient by each weight's gradient scale, so at {strength:g} the L2 penalty ends with "
              f"hidden kernels of norm {last.loc[('adam', 'L2 penalty', strength), 'kernel_norm']:.1f} and AdamW "
              f"with {last.loc[('adam', 'decoupled', strength), 'kernel_norm']:.1f} (no decay: "
              f"{last.loc[('adam', 'none', 0.0), 'kernel_norm']:.1f}); test accuracy "
              f"{last.loc[('adam', 'L2 penalty', strength), 'test_accuracy']:.3f} against "
              f"{last.loc[('adam', 'decoupled', strength), 'test_accuracy']:.3f}.")
    setting = (f"The zoo's `mlp` (2 hidden layers of 64, ReLU, He), {data.name}, batch 64, {args.epochs} "
               "epochs; "
               f"SGD at 0.05 and Adam at 1e-3, each without decay, with the mlp's L2 penalty (l2 = strength / 2 on "
               f"the hidden kernels) and with the kit's decoupled weight decay (SGDW, AdamW) on the same kernels, "
               f"strengths {', '.join(f'{s:g}' for s in STRENGTHS)}.")
    return table, ["weight_decay.png"], answer, setting, measures


# --------------------------------------------------------------- learning rate

def range_test(model, x, y, *, start=1e-5, end=10.0, steps=200, batch_size=32, seed=0) -> pd.DataFrame:
    """Smith's learning-rate range test: the rate grows exponentially from ``start`` to ``end`` over ``steps``
    batches of SGD with momentum (a Keras ``ExponentialDecay`` with a rate above 1); the loss of each batch."""
    schedule = keras.optimizers.schedules.ExponentialDecay(start, decay_steps=steps, decay_rate=end / start)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="sparse_categorical_crossentropy")
    picks = np.random.default_rng(seed).integers(0, len(y), steps * batch_size)
    means = []  # Keras logs the running mean of the epoch's losses: each batch's loss is recovered from it
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: means.append(logs["loss"]))
    model.fit(x[picks], y[picks], batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    means = np.asarray(means, "float64")
    counts = np.arange(1, len(means) + 1)
    losses = counts * means - np.concatenate([[0.0], (counts * means)[:-1]])
    return pd.DataFrame({"step": counts - 1, "rate": [float(schedule(s)) for s in range(len(losses))],
                         "loss": losses})


CLIP_RATE = 1.0  # plain SGD at 1.0 on a 6-layer MLP: NaN within the first epoch unclipped (measured)
SCHEDULE_CHOICES = ("constant", "step", "exponential", "cosine", "warm-up + cosine")


@study("learning-rate", "Which learning rate, which schedule, and what does gradient clipping save?")
def learning_rate_study(args, run_dir):
    import matplotlib.pyplot as plt

    data = study_data(args)
    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(args.seed)
    found = range_test(zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=2, width=64),
                       x_train, y_train, seed=args.seed)
    smooth = found["loss"].ewm(alpha=0.1).mean()
    best = found.loc[smooth.idxmin()]
    diverged = found["rate"][smooth > 4 * smooth.min()]
    suggested = float(best["rate"]) / 10  # the usual reading: a tenth of the rate at the lowest loss
    rows = [{"part": "range test", "setting": "SGD momentum 0.9", "step": int(r.step), "rate": r.rate,
             "loss": r.loss} for r in found.itertuples()]

    steps = int(np.ceil(len(y_train) / 64))
    curves = {}
    for choice in SCHEDULE_CHOICES:
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=2, width=64)
        settings = OptimiserSettings(optimizer="momentum", learning_rate=suggested,
                                     schedule="cosine" if choice == "warm-up + cosine" else choice,
                                     warmup_epochs=2.0 if choice == "warm-up + cosine" else 0.0)
        model.compile(optimizer=make_optimizer(settings.check(args.epochs), steps_per_epoch=steps,
                                               epochs=args.epochs),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs, batch_size=64,
                            verbose=0).history
        rate = learning_rate_schedule(settings, steps_per_epoch=steps, epochs=args.epochs)
        curves[choice] = [float(rate(s)) if callable(rate) else float(rate) for s in range(args.epochs * steps)]
        for epoch, (loss, score) in enumerate(zip(history["loss"], history["val_accuracy"]), start=1):
            rows.append({"part": "schedule", "setting": choice, "step": epoch * steps, "rate": curves[choice][
                epoch * steps - 1], "loss": loss, "test_accuracy": score})

    clipped = {}
    for clip in (None, 1.0):
        keras.utils.set_random_seed(args.seed)
        model = zoo.build("mlp", input_shape=x_train.shape[1:], classes=data.classes, depth=6, width=64)
        settings = OptimiserSettings(optimizer="sgd", learning_rate=CLIP_RATE, schedule="constant",
                                     clip_norm=clip)
        model.compile(optimizer=make_optimizer(settings, steps_per_epoch=steps, epochs=args.epochs),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs, batch_size=64,
                            verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()]).history
        name = "no clipping" if clip is None else f"clip norm {clip:g}"
        clipped[name] = history
        for epoch, (loss, score) in enumerate(zip(history["loss"], history["val_accuracy"]), start=1):
            rows.append({"part": "clipping", "setting": name, "step": epoch * steps, "rate": CLIP_RATE,
                         "loss": loss, "test_accuracy": score})
    table = pd.DataFrame(rows)

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    axes[0].semilogx(found["rate"], found["loss"], alpha=0.3, label="each batch")
    axes[0].semilogx(found["rate"], smooth, label="smoothed")
    axes[0].axvline(suggested, color="grey", linestyle="--", label=f"a tenth of the best: {suggested:.2g}")
    axes[0].set(xlabel="learning rate", ylabel="training loss", title="Range test (one pass, rate growing)",
                ylim=(0, max(4.0, float(smooth.min()) * 5)))
    axes[0].legend(fontsize=8)
    schedules = table[table["part"] == "schedule"]
    for choice, group in schedules.groupby("setting", sort=False):
        axes[1].semilogy(group["step"] / steps, group["loss"],
                         label=f"{choice} ({group['test_accuracy'].iloc[-1]:.3f})")
    inset = axes[1].inset_axes([0.55, 0.45, 0.42, 0.3])
    for choice, rates in curves.items():
        inset.plot(np.arange(len(rates)) / steps, rates, linewidth=1)
    inset.set_title("rate", fontsize=7)
    inset.tick_params(labelsize=6)
    axes[1].set(xlabel="epoch", ylabel="training loss", title=f"Schedules from {suggested:.2g}")
    axes[1].legend(fontsize=7, loc="lower left", title="schedule (test accuracy)")
    for name, history in clipped.items():
        axes[2].semilogy(range(1, len(history["loss"]) + 1), np.nan_to_num(history["loss"], nan=1e6), marker=".",
                         label=name)
    axes[2].set(xlabel="epoch", ylabel="training loss (NaN drawn at 1e6)",
                title=f"6-layer MLP, SGD at {CLIP_RATE:g}")
    axes[2].legend(fontsize=8)
    reporting.save_figure(figure, run_dir / "learning_rate.png")

    final = schedules.groupby("setting", sort=False)[["loss", "test_accuracy"]].last()
    unclipped, clipped_run = clipped["no clipping"]["loss"], clipped["clip norm 1"]["loss"]
    measures = {"range_test_best_rate": float(best["rate"]), "suggested_rate": suggested,
                "range_test_min_loss": float(smooth.min()),
                "range_test_divergence_rate": float(diverged[diverged > best["rate"]].min())
                if (diverged > best["rate"]).any() else None,
                "unclipped_final_loss": float(unclipped[-1]), "unclipped_epochs": len(unclipped),
                "clipped_final_loss": float(clipped_run[-1]), "clipped_first_loss": float(clipped_run[0]),
                **{f"schedule_test_accuracy_{k}": float(v) for k, v in final["test_accuracy"].items()},
                **{f"schedule_final_loss_{k}": float(v) for k, v in final["loss"].items()}}
    divergence = measures["range_test_divergence_rate"]
    answer = (f"The range test's loss is lowest at a rate of {best['rate']:.2g} and "
              + (f"blows up past {divergence:.2g}" if divergence else "does not blow up within the range")
              + f"; a tenth of the best, {suggested:.2g}, is the rate the schedules start from. After "
              f"{args.epochs} epochs the training loss is " + ", ".join(
                  f"{k} {v:.3g}" for k, v in final["loss"].items()) + ". Without clipping SGD at "
              f"{CLIP_RATE:g} on a 6-layer MLP "
              + ("diverged (NaN)" if not np.isfinite(unclipped[-1]) else f"ended at a loss of {unclipped[-1]:.3g}")
              + f" after {len(unclipped)} epochs; clipping the gradient norm to 1 it ended at {clipped_run[-1]:.3g}.")
    setting = (f"The zoo's `mlp` (2 hidden layers of 64, ReLU, He) on {data.name}. Range test: one pass of "
               f"200 batches of 32, SGD with momentum 0.9, the rate from 1e-5 to 10. Schedules: the kit's, SGD "
               f"with momentum 0.9, batch 64, {args.epochs} epochs (warm-up: 2 epochs). Clipping: a 6-layer MLP, "
               f"plain SGD at {CLIP_RATE:g}, the kit's `--clip-norm 1`.")
    return table, ["learning_rate.png"], answer, setting, measures

"""The search space of each application, as KerasTuner hyperparameters mapped onto its command-line options.

A space function takes a ``keras_tuner.HyperParameters`` and returns the
option values of one trial: ``{"model": "convnet", "learning_rate": 3e-4,
"model_arg": [("dropout", 0.3)], ...}``. Hyperparameter names are the
options' names (``learning_rate``, ``batch_size``, ``augment``) or
``<model>.<builder argument>`` for a model's own (``mlp.width``), declared in
a conditional scope so that a trial only has those of its model.

Each hyperparameter's default is the application's own default (or what
the command line gave), and a sweep's first trial is that default
configuration (``tuning.sweep``), so a sweep can only improve on it.

Every application shares ``common``: optimiser (the kit's momentum and
Nesterov SGD, RMSprop, Adam, AdamW with its decoupled weight decay), learning
rate (log-uniform), schedule and batch size. ``--fix name=value`` and
``--space file`` narrow or widen any of them (``tuning.sweep.declare``).
"""

from __future__ import annotations


def choice(hp, name, values, default):
    """``hp.Choice`` whose default is ``default`` (added to the values if the command line gave another)."""
    values = list(values) if default in values else [default, *values]
    return hp.Choice(name, values, default=default)


def common(hp, args, *, learning_rates=(1e-4, 1e-2), batch_sizes=(32, 64, 128)) -> dict:
    optimizer = choice(hp, "optimizer", ["adam", "adamw", "rmsprop", "momentum", "nesterov"], args.optimizer)
    low, high = min(learning_rates[0], args.learning_rate), max(learning_rates[1], args.learning_rate)
    values = {
        "optimizer": optimizer,
        "learning_rate": hp.Float("learning_rate", low, high, sampling="log", default=args.learning_rate),
        "schedule": choice(hp, "schedule", ["plateau", "cosine", "constant"], args.schedule),
        "batch_size": choice(hp, "batch_size", batch_sizes, args.batch_size),
        "weight_decay": 0.0,
    }
    with hp.conditional_scope("optimizer", ["adamw"]):
        if optimizer == "adamw":  # --weight-decay (with --optimizer adamw) is the default
            decay = args.weight_decay or 1e-4
            values["weight_decay"] = hp.Float("weight_decay", min(1e-5, decay), max(1e-2, decay), sampling="log",
                                              default=decay)
    return values


def model_choice(hp, builders: dict, default: str) -> dict:
    """``model`` among ``builders`` (name -> function(hp) -> builder arguments), each in its own scope."""
    model = choice(hp, "model", list(builders), default)
    arguments = {}
    for name, builder in builders.items():
        with hp.conditional_scope("model", [name]):
            if model == name:
                arguments = builder(hp)
    return {"model": model, "model_arg": sorted(arguments.items())}


def default(model: str, argument: str, index: int | None = None):
    """The builder's own default for ``argument`` (its ``index``-th item for a tuple such as ``filters``):
    a hyperparameter's default, so that the first trial is the application's default configuration."""
    import zoo

    value = zoo.entry(model).arguments[argument]
    return value if index is None else value[index]


def dropout(hp, model: str, high: float = 0.5):
    return hp.Float(f"{model}.dropout", 0.0, high, step=0.1, default=default(model, "dropout"))


def l2(hp, model: str, values=(1e-6, 1e-5, 1e-4, 1e-3)):
    """An L2 penalty among none (the builders' default) and a few strengths."""
    return choice(hp, f"{model}.l2", [0.0, *values], default(model, "l2"))


def digits(hp, args) -> dict:
    def convnet(hp):
        width = choice(hp, "convnet.width", [32, 16, 64], default("convnet", "filters", 0))
        return {"filters": (width, 2 * width), "dropout": dropout(hp, "convnet")}

    def vgg(hp):
        width = choice(hp, "vgg.width", [32, 16], default("vgg", "block_filters", 0))
        return {"block_filters": (width, 2 * width, 4 * width), "dropout": dropout(hp, "vgg")}

    def mlp(hp):
        return {"depth": hp.Int("mlp.depth", 1, 3, default=default("mlp", "depth")),
                "width": choice(hp, "mlp.width", [128, 64, 256], default("mlp", "width")),
                "dropout": dropout(hp, "mlp"), "l2": l2(hp, "mlp")}

    return {**model_choice(hp, {"vgg": vgg, "convnet": convnet, "mlp": mlp}, args.model),
            "augment": hp.Float("augment", 0.0, 0.1, step=0.025, default=args.augment), **common(hp, args)}


def sentiment(hp, args) -> dict:
    def bag(hp):
        return {"depth": hp.Int("bag_of_ngrams.depth", 0, 1, default=default("bag_of_ngrams", "depth")),
                "l2": l2(hp, "bag_of_ngrams", (1e-7, 1e-6, 1e-5, 1e-4, 1e-3))}

    def conv1d(hp):
        return {"filters": choice(hp, "conv1d_classifier.filters", [64, 128], default("conv1d_classifier", "filters")),
                "dropout": dropout(hp, "conv1d_classifier")}

    def gru(hp):
        return {"units": choice(hp, "gru.units", [32, 64], default("gru", "units")), "dropout": dropout(hp, "gru")}

    return {**model_choice(hp, {"bag_of_ngrams": bag, "conv1d_classifier": conv1d, "gru": gru}, args.model),
            **common(hp, args, learning_rates=(1e-4, 3e-2))}


def forecasting(hp, args) -> dict:
    def dlinear(hp):  # moving averages that fit the window (the default adapts to a short one, as in the app)
        lookback = args.lookback or 10 ** 6  # (None: not chosen yet, before the data is loaded)
        fitted = min(default("dlinear", "moving_average"), lookback - 1 + lookback % 2)
        return {"moving_average": choice(hp, "dlinear.moving_average", [m for m in (13, 25, 49) if m <= lookback],
                                         fitted)}

    def itransformer(hp):
        return {"embedding_dim": choice(hp, "itransformer_forecaster.width", [64, 128, 256],
                                        default("itransformer_forecaster", "embedding_dim")),
                "dropout": dropout(hp, "itransformer_forecaster", high=0.3)}

    def mlp(hp):
        return {"hidden_units": (choice(hp, "mlp_forecaster.width", [128, 256, 512],
                                        default("mlp_forecaster", "hidden_units", 0)),),
                "dropout": dropout(hp, "mlp_forecaster", high=0.3)}

    def tcn(hp):
        return {"filters": choice(hp, "tcn_forecaster.filters", [32, 64], default("tcn_forecaster", "filters")),
                "dropout": dropout(hp, "tcn_forecaster", high=0.3)}

    values = {**model_choice(hp, {"dlinear": dlinear, "mlp_forecaster": mlp, "tcn_forecaster": tcn,
                                  "itransformer_forecaster": itransformer}, args.model),
              **common(hp, args),
              # the training budget: at least this many optimiser steps (small data: several passes an epoch)
              "min_steps": choice(hp, "min_steps", [1000, 4000, 16000], args.min_steps)}
    jitter = hp.Float("augment", 0.0, 0.05, step=0.01)  # strength of the jitter augmentation (default: none)
    values["augment"] = [f"jitter={jitter:g}"] if jitter else []
    return values


def graph(hp, args) -> dict:
    def gcn(hp):
        return {"hidden_units": choice(hp, "gcn.hidden_units", [16, 32, 64], default("gcn", "hidden_units")),
                "dropout": dropout(hp, "gcn", high=0.7), "l2": l2(hp, "gcn", (1e-4, 5e-4, 1e-3))}

    def gat(hp):
        return {"heads": choice(hp, "gat.heads", [4, 8], default("gat", "heads")),
                "hidden_units": choice(hp, "gat.hidden_units", [8, 16], default("gat", "hidden_units")),
                "dropout": dropout(hp, "gat", high=0.7), "l2": l2(hp, "gat", (1e-4, 5e-4, 1e-3))}

    def graphsage(hp):
        return {"hidden_units": choice(hp, "graphsage.hidden_units", [16, 32, 64],
                                       default("graphsage", "hidden_units")),
                "dropout": dropout(hp, "graphsage", high=0.7)}

    return {**model_choice(hp, {"gcn": gcn, "gat": gat, "graphsage": graphsage}, args.model),
            **common(hp, args, learning_rates=(1e-3, 5e-2), batch_sizes=(1,))}


def compression(hp, args) -> dict:
    def conv(hp):
        width = choice(hp, "conv_autoencoder.width", [16, 32, 64], default("conv_autoencoder", "filters", 0))
        return {"filters": (width, 2 * width)}

    def dense(hp):
        width = choice(hp, "dense_autoencoder.width", [128, 256, 512], default("dense_autoencoder", "hidden_units", 0))
        return {"hidden_units": (width, width // 2)}

    return {**model_choice(hp, {"conv_autoencoder": conv, "dense_autoencoder": dense}, args.model),
            "denoise": hp.Float("denoise", 0.0, 0.3, step=0.1, default=args.denoise), **common(hp, args)}


# Application options a space searches without taking their value from the command line: a sweep refuses them.
SPACE_DECIDES = {
    "forecast": {"augment": "the forecast sweep searches the jitter strength (hyperparameter augment); "
                            "fix it with --fix augment=0.02"},
}

# application -> (its module, its Task class, its space, the default objective)
SPACES = {
    "digits": ("applications.digits", "Digits", digits, "val_accuracy"),
    "sentiment": ("applications.sentiment", "Sentiment", sentiment, "val_accuracy"),
    "forecast": ("applications.forecasting", "Forecasting", forecasting, "val_loss"),
    "compression": ("applications.compression", "Compression", compression, "val_loss"),
    "graph": ("applications.graphs.application", "Graphs", graph, "val_loss"),
}

"""The run skeleton every application calls: ``run(task, argv)``.

An application is a ``Task``: it names itself, adds its own options, loads
its data, builds its model, says how to compile it, evaluates it and
describes its serving signature. Everything around that is here, the same
for every application:

    parse the common options -> seed (and op determinism) -> precision policy
    -> load the data -> run folder + backup key (resume) -> build the model
    -> train (kit.training.train) -> evaluate -> metrics.json, history.csv,
    learning curves and learning-rate plots -> model.keras -> export

A minimal application (tests/test_kit.py builds one on scikit-learn's wine data):

    class Wine(Task):
        name = "wine"
        def load(self, args):   return Prepared(train=(x_tr, y_tr), validation=(x_va, y_va),
                                                test=(x_te, y_te), source="scikit-learn wine")
        def build(self, args, data):  return build_model(args, input_shape=(13,), classes=3)
        def evaluate(self, model, data, args, run_dir):  return {"test_accuracy": ...}

    sys.exit(cli.run(lambda argv: run(Wine(), argv)))
"""

from __future__ import annotations

import difflib
import hashlib
import json
import pathlib
import shutil
import sys
import time
from dataclasses import dataclass, field, replace

import keras
import numpy as np
import pandas as pd

import zoo
from applications import __version__
from applications.kit import cli, data, distribute, errors, precision, reporting, training
from applications.kit.export import export_saved_model
from applications.kit.optimisation import OptimiserSettings, learning_rate_per_step, make_optimizer

# Arguments that do not change what is trained, so they are left out of the backup key.
NOT_IN_KEY = ("output", "export", "export_dir", "tensorboard", "verbose")


def training_arguments(args) -> dict:
    """The arguments that decide what is trained: the backup key, and recorded in metrics and exports."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in NOT_IN_KEY}


@dataclass
class Prepared:
    """What ``Task.load`` returns: the arrays to train on and what the task needs later."""

    train: tuple                      # (x, y); y is None for unsupervised models (autoencoder targets: x)
    validation: tuple | None          # (x, y), or None: then the training loss is monitored
    test: object                      # whatever the task's evaluate() takes
    source: str                       # printed and recorded: where the data came from
    info: dict = field(default_factory=dict)  # recorded in metrics.json and the export metadata
    pool: tuple | None = None         # (x, y): every labelled example in source order, for --cv;
                                      # default: train + validation + test
    notes: list[str] = field(default_factory=list)  # what loading found and did (sizes, split, rows dropped):
                                                    # the run prints them; a loader prints nothing


@dataclass
class Serving:
    """What ``Task.serving`` returns: the ``serving_default`` function and what metadata says of it."""

    fn: object
    input_signature: list
    metadata: dict
    name: str | None = None           # exported as <export dir>/<name>/<version>; default: the task's name
    track: object = None              # the model whose variables it uses; default: the trained model


class Task:
    """One application. Override what is the application's own; the rest has defaults."""

    name = "app"
    prog = ""                        # the command in usage lines and errors; default: kerazoo-<name>
    description = ""
    defaults = {"epochs": 20, "batch_size": 32, "learning_rate": 1e-3}
    models: list[str] = []           # what --model offers
    aliases: dict[str, str] = {}     # short names --model also takes, e.g. {"transformer": "transformer_classifier"}
    default_model = ""
    cross_validates = False          # offer --cv K (stratified K-fold; needs test = (x, y) labels)
    monitor: str | None = None       # default: val_loss with validation data, else loss
    mode = "auto"
    patience: int | None = 15        # None: no early stopping or best checkpoint (every epoch runs)
    steps_per_execution = 1

    def add_arguments(self, parser) -> None:
        """The application's own options."""

    def check_arguments(self, args) -> None:
        """Raise ``errors.UsageError`` for an invalid combination of the application's options."""

    def load(self, args) -> Prepared:
        raise NotImplementedError

    def build(self, args, prepared: Prepared) -> keras.Model:
        raise NotImplementedError

    def loss(self, args):
        return None  # None: the model computes its own loss (VAE) or compiles itself (GAN)

    def metrics(self, args):
        return None

    def compile(self, model, args, new_optimizer) -> None:
        """Compile a model that compiles itself (a GAN: ``new_optimizer()`` once per part, which takes changes
        to the ``OptimiserSettings``, e.g. ``new_optimizer(beta_1=0.5)``); else nothing."""

    def callbacks(self, model, prepared: Prepared, args, run_dir: pathlib.Path) -> list:
        """The task's own Keras callbacks (e.g. a grid of samples each epoch), run before the kit's."""
        return []

    def evaluate(self, model, prepared: Prepared, args, run_dir: pathlib.Path) -> dict:
        """Test metrics (and the task's own plots in ``run_dir``)."""
        return {}

    def datasets(self, args, prepared: Prepared):
        """``(training, validation)`` tf.data datasets of whole batches for a task whose examples are not rows of
        arrays (a graph: the whole graph is one batch), or None: the kit batches ``prepared.train`` itself."""
        return None

    def serving(self, model, prepared: Prepared, args) -> Serving | list[Serving]:
        """The exported signature (several: one SavedModel each, e.g. an encoder and a decoder)."""
        raise errors.UsageError(f"{self.name} cannot export yet")


class ClassificationTask(Task):
    """A ``Task`` that classifies: ``test`` is ``(x, class ids)`` and ``info["labels"]`` names the classes.

    Gives the loss, accuracy, the test report (per-class scores and the
    confusion matrix) and ``--cv K``; digits and sentiment derive from it.
    """

    cross_validates = True

    def loss(self, args):
        return "sparse_categorical_crossentropy"

    def metrics(self, args):
        return ["accuracy"]

    def evaluate(self, model, prepared: Prepared, args, run_dir: pathlib.Path) -> dict:
        return reporting.evaluate_classifier(model, *prepared.test, prepared.info["labels"], run_dir)


# ----------------------------------------------------------------- the run

def parse_args(task: Task, argv=None, prog=None):
    """The task's options and the common ones from ``argv``; ``prog`` names the command in errors."""
    parser = cli.ArgumentParser(prog=prog or task.prog or f"kerazoo-{task.name}", description=task.description)
    if task.models:
        cli.add_model_options(parser, default=task.default_model, choices=[*task.aliases, *task.models])
    task.add_arguments(parser)
    if task.cross_validates:
        parser.add_argument("--cv", type=cli.folds, metavar="K",
                            help="stratified K-fold cross-validation: train K models, report the mean and "
                                 "standard deviation of each test metric (no export)")
    if isinstance(task, ClassificationTask):
        parser.add_argument("--labels-per-class", type=cli.positive_int, metavar="N",
                            help="train on N labelled examples of each class: a stratified subset of the training "
                                 "split drawn with --seed (validation and test stay whole)")
        parser.add_argument("--ensemble", type=cli.positive_int, metavar="N",
                            help="train N members and average their probabilities (reported each and together; "
                                 "one export)")
        parser.add_argument("--ensemble-kind", choices=("seeds", "bagging", "snapshot"), default="seeds",
                            help="seeds: member i trains with --seed + i on the same data; bagging: also on a "
                                 "bootstrap sample of the training split; snapshot: one run of --epochs in N "
                                 "cosine cycles, a member saved at each cycle's end (default: seeds)")
    cli.add_common_options(parser, task.name, **task.defaults)
    args = parser.parse_args(argv)
    if getattr(args, "cv", None) and args.export:
        raise errors.UsageError("--cv trains one model per fold and exports none; drop --export (or --cv)")
    if getattr(args, "ensemble", None) and args.ensemble_kind == "snapshot":
        check_snapshot_arguments(args)
    if task.models:
        args.model = offered_model(task, args.model)
    task.check_arguments(args)
    return args


def check_snapshot_arguments(args) -> None:
    n = args.ensemble
    if args.epochs % n:
        lower, upper = args.epochs // n * n, (args.epochs // n + 1) * n
        fix = f"--epochs {lower} or {upper}" if lower else f"--epochs {upper}"
        raise errors.UsageError(f"--ensemble-kind snapshot splits --epochs into {n} equal cosine cycles, and "
                                f"{args.epochs} epochs do not divide by {n}: use {fix}")
    if getattr(args, "fine_tune_epochs", 0):
        raise errors.UsageError("--ensemble-kind snapshot trains one run in cosine cycles and has no fine-tuning "
                                "phase: drop --fine-tune-epochs, or use --ensemble-kind seeds")


def offered_model(task: Task, name: str) -> str:
    """The registry name of ``--model name`` (an alias resolved); one line listing the offer if ``task`` lacks it."""
    name = task.aliases.get(name, name)
    if name in task.models:
        return name
    offer = [*task.aliases, *task.models]
    close = difflib.get_close_matches(name, offer, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise errors.UsageError(f"--model {name} is not offered by {task.name}; {hint}use one of: {', '.join(offer)}")


def optimiser_settings(args) -> OptimiserSettings:
    return OptimiserSettings(optimizer=args.optimizer, learning_rate=args.learning_rate,
                             schedule=args.schedule, warmup_epochs=args.warmup_epochs,
                             weight_decay=args.weight_decay, clip_norm=args.clip_norm,
                             clip_value=args.clip_value).check(args.epochs)


def build_model(args, hint=None, **required) -> keras.Model:
    """``zoo.build(args.model, **required, **--model-arg)``; a builder's complaint becomes a one-line error.

    The zoo's ``ArgumentError`` names the argument: a complaint about one left
    at its default names ``--model-arg``; ``hint(error)`` may add the option
    that fixes it (e.g. ``cli.image_size_hint``). Any other exception from a
    builder is a bug and keeps its traceback.
    """
    model_args = dict(args.model_arg)
    clash = sorted(set(model_args) & set(required))
    if clash:
        raise errors.UsageError(f"--model-arg {clash[0]} is set by the application from the data; leave it out")
    try:
        return zoo.build(args.model, **required, **model_args)
    except zoo.UnknownArgumentError as err:  # the zoo names it, the close one, the rest
        raise errors.UsageError(f"--model-arg: {err}") from None
    except zoo.ArgumentError as err:
        message, argument = str(err).rstrip("."), err.argument
        if argument in zoo.entry(args.model).arguments and argument not in {**model_args, **required}:
            message += f"; the default {argument} can be set with --model-arg {argument}=VALUE"
        raise errors.UsageError(f"--model {args.model}: {message}{hint(err) if hint else ''}") from None


def run_folders(args, task: Task, fingerprint: str) -> tuple[pathlib.Path, pathlib.Path]:
    """The run folder and the backup folder for this command: reused when it resumes.

    The backup folder is named by a hash of the arguments; it records the run
    folder, the data fingerprint and the package version. The same command
    on the same data resumes in the same run folder; changed data or another
    package version starts afresh, and says so.
    """
    key = hashlib.sha1(json.dumps(training_arguments(args), default=str).encode()).hexdigest()[:12]
    base = pathlib.Path(args.output) / task.name
    backup_dir = base / "backup" / key
    record = backup_dir / "run.json"
    stamp = {"data_fingerprint": fingerprint, "package_version": __version__}
    try:
        if record.exists():
            previous = json.loads(record.read_text())
            if {k: previous.get(k) for k in stamp} == stamp and pathlib.Path(previous["run_dir"]).is_dir():
                return pathlib.Path(previous["run_dir"]), backup_dir
            what = "data" if previous.get("data_fingerprint") != fingerprint else "package version"
            print(f"The {what} changed since the interrupted run in {previous.get('run_dir')}: starting afresh")
            shutil.rmtree(backup_dir)
        run_dir = reporting.new_run_dir(args.output, task.name)
        backup_dir.mkdir(parents=True, exist_ok=True)
        reporting.write_json(record, {"run_dir": str(run_dir), **stamp})
    except OSError as err:
        raise errors.UsageError(f"--output {args.output} is not writable ({err.strerror}: {err.filename}); "
                             "choose another folder") from None
    return run_dir, backup_dir


def initialise_and_freeze(model: keras.Model, args, task: Task) -> None:
    """``--init-from`` (weights by layer name, said in one line) and ``--freeze`` (layers made untrainable)."""
    source = getattr(args, "init_from", None)
    if source:
        metrics = pathlib.Path(source) / "metrics.json"
        if metrics.is_file():  # a run folder: of this application only
            application = json.loads(metrics.read_text()).get("application")
            if application and application != task.name:
                raise errors.UsageError(f"--init-from {source} is a run of {application}, not {task.name}: "
                                        f"start from a {task.name} run or a weights file")
        from zoo.weights import WeightsError, load_weights

        try:
            print(load_weights(model, source, learned_only=True).line())  # the preprocessing stays this run's
        except WeightsError as err:
            raise errors.UsageError(f"--init-from: {err}") from None
    spec = getattr(args, "freeze", "none")
    if spec == "none" and getattr(args, "fine_tune_epochs", 0):
        spec = "backbone"  # the first of two phases trains the head only
    if spec == "none":
        return
    from zoo.weights import layers_with_weights

    layers = list(layers_with_weights(model, learned_only=True))
    count = len(layers) - 1 if spec == "backbone" else spec
    if count >= len(layers):
        raise errors.UsageError(f"--freeze {spec}: the model has {len(layers)} layers with weights; freeze fewer "
                                "than that (the head must train)")
    for layer in layers[:count]:
        layer.trainable = False  # a frozen BatchNormalization also runs in inference mode (Keras 3)
    print(f"Frozen: the first {count} of {len(layers)} layers with weights ({layers[0].name} ... "
          f"{layers[count - 1].name}); training {', '.join(layer.name for layer in layers[count:])}")


def load_data(task: Task, args) -> Prepared:
    """The task's data as every path that trains sees it (a run, ``--cv``, a sweep): ``--labels-per-class``
    applied."""
    return label_budget(args, task.load(args))


def label_budget(args, prepared: Prepared) -> Prepared:
    """``--labels-per-class N``: N training examples of each class, stratified, drawn with ``--seed``."""
    n = getattr(args, "labels_per_class", None)
    if not n:
        return prepared
    x, y = prepared.train
    labels = prepared.info.get("labels") or [str(c) for c in np.unique(y)]
    counts = np.bincount(np.asarray(y), minlength=len(labels))
    smallest = int(np.argmin(counts))
    if n > counts[smallest]:
        raise errors.UsageError(f"--labels-per-class {n}: the training split has {counts[smallest]} examples of "
                                f"class {labels[smallest]!r}, its smallest; use at most {counts[smallest]}")
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False)
                                     for c in range(len(labels)) if counts[c]]))
    info = dict(prepared.info)
    if isinstance(info.get("split"), dict):
        info["split"] = {**info["split"], "train": len(chosen), "labels_per_class": n}
    return replace(prepared, train=(x[chosen], y[chosen]), info=info,
                   notes=[*prepared.notes, f"--labels-per-class {n}: training on {len(chosen)} of {len(y)} "
                                           f"training examples ({n} of each of {len(labels)} classes)"])


class PhaseLog(keras.callbacks.Callback):
    """Puts the training phase (1 or 2) in each epoch's logs, hence in ``history.csv``."""

    def __init__(self, phase: int):
        super().__init__()
        self.phase = phase

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["phase"] = self.phase


def train_two_phases(model, train_data, validation_data, args, optimiser: OptimiserSettings, run_dir, backup_dir,
                     *, keep_backup: bool, callbacks, **common) -> training.TrainResult:
    """keras-io's transfer recipe: phase 1 (``--epochs``) trains with the backbone frozen (as
    ``initialise_and_freeze`` left it); phase 2 (``--fine-tune-epochs``) trains every layer at
    ``--fine-tune-learning-rate``, batch normalisation kept in inference mode (its statistics fixed: small
    batches of a new domain would wreck them). Each phase trains (and backs up) in a folder of its own, so a
    rerun after a kill in phase 2 restores phase 1's final weights without training and resumes phase 2
    exactly; the run folder's ``history.csv`` then holds both, one row per epoch, a ``phase`` column and
    epochs numbered on; ``best.keras`` is phase 2's best."""
    run_dir, backup_dir = pathlib.Path(run_dir), pathlib.Path(backup_dir)
    first = training.train(model, train_data, validation_data, epochs=args.epochs, run_dir=run_dir / "phase1",
                           backup_dir=backup_dir / "phase1", optimiser=optimiser, keep_backup=True,
                           callbacks=[PhaseLog(1), *callbacks], **common)
    from zoo.weights import layers_with_weights

    for layer in layers_with_weights(model):  # (a preprocessing layer's statistics are not trainable weights)
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    tuned = replace(optimiser, learning_rate=args.fine_tune_learning_rate, warmup_epochs=0.0).check(
        args.fine_tune_epochs)
    model.compile(optimizer=make_optimizer(tuned, steps_per_epoch=common["steps_per_epoch"],
                                           epochs=args.fine_tune_epochs),
                  loss=common["loss"], metrics=common["metrics"], steps_per_execution=common["steps_per_execution"])
    print(f"Fine-tuning: {len(model.trainable_weights)} trainable weights (batch normalisation fixed), "
          f"at most {args.fine_tune_epochs} epochs at rate {args.fine_tune_learning_rate:g}")
    second = training.train(model, train_data, validation_data, epochs=args.fine_tune_epochs,
                            run_dir=run_dir / "phase2", backup_dir=backup_dir / "phase2", optimiser=tuned,
                            keep_backup=keep_backup, callbacks=[PhaseLog(2), *callbacks], **common)
    shifted = second.history.assign(epoch=second.history["epoch"] + len(first.history))
    history = pd.concat([first.history, shifted], ignore_index=True)
    history.to_csv(run_dir / "history.csv", index=False)
    if (run_dir / "phase2" / "best.keras").exists():
        shutil.copyfile(run_dir / "phase2" / "best.keras", run_dir / "best.keras")
    resumed = second.resumed_from_epoch and len(first.history) + second.resumed_from_epoch
    return training.TrainResult(history=history, resumed_from_epoch=resumed or first.resumed_from_epoch,
                                seconds=first.seconds + second.seconds, monitor=second.monitor,
                                steps_per_epoch=second.steps_per_epoch)


def fit_ensemble(task: Task, args, prepared: Prepared, optimiser: OptimiserSettings, run_dir, backup_dir, *,
                 strategy=None):
    """``--ensemble N``: N members, then one model averaging their probabilities, evaluated and exported as
    the run's model. ``(model, TrainResult, metrics)``: the history is every member's, with a ``member``
    column (a snapshot ensemble's is its one run's); the metrics the ensemble's, with each member's test
    metrics and their mean under ``members``.

    Kinds (``--ensemble-kind``): ``seeds``, member i a whole run of ``fit`` with ``--seed + i`` in
    ``member_<i>/``; ``bagging``, the same on a bootstrap sample of the training split; ``snapshot``, one run
    whose learning rate follows N equal cosine cycles, a member saved at each cycle's end (Huang et al.,
    2017: N members for the price of one). Each is resumable: a rerun skips the members whose folder is
    complete, and a snapshot run resumes its one training exactly."""
    run_dir, backup_dir = pathlib.Path(run_dir), pathlib.Path(backup_dir)
    if args.ensemble_kind == "snapshot":
        members, result, reports = fit_snapshots(task, args, prepared, optimiser, run_dir, backup_dir,
                                                 strategy=strategy)
        history, seconds, resumed = result.history, result.seconds, result.resumed_from_epoch
    else:
        members, history, seconds, reports = fit_members(task, args, prepared, optimiser, run_dir, backup_dir,
                                                         strategy=strategy)
        resumed = 0
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name) for t in members[0].inputs]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    for i, member in enumerate(members):  # unique names inside the ensemble
        member.name = f"member_{i + 1}"
    outputs = keras.layers.Average(name="average", dtype="float32")([member(inputs) for member in members])
    ensemble = keras.Model(inputs, outputs, name=f"{task.name}_ensemble_of_{args.ensemble}")
    ensemble.save(run_dir / "model.keras")
    metrics = task.evaluate(ensemble, prepared, args, run_dir)
    keys = [k for k in reports[0] if k in metrics]
    metrics["members"] = {"kind": args.ensemble_kind, "each": reports,
                          "mean": {k: float(np.mean([r[k] for r in reports])) for k in keys}}
    for k in keys:
        print(f"  {k}: ensemble {metrics[k]:.4f}, members {', '.join(f'{r[k]:.4f}' for r in reports)} "
              f"(mean {metrics['members']['mean'][k]:.4f})")
    history.to_csv(run_dir / "history.csv", index=False)
    return ensemble, training.TrainResult(history=history, resumed_from_epoch=resumed, seconds=seconds,
                                          monitor="", steps_per_epoch=0), metrics


def fit_members(task: Task, args, prepared: Prepared, optimiser: OptimiserSettings, run_dir, backup_dir, *,
                strategy=None):
    """Seed or bagging members, each a whole run of ``fit`` in ``member_<i>/`` (a finished one is loaded, not
    trained again): ``(members, history with a member column, seconds, reports)``."""
    members, histories, seconds, reports = [], [], 0.0, []
    for i in range(args.ensemble):
        member_args = replace_args(args, seed=args.seed + i, ensemble=None)
        member_data = prepared
        if args.ensemble_kind == "bagging":
            x, y = prepared.train
            picks = np.random.default_rng(args.seed + i).integers(0, len(y), len(y))
            member_data = replace(prepared, train=(x[picks], y[picks]))
        member_dir = run_dir / f"member_{i + 1}"
        done = member_dir / "member.json"
        training.seed_everything(member_args.seed, args.deterministic)
        if done.exists():  # trained in an earlier run of this command
            model = load_model_safely(member_dir / "model.keras", "--ensemble")
            result = training.TrainResult(history=pd.read_csv(member_dir / "history.csv"), resumed_from_epoch=0,
                                          seconds=0.0, monitor="", steps_per_epoch=0)
            report = json.loads(done.read_text())
            print(f"Ensemble member {i + 1} of {args.ensemble}: trained in an earlier run, loaded from {member_dir}")
        else:
            print(f"Ensemble member {i + 1} of {args.ensemble} (seed {member_args.seed}"
                  f"{', a bootstrap sample' if args.ensemble_kind == 'bagging' else ''})")
            model, result, report = fit(task, member_args, member_data, optimiser, member_dir,
                                        backup_dir / f"member_{i + 1}", strategy=strategy, keep_backup=True)
            report = member_report(report)
            reporting.write_json(done, report)
            shutil.rmtree(backup_dir / f"member_{i + 1}", ignore_errors=True)
        members.append(model)
        histories.append(result.history.assign(member=i + 1))
        seconds += result.seconds
        reports.append(report)
    return members, pd.concat(histories, ignore_index=True), seconds, reports


def member_report(metrics: dict) -> dict:
    """A member's test metrics (what ``member.json`` keeps)."""
    return {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}


def fit_snapshots(task: Task, args, prepared: Prepared, optimiser: OptimiserSettings, run_dir, backup_dir, *,
                  strategy=None):
    """A snapshot ensemble's one run (in ``snapshots/``: ``--epochs`` in ``--ensemble`` equal cosine cycles
    from ``--learning-rate`` to 0, no early stopping) and its members, each evaluated in ``member_<i>/``:
    ``(members, TrainResult, reports)``."""
    from applications.kit.callbacks import Snapshots

    cycles, every = args.ensemble, args.epochs // args.ensemble
    folder = run_dir / "snapshots"
    snapshot_settings = replace(optimiser, schedule="cosine-restarts", cycles=cycles, warmup_epochs=0.0)
    print(f"Snapshot ensemble: {args.epochs} epochs in {cycles} cosine cycles of {every} from rate "
          f"{optimiser.learning_rate:g} to 0; a member saved at the end of each")
    _, result, _ = fit(task, replace_args(args, ensemble=None), prepared, snapshot_settings, folder,
                       backup_dir / "snapshots", evaluate=False, callbacks=[Snapshots(folder, every)],
                       strategy=strategy, keep_backup=True, early_stopping=False)
    members, reports = [], []
    for i in range(cycles):
        member_dir, model = run_dir / f"member_{i + 1}", load_model_safely(folder / f"snapshot_{i + 1}.keras",
                                                                           "--ensemble")
        done = member_dir / "member.json"
        if done.exists():
            report = json.loads(done.read_text())
        else:
            member_dir.mkdir(parents=True, exist_ok=True)
            report = member_report(task.evaluate(model, prepared, args, member_dir))
            reporting.write_json(done, report)
        members.append(model)
        reports.append(report)
    shutil.rmtree(backup_dir / "snapshots", ignore_errors=True)
    return members, result, reports


def replace_args(args, **changes):
    """A copy of the parsed options with ``changes``."""
    import copy

    copied = copy.copy(args)
    for key, value in changes.items():
        setattr(copied, key, value)
    return copied


def passes_per_epoch(args, examples: int) -> int:
    """Passes over the training examples per epoch that give at least ``args.min_steps`` optimiser steps in all
    (a task with a ``--min-steps`` option; else 1), and say so when that is more than one."""
    min_steps = getattr(args, "min_steps", 0) or 0
    batches = -(-examples // args.batch_size)
    per_epoch = -(-min_steps // args.epochs)
    passes = max(1, -(-per_epoch * args.batch_size // examples))  # ceil(passes * examples / batch) >= per_epoch
    if passes > 1:
        print(f"Training budget: {examples} training examples make {batches} batch{'es' if batches > 1 else ''} "
              f"of {args.batch_size}; each epoch goes over them {passes} times, for at least {min_steps} optimiser "
              f"steps in {args.epochs} epochs (--min-steps; early stopping still decides)")
    return passes


def fit(task: Task, args, prepared: Prepared, optimiser: OptimiserSettings, run_dir, backup_dir, *,
        evaluate=True, model=None, callbacks=(), strategy=None, keep_backup=False, early_stopping=True):
    """Build, train (resuming from ``backup_dir``) and evaluate one model: ``(model, TrainResult, metrics)``.

    ``model``: train this one instead of building it (a sweep warm-starts
    from another trial's weights); ``evaluate=False`` skips the test metrics
    (a sweep looks at validation only); ``callbacks`` come before the task's;
    ``strategy``: the ``tf.distribute`` strategy (default: the current one, a
    sweep's MirroredStrategy when it entered one). The trained model is saved
    as ``model.keras`` before it is evaluated; with ``keep_backup`` the backup
    stays (marked finished) for the caller to delete when its run folder is
    complete, so a crash in the evaluation costs no training: the rerun evaluates.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    x_train, y_train = prepared.train
    if args.batch_size < replicas:
        raise errors.UsageError(f"--batch-size {args.batch_size} is smaller than the {replicas} replicas it is split "
                             f"over: use --batch-size {replicas} or more")
    # Without the last partial batch where there are several replicas: several workers must take as
    # many steps each, and a replica whose slice of a short batch is empty fails in oneDNN's fused
    # convolutions on a CPU (TensorFlow 2.21: "input depth must be evenly divisible by filter depth").
    own = task.datasets(args, prepared)
    if own is not None:
        train_data, validation_data = own
        steps = int(train_data.cardinality())
    else:
        train_data = data.TrainingPipeline(x_train, y_train, batch_size=args.batch_size, seed=args.seed,
                                           drop_remainder=replicas > 1, passes=passes_per_epoch(args, len(x_train)))
        steps = train_data.steps_per_epoch
        validation_data = None
        if prepared.validation is not None:
            validation_data = data.make_dataset(*prepared.validation, batch_size=max(args.batch_size, 256))
    with strategy.scope():  # variables (model, optimiser) mirrored over the replicas, if several
        if model is None:
            model = task.build(args, prepared)
            initialise_and_freeze(model, args, task)
        if replicas > 1:
            distribute.synchronize_batch_norm(model)
        # new_optimizer(beta_1=0.5): the task may change settings of its own (a GAN's papers' betas)
        task.compile(model, args, lambda **changes: make_optimizer(replace(optimiser, **changes).check(args.epochs),
                                                                   steps_per_epoch=steps, epochs=args.epochs))
        print(f"Model: {args.model if task.models else model.name} ({model.count_params():,} parameters), "
              f"precision {keras.config.dtype_policy().name}"
              f"{f', {replicas} replicas' if replicas > 1 else ''}; run folder {run_dir}")
        common = dict(
            loss=task.loss(args), metrics=task.metrics(args), steps_per_epoch=steps,
            monitor=task.monitor, mode=task.mode, patience=task.patience if early_stopping else None,
            # Keras' multi-step loop fails under a distribution strategy with a pipeline of unknown
            # length ("You must feed a value for placeholder"): one step per execution there.
            steps_per_execution=task.steps_per_execution if replicas == 1 else 1,
            callbacks=[*callbacks, *task.callbacks(model, prepared, args, run_dir)],
            tensorboard=args.tensorboard, verbose=args.verbose)
        if getattr(args, "fine_tune_epochs", 0):
            result = train_two_phases(model, train_data, validation_data, args, optimiser, run_dir, backup_dir,
                                      keep_backup=keep_backup, **common)
        else:
            result = training.train(model, train_data, validation_data, epochs=args.epochs, run_dir=run_dir,
                                    backup_dir=backup_dir, optimiser=optimiser, keep_backup=keep_backup, **common)
    if not evaluate:
        return model, result, {}
    model.save(pathlib.Path(run_dir) / "model.keras")  # before the evaluation: the model (best weights restored)
    try:
        metrics = task.evaluate(model, prepared, args, run_dir)
    except BaseException:
        print(f"The evaluation failed after training; the model is saved in {run_dir}/model.keras"
              + (" and the same command evaluates it again without training" if keep_backup else ""),
              file=sys.stderr)
        raise
    return model, result, metrics


def print_data(prepared: Prepared, extra: str = "") -> None:
    """Where the data came from and what loading found (``Prepared.notes``), as a run prints it."""
    print(f"Data: {prepared.source}{extra}")
    for note in prepared.notes:
        print(f"  {note}")


def _fingerprint(prepared: Prepared) -> str:
    x_train, y_train = prepared.train
    # (a task whose training rows point into other arrays, as a graph's node ids, adds them: fingerprint_arrays)
    return data.fingerprint(x_train, y_train, *(prepared.validation or ()),
                            *getattr(prepared, "fingerprint_arrays", ()))


def run(task: Task, argv=None) -> int:
    """Run ``task`` from the command line ``argv``: train, evaluate, write the run folder, export."""
    started = time.perf_counter()
    args = parse_args(task, argv)
    optimiser = optimiser_settings(args)
    if args.strategy == "multiworker":
        if getattr(args, "cv", None):
            raise errors.UsageError("--cv trains its folds one after another on one machine; "
                                 "drop --strategy multiworker (or --cv)")
        config = distribute.cluster()
        if not distribute.is_chief(config):  # the chief writes the run folder and the export
            args.output = str(pathlib.Path(args.output) / distribute.worker_name(config))
            args.export = False
    if args.export:  # not after training: the export folder must be one we can write
        check_export_dir(args.export_dir)
    strategy = distribute.make_strategy(args.strategy)  # before TensorFlow runs anything (multi-worker)
    training.seed_everything(args.seed, args.deterministic)
    policy = precision.configure_precision(args.precision)

    prepared = load_data(task, args)
    print_data(prepared)
    if getattr(args, "cv", None):
        cross_validate(task, args, prepared, optimiser, folds=args.cv, strategy=strategy)
        return 0
    run_dir, backup_dir = run_folders(args, task, _fingerprint(prepared))
    try:
        if getattr(args, "ensemble", None) and args.ensemble > 1:
            model, result, metrics = fit_ensemble(task, args, prepared, optimiser, run_dir, backup_dir,
                                                  strategy=strategy)
        else:
            model, result, metrics = fit(task, args, prepared, optimiser, run_dir, backup_dir, strategy=strategy,
                                         keep_backup=True)
    except errors.USER_ERRORS:
        if not (run_dir / "history.csv").exists():  # refused before its first epoch (a builder's argument):
            shutil.rmtree(run_dir, ignore_errors=True)  # leave no empty run folder, no backup key to resume
            shutil.rmtree(backup_dir, ignore_errors=True)
        raise

    settings = training_arguments(args)
    metrics.update({
        "application": task.name,  # open_run() refuses another application's run folder
        "data_source": prepared.source,
        "data_fingerprint": _fingerprint(prepared),  # an evaluate subcommand checks it reloads the same data
        **prepared.info,
        "model": getattr(args, "model", model.name),
        "parameters": model.count_params(),
        "precision_policy": policy,
        "epochs_run": len(result.history),
        # (None for a model that holds its own optimisers, as a GAN)
        # (int(keras.ops.convert_to_numpy(...)): under a distribution strategy the count is a MirroredVariable)
        "optimiser_steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        if getattr(model, "optimizer", None) else None,
        "resumed_from_epoch": result.resumed_from_epoch,
        "monitor": result.monitor,
        "train_seconds": round(result.seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "arguments": settings,
    })
    reporting.write_json(run_dir / "metrics.json", metrics)
    reporting.plot_learning_curves(result.history, run_dir / "learning_curves.png")
    if getattr(model, "optimizer", None) is not None or getattr(model, "compiled", False):  # (an ensemble: none)
        steps_run, rates = learning_rate_per_step(model.optimizer, result.history, result.steps_per_epoch,
                                                  optimiser, steps_per_execution=model.steps_per_execution)
        reporting.plot_learning_rate(steps_run, rates, result.steps_per_epoch, run_dir / "learning_rate.png")
    summary = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                        if k.startswith("test_") and isinstance(v, float))
    print(f"Test: {summary or 'no test metrics'} ({len(result.history)} epochs, "
          f"{result.seconds:.1f} s training)")

    if args.export:
        export(task, model, prepared, args, metrics, policy)
    shutil.rmtree(backup_dir, ignore_errors=True)  # the run folder is complete
    print(f"Wrote {run_dir}")
    return 0


def check_export_dir(path) -> None:
    """Make the export root (``--export-dir``) now, or fail in one line: a file there, no permission."""
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise errors.UsageError(f"--export-dir {path} is a file: choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise errors.UsageError(f"--export-dir {path} cannot be a folder of exports ({err.strerror}: {err.filename}); "
                             "choose another folder") from None


def export(task: Task, model, prepared: Prepared, args, metrics: dict, policy: str) -> list[pathlib.Path]:
    """Write the task's signature(s) as new SavedModel versions under ``args.export_dir``; return their paths."""
    paths = []
    servings = task.serving(model, prepared, args)
    for serving in servings if isinstance(servings, list) else [servings]:
        path = export_saved_model(serving.track or model, serving.name or task.name, serving_fn=serving.fn,
                                  input_signature=serving.input_signature, root=args.export_dir,
                                  metadata={**serving.metadata, **prepared.info,
                                            "metrics": {k: v for k, v in metrics.items()
                                                        if k.startswith("test_") and not isinstance(v, dict)},
                                            "precision_policy": policy,
                                            "data_source": prepared.source,
                                            "training_arguments": training_arguments(args)})
        print(f"Exported SavedModel to {path}")
        paths.append(path)
    return paths


def cross_validate(task: Task, args, prepared: Prepared, optimiser: OptimiserSettings, *,
                   folds: int, strategy=None) -> pd.DataFrame:
    """Stratified K-fold cross-validation of ``task`` on all of ``prepared``'s labelled examples.

    The train, validation and test parts are pooled and split into ``folds``
    folds (stratified, ``args.seed``). Each fold is held out once as the test
    part; a stratified ``--validation-fraction`` of the rest (default 0.1) is
    the validation part that the plateau and early stopping watch, so the
    held-out fold never steers training. The folds are drawn from
    ``prepared.pool`` (the examples in source order) when the task gives it, so
    a benchmark can rebuild the same folds with ``StratifiedKFold(folds,
    shuffle=True, random_state=seed)``. Each fold trains in
    ``<run folder>/fold_<i>/`` through the same ``fit`` as a single run; a
    rerun skips the folds already done and resumes the interrupted one.

    Returns the per-fold test metrics (also ``cv_folds.csv``); ``metrics.json``
    holds the mean and standard deviation of each.
    """
    from sklearn.model_selection import StratifiedKFold

    if prepared.pool is not None:
        x, y = (np.asarray(a) for a in prepared.pool)
    else:
        parts = [prepared.train, *([prepared.validation] if prepared.validation else []), prepared.test]
        x = np.concatenate([np.asarray(p[0]) for p in parts])
        y = np.concatenate([np.asarray(p[1]) for p in parts])
    counts = np.bincount(y)
    if counts.min() < folds:
        raise errors.UsageError(f"--cv {folds}: the smallest class has {counts.min()} examples; "
                             f"each fold needs one: use --cv {max(2, counts.min())} or fewer")
    run_dir, backup_dir = run_folders(args, task, data.fingerprint(x, y))
    validation_fraction = getattr(args, "validation_fraction", 0.1)
    rows = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=args.seed)
    for fold, (rest, held_out) in enumerate(splitter.split(x, y), start=1):
        fold_dir, done = run_dir / f"fold_{fold}", run_dir / f"fold_{fold}" / "metrics.json"
        if done.exists():
            rows.append({"fold": fold, **json.loads(done.read_text())})
            print(f"Fold {fold}/{folds}: done in an earlier run")
            continue
        fold_dir.mkdir(parents=True, exist_ok=True)
        keras.backend.clear_session()  # also resets the dtype policy: set it again
        training.seed_everything(args.seed, args.deterministic)
        precision.configure_precision(args.precision)
        (x_tr, y_tr), (x_va, y_va), _ = data.stratified_split(
            x[rest], y[rest], test_fraction=None, validation_fraction=validation_fraction, seed=args.seed)
        fold_data = replace(prepared, train=(x_tr, y_tr), validation=(x_va, y_va), test=(x[held_out], y[held_out]))
        print(f"Fold {fold}/{folds}: {len(x_tr)} train / {len(x_va)} validation / {len(held_out)} test")
        _, result, metrics = fit(task, args, fold_data, optimiser, fold_dir, backup_dir / f"fold_{fold}",
                                 keep_backup=True, strategy=strategy)
        scores = {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}
        scores["epochs_run"] = len(result.history)
        reporting.write_json(done, scores)
        shutil.rmtree(backup_dir / f"fold_{fold}", ignore_errors=True)
        rows.append({"fold": fold, **scores})
    table = pd.DataFrame(rows).set_index("fold")
    table.to_csv(run_dir / "cv_folds.csv")
    summary = {f"{name}_{stat}": float(getattr(table[name], stat)()) for name in table.columns
               for stat in ("mean", "std")}  # std: pandas' sample standard deviation (ddof=1)
    reporting.write_json(run_dir / "metrics.json", {
        "application": task.name, "folds": folds, **summary, "data_source": prepared.source, **prepared.info,
        "model": getattr(args, "model", None),
        "arguments": training_arguments(args)})
    print(f"Cross-validation, {folds} stratified folds: " + ", ".join(
        f"{name} {table[name].mean():.4f} +- {table[name].std():.4f}"
        for name in table.columns if name.startswith("test_")))
    print(f"Wrote {run_dir}")
    return table


def open_run(path, app: str, command: str) -> tuple[keras.Model, dict]:
    """A finished run of application ``app``: its ``model.keras`` (safe mode) and ``metrics.json``.

    A folder that is not a run, or a run of another application, is a one-line
    error that says which folder to give: the one ``command`` printed.
    """
    path = pathlib.Path(path)
    if not (path / "model.keras").exists() or not (path / "metrics.json").exists():
        raise errors.UsageError(f"--from {path}: not a {app} run folder (no model.keras and metrics.json); "
                             f"give the folder that {command} printed")
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise errors.UsageError(f"--from {path}: its metrics.json is not readable JSON ({err}); give a run folder "
                                f"that {command} wrote whole, or run it again") from None
    if not isinstance(metrics, dict):
        raise errors.UsageError(f"--from {path}: its metrics.json holds a JSON {type(metrics).__name__}, not a run's "
                                f"metrics; give the folder that {command} printed")
    trained_by = metrics.get("application", app)  # (runs written before it was recorded are taken as they are)
    if trained_by != app:
        raise errors.UsageError(f"--from {path}: a {trained_by} run, not a {app} one; give the folder that "
                             f"{command} printed")
    return load_model_safely(path / "model.keras", command), metrics


def load_model_safely(path, command: str) -> keras.Model:
    """``keras.saving.load_model`` in safe mode; a file it refuses or cannot read is a one-line error.

    Safe mode refuses a model holding Python code (a ``Lambda`` layer): loading it
    would run that code. Nothing ran; say so instead of Keras' traceback.
    """
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except ValueError as err:
        if "Lambda" in str(err) or "safe_mode" in str(err) or "unsafe" in str(err).lower():
            raise errors.UsageError(f"{path} holds Python code (a Lambda layer), which loading would run: it is "
                                    "refused (Keras safe mode); load only models made by this package") from None
        raise errors.UsageError(f"{path} cannot be loaded as a Keras model ({errors.first_line(err)}); "
                                f"give a run folder that {command} wrote whole, or run it again") from None
    except Exception as err:  # a truncated or damaged zip, a missing file inside it
        raise errors.UsageError(f"{path} cannot be loaded as a Keras model ({type(err).__name__}: "
                                f"{errors.first_line(err)}); "
                                f"give a run folder that {command} wrote whole, or run it again") from None


def reload_data(task: Task, metrics: dict, path, arguments=None) -> Prepared:
    """The data a finished run trained on, loaded again from its recorded arguments (or ``arguments``).

    The files may have changed since: a fingerprint that differs from the one
    the run recorded is a one-line error, not an evaluation of other data.
    """
    import argparse

    arguments = arguments if arguments is not None else argparse.Namespace(**metrics["arguments"])
    prepared = task.load(arguments)
    print_data(prepared)
    recorded = metrics.get("data_fingerprint")
    if recorded is None:
        print(f"{path} records no data fingerprint (an older run): the data cannot be checked against it")
    elif recorded != _fingerprint(prepared):
        raise errors.UsageError(f"--from {path}: its data ({prepared.source}) changed since the run trained on it, "
                                "so the evaluation would not be of that run's test data; train again on this data")
    return prepared


def main_for(task: Task):
    """``main(argv)`` for ``cli.run``: a console script is ``sys.exit(cli.run(main_for(task), prog=...))``."""
    return lambda argv=None: run(task, argv)

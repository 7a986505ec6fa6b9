"""A KerasTuner sweep over one application, trained and exported by the application's own kit.

A trial is a set of the application's command-line options (``tuning.spaces``).
``KitHyperModel`` turns the trial's hyperparameters into those options and
trains with the kit's ``run.fit``: the application's data, model, loss,
metrics, optimisers and schedules, callbacks and exact backup, in the
trial's own folder and its own process (``tuning.trial``). So:

- a sweep killed with SIGKILL and rerun with the same command reloads the
  oracle (``overwrite=False``): finished trials are kept, and the trial that
  was running is handed out again and resumes from its kit backup, so it is
  never counted twice;
- a trial whose loss turns NaN (or that runs out of memory) is raised as
  ``FailedTrialError``: KerasTuner records it as FAILED and the sweep goes on;
- every trial runs in a fresh process, so the sweep's memory stays flat
  (in one process TensorFlow keeps ~9 MB of every trial, clear_session or not).

Results (``results_table``): a CSV with a row per trial (id, hyperparameters,
objective, epochs, seconds, peak memory, status), a PNG of the objective per
trial with the best so far, the best hyperparameters as JSON, and
TensorBoard HParams logs. ``export_best`` retrains the best configuration on
train + validation and exports it through the application.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pathlib
import subprocess
import sys
from dataclasses import replace

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from applications.kit import errors, precision, reporting, training
from applications.kit.run import (Prepared, Task, export, fit, offered_model, optimiser_settings,
                                  replace_args)

TUNERS = ("random", "hyperband", "bayesian", "grid")


def objective_for(name: str) -> kt.Objective:
    """``val_accuracy`` and the like are maximised; losses and errors minimised."""
    maximise = any(word in name for word in ("accuracy", "auc", "precision", "recall", "psnr", "ssim"))
    return kt.Objective(name, "max" if maximise else "min")


def check_type(kind: str, name: str, values, choices, *, source: str) -> None:
    """``values`` given by ``source`` for ``name`` are of the type the space declares, or a one-line error.

    An integer for ``hp.Int``, a number for ``hp.Float``; for ``hp.Choice``
    the type its values share (a value outside them is allowed: ``--fix
    model=resnet18``). Without this, ``--fix learning_rate=abc`` reached the
    optimiser as a string, and ``learning_rate=True`` as the number 1.
    """
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def integer(value):
        return isinstance(value, int) and not isinstance(value, bool)

    if kind == "Choice" and choices:
        kinds = [("an integer", integer), ("a number", number), ("a name", lambda v: isinstance(v, str)),
                 ("True or False", lambda v: isinstance(v, bool))]
        wanted, fits = next(((w, f) for w, f in kinds if all(map(f, choices))), (None, None))
        if wanted is None:
            return
        wanted += f" such as {choices[0]!r}"
    elif kind in ("Int", "Float"):
        wanted, fits = ("an integer", integer) if kind == "Int" else ("a number", number)
    else:
        return
    for value in values:
        if not fits(value):
            where = f"--fix {name}={value!r}" if source == "--fix" else f"--space: {name}: {value!r}"
            raise errors.UsageError(f"{where} is invalid: expected {wanted}")


class Overrides:
    """The ``HyperParameters`` a space function sees, with the user's ``--fix`` and ``--space`` applied.

    A fixed name becomes ``hp.Fixed(name, value)`` and a ``--space`` entry
    replaces the application's declaration, at the same place, so inside the
    same conditional scope (``mlp.width`` stays a hyperparameter of the mlp).
    ``--space`` entries: ``{"choice": [...]}``, ``{"float": [lo, hi], "log": true}``,
    ``{"int": [lo, hi]}`` or ``{"fixed": value}``. Names seen are recorded, so
    a misspelt one can be reported.
    """

    def __init__(self, hp, fixed: dict, space: dict):
        self.hp, self.fixed, self.space, self.seen = hp, fixed, space, set()

    def __getattr__(self, name):  # conditional_scope, values ...
        return getattr(self.hp, name)

    def _declare(self, kind, name, *args, **kwargs):
        self.seen.add(name)
        choices = list(args[0] if args else kwargs.get("values", [])) if kind == "Choice" else None
        if name in self.fixed:
            check_type(kind, name, [self.fixed[name]], choices, source="--fix")
            return self.hp.Fixed(name, self.fixed[name])
        spec = self.space.get(name)
        if spec is None:
            return getattr(self.hp, kind)(name, *args, **kwargs)
        if not isinstance(spec, dict) or len(set(spec) - {"log", "step"}) != 1:
            raise errors.UsageError(f"--space: {name}: expected one of choice / float / int / fixed, got {spec!r}")
        given = spec["choice"] if "choice" in spec else [spec["fixed"]] if "fixed" in spec else []
        check_type(kind, name, given if isinstance(given, list) else [], choices, source="--space")
        try:
            if "choice" in spec:
                return self.hp.Choice(name, list(spec["choice"]))
            if "float" in spec:
                return self.hp.Float(name, *map(float, spec["float"]), step=spec.get("step"),
                                     sampling="log" if spec.get("log") else "linear")
            if "int" in spec:
                return self.hp.Int(name, *map(int, spec["int"]), step=spec.get("step", 1))
            if "fixed" in spec:
                return self.hp.Fixed(name, spec["fixed"])
        except (TypeError, ValueError) as err:  # KerasTuner's checks (min above max ...) or not two numbers
            raise errors.UsageError(f"--space: {name}: {spec!r} is not a valid range ({err})") from None
        raise errors.UsageError(f"--space: {name}: unknown kind {next(iter(spec))!r}; use choice, float, int or fixed")

    def Choice(self, name, *args, **kwargs):  # noqa: N802 (KerasTuner's names)
        return self._declare("Choice", name, *args, **kwargs)

    def Float(self, name, *args, **kwargs):  # noqa: N802
        return self._declare("Float", name, *args, **kwargs)

    def Int(self, name, *args, **kwargs):  # noqa: N802
        return self._declare("Int", name, *args, **kwargs)

    def Fixed(self, name, value, **kwargs):  # noqa: N802
        return self._declare("Fixed", name, value, **kwargs)


class KitHyperModel(kt.HyperModel):
    """One application's search space, built and trained by the application's kit."""

    def __init__(self, task: Task, base_args, prepared: Prepared, space, objective: str, *, fixed=None,
                 overrides=None):
        super().__init__(name=task.name)
        self.task, self.base_args, self.prepared, self.objective = task, base_args, prepared, objective
        self.app_space, self.fixed, self.overrides = space, dict(fixed or {}), dict(overrides or {})

    def space(self, hp, args) -> dict:
        """The application's space with the user's --fix and --space applied."""
        return self.app_space(Overrides(hp, self.fixed, self.overrides), args)

    def check_names(self) -> None:
        """Every --fix / --space name must be one of the space's (all models' included)."""
        seen = set()
        for model in [None, *self.task.models]:
            hp = kt.HyperParameters()
            if model is not None:
                hp.values["model"] = model
            overrides = Overrides(hp, {k: v for k, v in self.fixed.items() if k != "model"}, {})
            try:
                self.app_space(overrides, self.base_args)
            except (ValueError, KeyError):  # a model outside the space's choice
                pass
            seen |= overrides.seen
        unknown = sorted((set(self.fixed) | set(self.overrides)) - seen)
        if unknown:
            raise errors.UsageError(f"{unknown[0]} is not a hyperparameter of the {self.task.name} space; it has: "
                                 f"{', '.join(sorted(seen))}")

    def arguments(self, hp):
        """The application's options for this trial: its command line, overridden by the trial's values."""
        args = replace_args(self.base_args, **self.space(hp, self.base_args))
        if self.task.models:
            args.model = offered_model(self.task, args.model)
        if isinstance(args.batch_size, bool) or not isinstance(args.batch_size, int) or args.batch_size < 1:
            raise errors.UsageError(f"batch_size={args.batch_size!r} is invalid: expected an integer >= 1")
        self.task.check_arguments(args)
        return args

    def build(self, hp):
        """Declare the trial's hyperparameters (KerasTuner calls this to discover the conditional space)."""
        self.space(hp, self.base_args)

    def fresh_session(self, hp) -> None:
        """Before a trial (outside any strategy scope): clear the Keras session, seed, set the precision."""
        keras.backend.clear_session()  # frees the last trial's graph; also resets the dtype policy
        gc.collect()
        args = self.arguments(hp)
        training.seed_everything(args.seed, args.deterministic)
        precision.configure_precision(args.precision)

    def build_model(self, hp) -> keras.Model:
        """The trial's model, built by the application from the trial's options."""
        return self.task.build(self.arguments(hp), self.prepared)

    def fit(self, hp, model, *, trial_dir, epochs, callbacks=()):
        import tensorflow as tf

        args = self.arguments(hp)
        args.epochs = epochs
        try:
            _, result, _ = fit(self.task, args, self.prepared, optimiser_settings(args), trial_dir,
                               trial_dir / "backup", evaluate=False, model=model, callbacks=callbacks)
        except tf.errors.ResourceExhaustedError as err:
            raise kt.errors.FailedTrialError(f"out of memory: {str(err).splitlines()[0]}") from None
        history = result.history
        if history.empty or not np.isfinite(history["loss"].to_numpy(dtype=float)).all():
            raise kt.errors.FailedTrialError("the loss became NaN or infinite (TerminateOnNaN stopped it)")
        if self.objective not in history:
            raise kt.errors.FatalError(f"--objective {self.objective}: the trials log only "
                                       f"{', '.join(c for c in history.columns if c != 'epoch')}")
        values = history[self.objective].to_numpy(dtype=float)
        best = int(np.nanargmax(values) if objective_for(self.objective).direction == "max" else np.nanargmin(values))
        return {"metrics": {self.objective: float(values[best])}, "epochs": len(history), "best_epoch": best + 1}


class KitTunerMixin:
    """``run_trial`` in a fresh process per trial (``tuning.trial``), one folder per trial.

    The trial process resumes from the trial's kit backup, so a trial that a
    killed sweep hands out again continues where it stopped. It dies with the
    sweep (``tuning.trial.follow_sweep``), so a killed sweep leaves no orphan
    training on.
    """

    command: dict = {}  # app, argv, fixed, space, objective, cpu_devices: set by tuning.__main__

    def run_trial(self, trial, *fit_args, epochs=None, tensorboard=False, **fit_kwargs):
        hp = trial.hyperparameters
        trial_dir = pathlib.Path(self.get_trial_dir(trial.trial_id))
        # Named by its folder: KerasTuner's own lines count trials from 1 ("Trial 2 Complete" is trial_1).
        print(f"Training {trial_dir.name} on worker {self.tuner_id} ({trial_dir})", flush=True)
        if "tuner/epochs" in hp.values:  # Hyperband: this round's budget, warm-started from an earlier trial
            epochs = (hp.values["tuner/epochs"] - hp.values.get("tuner/initial_epoch", 0)) * self.epochs_per_unit
        earlier = hp.values.get("tuner/trial_id")
        warm_start = pathlib.Path(self.get_trial_dir(earlier)) / "final.weights.h5" if earlier else None
        (trial_dir / "result.json").unlink(missing_ok=True)
        reporting.write_json(trial_dir / "request.json", {
            **self.command, "hyperparameters": hp.get_config(), "epochs": epochs, "sweep_pid": os.getpid(),
            "warm_start": str(warm_start) if warm_start and warm_start.exists() else None})
        # No preexec_fn: forking a process that runs gRPC threads (a distributed worker) must not run
        # Python in the child; the trial process ties its life to ours itself (tuning.trial).
        subprocess.run([sys.executable, "-m", "tuning.trial", str(trial_dir / "request.json")], check=False)
        result_file = trial_dir / "result.json"
        if not result_file.exists():
            raise kt.errors.FailedTrialError("the trial process ended without a result (killed, or out of memory)")
        result = json.loads(result_file.read_text())
        if result["status"] == "fatal":
            raise kt.errors.FatalError(result["message"])
        if result["status"] != "completed":
            raise kt.errors.FailedTrialError(result["message"])
        record = json.loads((trial_dir / "kit.json").read_text())
        record["sweep_rss_mb"] = rss_mb()  # the sweep process itself: flat, as trials run elsewhere
        reporting.write_json(trial_dir / "kit.json", record)
        if tensorboard:
            write_hparams(pathlib.Path(self.project_dir) / "tensorboard" / f"trial_{trial.trial_id}", hp.values,
                          result["metrics"])
        return result["metrics"]


def rss_mb() -> float:
    """This process's resident memory now (MiB), from /proc (0 where there is none)."""
    return _proc_status("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MiB)."""
    return _proc_status("VmHWM")


def _proc_status(field: str) -> float:
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def write_hparams(folder, values: dict, metrics: dict) -> None:
    """One trial's hyperparameters and objective for TensorBoard's HParams dashboard."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams

    plain = {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}
    with tf.summary.create_file_writer(str(folder)).as_default():
        hparams.hparams(plain)
        for name, value in metrics.items():
            tf.summary.scalar(name, value, step=0)


def make_tuner(kind: str, hypermodel: KitHyperModel, *, objective: str, max_trials: int, max_epochs: int,
               directory, project_name: str, hyperparameters: kt.HyperParameters, seed: int):
    """A KerasTuner tuner of ``kind`` whose trials run through the kit; reloads an existing project."""
    classes = {"random": kt.RandomSearch, "hyperband": kt.Hyperband, "bayesian": kt.BayesianOptimization,
               "grid": kt.GridSearch}
    base = classes[kind]
    options = dict(objective=objective_for(objective), hyperparameters=hyperparameters, seed=seed,
                   directory=str(directory), project_name=project_name, overwrite=False,
                   tune_new_entries=True, allow_new_entries=True,
                   # A failed trial is recorded and the sweep goes on; only a run of failures stops it.
                   max_consecutive_failed_trials=max_trials + 1)
    units = hyperband_units(max_trials)
    if kind == "hyperband":
        options.update(max_epochs=units, factor=HYPERBAND_FACTOR)
    else:
        options.update(max_trials=max_trials)
    tuner = type(f"Kit{base.__name__}", (KitTunerMixin, base), {})(hypermodel, **options)
    tuner.epochs_per_unit = max(1, round(max_epochs / units))
    if hasattr(tuner.oracle, "_random_values"):  # the oracle itself (not a worker's client of the chief's)
        defaults_first(tuner.oracle)
        if kind == "hyperband":
            tuner.oracle.max_trials = max_trials  # stop after max_trials even mid-iteration
    return tuner


HYPERBAND_FACTOR = 3


def defaults_first(oracle) -> None:
    """The first configuration the oracle draws is the application's default one (every default value).

    Random search, Hyperband's new configurations and Bayesian optimisation's
    initial points all come from ``_random_values``; the first call returns
    the defaults instead, so the sweep's best is at least the default
    configuration (at the sweep's epoch budget). Grid search starts at the
    defaults' corner already.
    """
    draw = oracle._random_values

    def first_defaults():
        if oracle.trials:  # not the first trial (nor a resumed sweep)
            return draw()
        values = kt.HyperParameters()
        for hp in oracle.hyperparameters.space:  # as _random_values, with each default instead of a draw
            values.merge([hp])
            if values.is_active(hp):
                values.values[hp.name] = hp.default
        return values.values

    oracle._random_values = first_defaults


def hyperband_units(max_trials: int) -> int:
    """Hyperband's budget in units of ``max_epochs / units`` epochs, so one iteration fits ``max_trials``.

    KerasTuner's Hyperband with ``max_epochs=E`` starts with its most
    exploratory bracket: ``E`` configurations of one epoch each. With a few
    trials that would be all there is, so the budget is counted in units: 3
    units (factor 3) is one iteration of 6 trials (3 configurations at
    1 unit, the best continued to 3, and 2 at 3 units from the start); 9
    units is 22 trials; 27 units 63.
    """
    units = HYPERBAND_FACTOR
    for bigger, trials in ((9, 22), (27, 63)):
        if max_trials >= trials:
            units = bigger
    return units


def results_table(tuner, directory) -> pd.DataFrame:
    """Every trial: id, hyperparameters, objective, epochs, seconds, memory, status (also CSV, JSON, PNG)."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        record_file = pathlib.Path(tuner.get_trial_dir(trial_id)) / "kit.json"
        record = json.loads(record_file.read_text()) if record_file.exists() else {}
        values = {k: v for k, v in trial.hyperparameters.values.items()}
        rows.append({"trial_id": trial_id, **values, "objective": trial.score, "epochs": record.get("epochs"),
                     "seconds": record.get("seconds"), "peak_rss_mb": record.get("peak_rss_mb"),
                     "sweep_rss_mb": record.get("sweep_rss_mb"), "status": trial.status,
                     "message": (trial.message or "").strip().splitlines()[-1] if trial.message else ""})
    table = pd.DataFrame(rows)
    directory = pathlib.Path(directory)
    table.to_csv(directory / "results.csv", index=False)
    done = table[table["status"] == "COMPLETED"] if not table.empty else table
    if not done.empty:
        best = done.loc[done["objective"].idxmax() if tuner.oracle.objective.direction == "max"
                        else done["objective"].idxmin()]
        reporting.write_json(directory / "best_hyperparameters.json", {
            "trial_id": best["trial_id"], "objective": {tuner.oracle.objective.name: float(best["objective"])},
            "hyperparameters": tuner.oracle.trials[best["trial_id"]].hyperparameters.values})
        plot_objective(table, tuner.oracle.objective, directory / "objective.png")
    return table


def plot_objective(table: pd.DataFrame, objective, path) -> None:
    import matplotlib.pyplot as plt

    done = table[table["status"] == "COMPLETED"]
    order = np.arange(1, len(table) + 1)
    values = table["objective"].astype(float).where(table["status"] == "COMPLETED")
    best = values.cummax() if objective.direction == "max" else values.cummin()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(order, values, "o", label="trial")
    ax.step(order, best, where="post", label="best so far")
    failed = table["status"] != "COMPLETED"
    if failed.any():
        ax.plot(order[failed.to_numpy()], np.full(int(failed.sum()), np.nanmin(values) if len(done) else 0), "x",
                color="red", label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective.name)
    ax.grid(alpha=0.3)
    ax.legend()
    reporting.save_figure(fig, path)


def export_best(tuner, hypermodel: KitHyperModel, directory) -> list[pathlib.Path]:
    """Retrain the best trial's configuration on train + validation for its best epoch count; export it."""
    best_trials = tuner.oracle.get_best_trials(1)
    if not best_trials:
        raise errors.UsageError("no trial completed, so there is nothing to export")
    trial = best_trials[0]
    record = json.loads((pathlib.Path(tuner.get_trial_dir(trial.trial_id)) / "kit.json").read_text())
    hp = trial.hyperparameters
    args = hypermodel.arguments(hp)
    args.epochs = epochs_to_best(hp.values, record["best_epoch"], getattr(tuner, "epochs_per_unit", 1))
    prepared = hypermodel.prepared
    x_train, y_train = prepared.train
    x_val, y_val = prepared.validation
    pooled = replace(prepared, train=(np.concatenate([x_train, x_val]),
                                      None if y_train is None else np.concatenate([y_train, y_val])),
                     validation=None)
    hypermodel.fresh_session(hp)
    model = hypermodel.build_model(hp)
    run_dir = pathlib.Path(directory) / "best"
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"Retraining trial_{trial.trial_id} on train + validation for {args.epochs} epochs in {run_dir}")
    model, _, metrics = fit(hypermodel.task, args, pooled, optimiser_settings(args), run_dir, run_dir / "backup",
                            model=model)
    reporting.write_json(run_dir / "metrics.json", {**{k: v for k, v in metrics.items()
                                                       if not isinstance(v, (dict, list))},
                                                    "trial_id": trial.trial_id, "epochs": args.epochs})
    return export(hypermodel.task, model, pooled, args, metrics, keras.config.dtype_policy().name)


def epochs_to_best(values: dict, best_epoch: int, epochs_per_unit: int = 1) -> int:
    """The epochs the best trial's best weights were trained for: its own ``best_epoch``, plus, for a Hyperband
    trial warm-started from an earlier one's weights, the epochs those had trained (``tuner/initial_epoch``)."""
    warm_started = values.get("tuner/initial_epoch", 0) * epochs_per_unit if values.get("tuner/trial_id") else 0
    return int(warm_started + best_epoch)


def trials_per_hour(table: pd.DataFrame) -> float | None:
    """Timed trials per hour of their own time; None when no trial was timed (every one failed)."""
    seconds = table["seconds"].dropna()
    total = seconds.sum()
    return 3600 * len(seconds) / total if total else None


@contextlib.contextmanager
def environment(**variables):
    """Set environment variables for the block (KerasTuner reads its distribution settings from them)."""
    old = {k: os.environ.get(k) for k in variables}
    os.environ.update({k: str(v) for k, v in variables.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

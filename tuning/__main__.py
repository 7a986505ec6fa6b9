"""``python -m tuning <app> ...`` (console script ``kerazoo-tune``): a KerasTuner sweep over an application.

    python -m tuning digits --source embedded --tuner hyperband --max-trials 6 --max-epochs 9
    python -m tuning sentiment --data ../shared/data/imdb/imdb_reviews_2499.csv --tuner bayesian --max-trials 20
    python -m tuning digits --source embedded --fix model=convnet --fix batch_size=64 --space narrow.json
    python -m tuning digits --source embedded --export-best
    # several machines, one shared directory:
    python -m tuning digits --directory /shared/sweeps --role chief --oracle-address 10.0.0.1:8000
    python -m tuning digits --directory /shared/sweeps --role worker --oracle-address 10.0.0.1:8000

Every option the application has (its data options, ``--seed``, ``--precision``
...) is accepted after the sweep's own, except those the sweep decides
(``--epochs``: use ``--max-epochs``; ``--output``: ``--directory``;
``--cv``), which are one-line errors (``--export`` is read as
``--export-best``). Rerunning the same command continues an interrupted
sweep; other settings in the same ``--directory`` are refused
(``sweep.json`` records them).
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse
import importlib
import json
import os
import pathlib
import socket
import sys

from applications.kit import cli, errors, precision, reporting


def fix(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` for --fix: a hyperparameter name (``mlp.width``) and a Python literal or a bare word."""
    name, sep, value = text.partition("=")
    if not sep or not name or not name.replace(".", "_").replace("/", "_").isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. model=convnet or mlp.width=64), got {text!r}")
    return name, cli.model_arg(f"x={value}")[1]


def parse(argv):
    from tuning.spaces import SPACES
    from tuning.sweep import TUNERS

    parser = cli.ArgumentParser(prog="kerazoo-tune", description="A KerasTuner sweep over an application.",
                                epilog="Any option of the application follows (its data options, --seed ...: "
                                       "kerazoo-<app> --help lists them).")
    parser.add_argument("app", choices=sorted(SPACES))
    parser.add_argument("--tuner", choices=TUNERS, default="random")
    parser.add_argument("--max-trials", type=cli.positive_int, default=10)
    parser.add_argument("--max-epochs", type=cli.positive_int, default=10,
                        help="epochs per trial (Hyperband: the most any trial gets)")
    parser.add_argument("--directory", default="sweeps", help="the sweep's folder: DIRECTORY/<app>/ (default: sweeps)")
    parser.add_argument("--objective", help="a logged value to optimise (default: val_accuracy for classifiers, "
                                            "else val_loss)")
    parser.add_argument("--fix", type=fix, action="append", default=[], metavar="NAME=VALUE",
                        help="fix a hyperparameter (repeatable), e.g. --fix model=convnet --fix batch_size=64")
    parser.add_argument("--space", help="a JSON or YAML file narrowing or widening hyperparameters, e.g. "
                                        '{"learning_rate": {"float": [1e-4, 1e-3], "log": true}}')
    parser.add_argument("--export-best", action="store_true",
                        help="retrain the best configuration on train + validation and export it")
    parser.add_argument("--tensorboard-hparams", action="store_true",
                        help="write TensorBoard HParams logs to DIRECTORY/<app>/tensorboard")
    parser.add_argument("--cpu-devices", type=cli.positive_int, default=1,
                        help="split the CPU into this many logical devices and mirror over them (testing the "
                             "multi-GPU code path on a CPU); several GPUs are mirrored by themselves")
    parser.add_argument("--role", choices=("chief", "worker"),
                        help="distributed sweep: the chief runs the oracle, workers run trials "
                             "(or set KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT)")
    parser.add_argument("--oracle-address", metavar="HOST:PORT", help="where the chief's oracle listens")
    parser.add_argument("--tuner-id", help="this worker's name (default: worker-<host>-<pid>)")
    args, rest = parser.parse_known_args(argv)
    if args.role and not args.oracle_address:
        raise errors.UsageError("--role needs --oracle-address HOST:PORT (the chief's address)")
    if args.oracle_address and not args.role:
        raise errors.UsageError("--oracle-address is for a distributed sweep: pass --role chief or --role worker too")
    if args.tuner_id and args.role != "worker":
        raise errors.UsageError("--tuner-id names a worker: pass it with --role worker (the chief's id is 'chief')")
    if args.oracle_address:
        oracle_address(args.oracle_address)  # checked now, before the data is loaded
    return args, rest


def oracle_address(text: str) -> tuple[str, str]:
    """``HOST:PORT`` -> (host, port); a port outside 1..65535 or no host is a one-line error."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise errors.UsageError(f"--oracle-address {text}: expected HOST:PORT with a port in 1..65535, "
                             "e.g. 10.0.0.1:8000")
    return host, port


# Application options that a sweep decides itself: given anyway, they would be silently ignored.
SWEEP_DECIDES = {
    "epochs": "each trial trains for --max-epochs",
    "output": "the trials are written under --directory",
    "cv": "a sweep scores each trial on the validation split",
    "model_arg": "the space sets the model's arguments; fix one with --fix <model>.<argument>=VALUE "
                 "(e.g. --fix mlp.width=64)",
    "strategy": "a sweep places each trial on the devices it finds itself (one GPU each, or the CPU)",
    "ensemble": "each trial trains one model; train an ensemble of the best configuration with the application",
    "ensemble_kind": "each trial trains one model; train an ensemble of the best configuration with the "
                     "application",
}


def refuse_options_the_sweep_decides(task, app_args, *, prog, export_best: bool) -> None:
    """A one-line error for an application option (``--epochs 3``) that the sweep would not use.

    ``--export-dir`` is used only by ``--export-best``.
    """
    from applications.kit import run

    from tuning.spaces import SPACE_DECIDES

    defaults = run.parse_args(task, [], prog=prog)
    for name, instead in {**SWEEP_DECIDES, **SPACE_DECIDES.get(task.name, {})}.items():
        if getattr(app_args, name, None) != getattr(defaults, name, None):
            raise errors.UsageError(f"--{name.replace('_', '-')} is not used by a sweep: {instead}")
    if app_args.weight_decay and app_args.optimizer != "adamw":
        raise errors.UsageError("--weight-decay is searched with --optimizer adamw only (the space's other "
                                "optimisers take none): pass --optimizer adamw too, or leave it out")
    if not export_best and app_args.export_dir != defaults.export_dir:
        raise errors.UsageError("--export-dir is where --export-best exports: pass --export-best too")


def check_objective(objective: str, task, app_args) -> None:
    """A one-line error, before any trial trains, for an objective the application's models do not log."""
    names = ["loss", *(m if isinstance(m, str) else m.name for m in task.metrics(app_args) or [])]
    logged = [*names, *(f"val_{name}" for name in names)]
    if objective not in logged:
        raise errors.UsageError(f"--objective {objective} is not a value {task.name}'s models log; use one of "
                                f"{', '.join(logged)}")


def read_space(path) -> dict:
    if not path:
        return {}
    text = pathlib.Path(path).read_text() if pathlib.Path(path).is_file() else None
    if text is None:
        raise errors.UsageError(f"--space {path}: no such file")
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            space = yaml.safe_load(text)
        else:
            space = json.loads(text)
    except Exception as err:  # json.JSONDecodeError, yaml.YAMLError
        mark = getattr(err, "problem_mark", None)  # YAML's own message spans several lines, ending in a caret
        where = f"{err.problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else \
            errors.first_line(err)
        raise errors.UsageError(f"--space {path} cannot be read ({type(err).__name__}: {where})") from None
    if not isinstance(space, dict):
        raise errors.UsageError(f"--space {path}: expected a mapping of hyperparameter names to ranges")
    return space


def distribution_environment(args) -> dict:
    """The variables KerasTuner's distributed mode reads, from --role / --oracle-address."""
    if not args.role:
        return {}
    host, port = oracle_address(args.oracle_address)
    tuner_id = "chief" if args.role == "chief" else (args.tuner_id or f"worker-{socket.gethostname()}-{os.getpid()}")
    return {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": port}


def check_same_sweep(project: pathlib.Path, settings: dict, *, writer: bool) -> None:
    """One folder, one sweep: a rerun resumes it only with the same settings (``--max-trials`` may grow).

    KerasTuner reloads whatever sweep the folder holds, so a changed objective,
    tuner, space or application option would mix trials of two sweeps and
    report a best that belongs to neither. ``writer``: record the settings
    (the chief, or a sweep on one machine; workers only check).
    """
    settings = json.loads(json.dumps(settings, default=str))  # as the record holds them: lists, strings
    record = project / "sweep.json"
    if record.exists():
        previous = json.loads(record.read_text())
        changed = [k for k in sorted(previous.keys() | settings.keys()) if previous.get(k) != settings.get(k)]
        if changed:
            key = changed[0]
            raise errors.UsageError(f"{project} holds a sweep with other settings ({key} {previous.get(key)!r} there, "
                                 f"{settings.get(key)!r} now); rerun its command to resume it, or give another "
                                 "--directory")
    elif writer:
        try:
            project.mkdir(parents=True, exist_ok=True)
            reporting.write_json(record, settings)  # atomic: its existence marks a sweep's settings
        except OSError as err:
            raise errors.UsageError(f"--directory {project.parent} cannot hold a sweep ({err.strerror}: "
                                    f"{err.filename}); choose another folder") from None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args, rest = parse(argv)
    from tuning.spaces import SPACES

    module_name, class_name, space, default_objective = SPACES[args.app]
    task = getattr(importlib.import_module(module_name), class_name)()
    from tuning import devices

    strategy = devices.strategy(args.cpu_devices)  # before TensorFlow runs anything (logical devices)
    import keras_tuner as kt

    from applications.kit import run, training
    from tuning import sweep

    app_args = run.parse_args(task, rest, prog=f"kerazoo-tune {args.app}")
    refuse_options_the_sweep_decides(task, app_args, prog=f"kerazoo-tune {args.app}", export_best=args.export_best)
    if args.export_best:
        run.check_export_dir(app_args.export_dir)  # now, not after the sweep
    training.seed_everything(app_args.seed, app_args.deterministic)
    precision.configure_precision(app_args.precision)
    prepared = run.load_data(task, app_args)
    run.print_data(prepared, f"; devices: {devices.describe()}, {strategy.num_replicas_in_sync} replica(s)")
    if prepared.validation is None:
        raise errors.UsageError(f"{task.name} has no validation split to tune on")
    objective = args.objective or default_objective
    check_objective(objective, task, app_args)
    overrides = read_space(args.space)
    hypermodel = sweep.KitHyperModel(task, app_args, prepared, space, objective, fixed=dict(args.fix),
                                     overrides=overrides)
    hypermodel.check_names()
    # The default trial's options and model: an impossible --fix or --space is one error now, not one per trial.
    hp = kt.HyperParameters()
    hypermodel.fresh_session(hp)
    hypermodel.build_model(hp)
    default_trial = hypermodel.arguments(hp)
    default_trial.epochs = args.max_epochs
    run.optimiser_settings(default_trial)  # an impossible optimiser, rate or schedule too
    directory = pathlib.Path(args.directory)
    check_same_sweep(directory / task.name, {
        "--tuner": args.tuner, "--max-epochs": args.max_epochs, "--objective": objective, "--fix": dict(args.fix),
        "--space": overrides, **{f"--{k.replace('_', '-')}": v for k, v in run.training_arguments(app_args).items()}},
        writer=args.role != "worker")
    with sweep.environment(**distribution_environment(args)):
        tuner = sweep.make_tuner(args.tuner, hypermodel, objective=objective, max_trials=args.max_trials,
                                 max_epochs=args.max_epochs, directory=directory, project_name=task.name,
                                 hyperparameters=hp, seed=app_args.seed)
        # What each trial's own process needs to rebuild the application and the space.
        tuner.command = {"app": args.app, "argv": rest, "fixed": dict(args.fix), "space": overrides,
                         "objective": objective, "cpu_devices": args.cpu_devices}
        if args.role == "worker":
            print(f"Worker {os.environ['KERASTUNER_TUNER_ID']}: asking the chief at {args.oracle_address} for trials "
                  "(waits until the chief answers)", flush=True)
        try:
            tuner.search(epochs=args.max_epochs, tensorboard=args.tensorboard_hparams)
        except kt.errors.FatalError as err:
            raise errors.UsageError(str(err).splitlines()[0]) from None
        except RuntimeError as err:  # grpc, when the chief's oracle cannot listen there
            if not str(err).startswith("Failed to bind to address"):
                raise
            raise errors.UsageError(f"the chief cannot listen on --oracle-address {args.oracle_address}: give an "
                                 "address of this machine (or 0.0.0.0) and a port no other program uses") from None
        if args.role == "worker":
            print(f"Worker {os.environ['KERASTUNER_TUNER_ID']}: no more trials")
            return 0
    project = directory / task.name
    table = sweep.results_table(tuner, project)
    done = table[table["status"] == "COMPLETED"]
    rate = sweep.trials_per_hour(table)
    print(f"{len(table)} trials ({len(done)} completed, {len(table) - len(done)} failed); "
          f"{f'{rate:.0f} trials per hour' if rate else 'none timed'}; results in {project}/results.csv, "
          "objective.png, best_hyperparameters.json")
    if not done.empty:
        best = json.loads((project / "best_hyperparameters.json").read_text())
        print(f"Best: trial_{best['trial_id']}, {objective} {best['objective'][objective]:.4f}: "
              f"{best['hyperparameters']}")
    if args.export_best:
        for path in sweep.export_best(tuner, hypermodel, project):
            print(f"Best configuration exported to {path}")
    return 0


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-tune"))


if __name__ == "__main__":
    cli_main()

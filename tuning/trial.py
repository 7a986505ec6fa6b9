"""One trial of a sweep, in its own process: ``python -m tuning.trial TRIAL_DIR/request.json``.

The sweep process (``tuning.sweep.KitTunerMixin.run_trial``) writes the
request (the application, its command line, the ``--fix``/``--space``
overrides and the trial's hyperparameters) and waits; this process loads the
application's data (quietly: the sweep has printed its summary once), builds
the trial's model, trains it through the kit
(resuming from the trial's backup if there is one), and writes
``result.json`` (the objective, or why the trial failed) and ``kit.json``.
A fresh process per trial is what keeps the sweep's memory flat:
TensorFlow keeps some of every traced function alive for the life of a
process, about 9 MB per convnet trial here even after ``clear_session``.
"""

from __future__ import annotations

if __name__ == "__main__":
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import importlib
import json
import os
import pathlib
import sys
import time


def follow_sweep(sweep_pid: int) -> None:
    """Be killed when the sweep process dies (Linux ``PR_SET_PDEATHSIG``); leave if it is gone already."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the trial may outlive a killed sweep
        pass
    if os.getppid() != sweep_pid:
        sys.exit("the sweep that started this trial has ended")


def main(request_file) -> int:
    request = json.loads(pathlib.Path(request_file).read_text())
    follow_sweep(request["sweep_pid"])
    trial_dir = pathlib.Path(request_file).parent
    from tuning import devices

    strategy = devices.strategy(request["cpu_devices"])  # before TensorFlow runs anything (logical devices)
    import keras_tuner as kt

    from applications.kit import errors, precision, reporting, run, training
    from tuning import sweep
    from tuning.spaces import SPACES

    module_name, class_name, space, _ = SPACES[request["app"]]
    task = getattr(importlib.import_module(module_name), class_name)()
    args = run.parse_args(task, request["argv"])
    training.seed_everything(args.seed, args.deterministic)
    precision.configure_precision(args.precision)
    prepared = task.load(args)  # quietly: the sweep printed what loading found (prepared.notes) once
    hypermodel = sweep.KitHyperModel(task, args, prepared, space, request["objective"], fixed=request["fixed"],
                                     overrides=request["space"])
    hp = kt.HyperParameters.from_config(request["hyperparameters"])
    started = time.perf_counter()
    result = {"status": "failed"}
    try:
        hypermodel.fresh_session(hp)
        with strategy.scope():
            model = hypermodel.build_model(hp)
            if request.get("warm_start"):
                model.load_weights(request["warm_start"])
            outcome = hypermodel.fit(hp, model, trial_dir=trial_dir, epochs=request["epochs"])
        model.save_weights(trial_dir / "final.weights.h5")
        reporting.write_json(trial_dir / "kit.json", {
            "epochs": outcome["epochs"], "best_epoch": outcome["best_epoch"],
            "seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": sweep.peak_rss_mb()})
        result = {"status": "completed", "metrics": outcome["metrics"]}
    except kt.errors.FailedTrialError as err:
        result["message"] = str(err)
    except errors.USER_ERRORS as err:  # this trial's values cannot run (e.g. a --space range reaching a negative rate)
        result["message"] = str(err)
    except kt.errors.FatalError as err:
        result.update(status="fatal", message=str(err))
    reporting.write_json(trial_dir / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

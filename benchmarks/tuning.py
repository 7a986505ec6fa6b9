"""Sweeps on the embedded digits: the README's Hyperband command against the default configuration, and memory.

    python -m benchmarks.tuning          # ~10 min on 2 cores

1. The README's sweep, timed as a user runs it (a fresh process):
   ``python -m tuning digits --source embedded --tuner hyperband --max-trials 6 --max-epochs 30``.
   Its best trial's validation accuracy is compared with the digits
   application's default configuration (``python -m applications.digits
   --source embedded``) on the same split (seed 42: 1,293 train / 144
   validation / 360 test): the best validation accuracy of its run.
2. Memory: a 20-trial random sweep (3 epochs each): the sweep process's
   resident memory after each trial and its growth from trial 2 to trial 20
   (goal: under 10 %), and the peak of each trial's own process.

Writes ``benchmarks/results/tuning.json`` and prints a Markdown table.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import json  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README_SWEEP = ["digits", "--source", "embedded", "--tuner", "hyperband", "--max-trials", "6", "--max-epochs", "30"]


def python(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return time.perf_counter() - started


def main(argv=None):
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        seconds = python("-m", "tuning", *README_SWEEP, "--directory", str(work / "sweeps"), cwd=work)
        sweep = pd.read_csv(work / "sweeps" / "digits" / "results.csv")
        best = json.loads((work / "sweeps" / "digits" / "best_hyperparameters.json").read_text())
        default_seconds = python("-m", "applications.digits", "--source", "embedded", "--output", str(work / "runs"),
                                 "--verbose", "0", cwd=work)
        run_dir = next((work / "runs" / "digits").glob("2*"))
        default = pd.read_csv(run_dir / "history.csv")
        default_metrics = json.loads((run_dir / "metrics.json").read_text())

        memory_seconds = python("-m", "tuning", "digits", "--source", "embedded", "--tuner", "random",
                                "--max-trials", "20", "--max-epochs", "3", "--directory", str(work / "memory"),
                                "--verbose", "0", cwd=work)
        memory = pd.read_csv(work / "memory" / "digits" / "results.csv")
    rss = memory["sweep_rss_mb"].tolist()  # the sweep process (each trial runs in its own)
    growth = (rss[-1] - rss[1]) / rss[1]
    figures = {
        "readme_sweep": {"command": "python -m tuning " + " ".join(README_SWEEP), "wall_seconds": round(seconds, 1),
                         "trials": len(sweep), "completed": int((sweep["status"] == "COMPLETED").sum()),
                         "best_val_accuracy": best["objective"]["val_accuracy"],
                         "best_hyperparameters": best["hyperparameters"],
                         "trials_per_hour": round(3600 * len(sweep) / seconds, 1)},
        "default_configuration": {"command": "python -m applications.digits --source embedded",
                                  "best_val_accuracy": float(default["val_accuracy"].max()),
                                  "test_accuracy": default_metrics["test_accuracy"],
                                  "epochs": len(default), "wall_seconds": round(default_seconds, 1)},
        "memory": {"trials": len(memory), "sweep_rss_mb_after_each_trial": rss,
                   "trial_peak_rss_mb": memory["peak_rss_mb"].tolist(), "peak_rss_mb": memory["peak_rss_mb"].max(),
                   "growth_trial_2_to_20": growth, "wall_seconds": round(memory_seconds, 1)},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tuning.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    r, d, m = figures["readme_sweep"], figures["default_configuration"], figures["memory"]
    print("| measurement | value |\n|---|---|")
    print(f"| `{r['command']}` | {r['wall_seconds']:.0f} s wall, {r['completed']}/{r['trials']} trials completed, "
          f"best validation accuracy {r['best_val_accuracy']:.4f} |")
    print(f"| `{d['command']}` (default configuration) | best validation accuracy {d['best_val_accuracy']:.4f}, "
          f"test accuracy {d['test_accuracy']:.4f}, {d['epochs']} epochs |")
    print(f"| 20-trial random sweep: the sweep's resident memory after trial 2 / 20 | {rss[1]:.0f} / {rss[-1]:.0f} "
          f"MiB ({100 * growth:+.1f} %); each trial's process peaks at {min(m['trial_peak_rss_mb']):.0f}-"
          f"{m['peak_rss_mb']:.0f} MiB |")


if __name__ == "__main__":
    main()

"""The course's claims as runnable experiments: ``kerazoo-study NAME`` measures one and writes a report.

    python -m applications.studies --list
    python -m applications.studies activations            # runs/studies/activations/<stamp>/report.md
    python -m applications.studies initialisation --epochs 10 --output runs
    python -m applications.studies regularisation --data ../shared/data/fashion_mnist

Each study trains models of the zoo with Keras' ``fit`` on real data (the 8x8
digits that ship with scikit-learn, 1,797 images, a stratified 75/25 split,
unless it needs a toy problem; ``--data`` gives other images), writes every measurement to ``results.csv``,
draws its figures as PNG files, and writes ``report.md``: the question, the
setting, the figures, and the answer computed from the measurements. Each
default runs in under 2 minutes on 2 CPU cores.

The studies live in ``basics.py`` (perceptron, activations, initialisation),
``optimisation.py`` (optimisers, weight decay, learning rate) and
``generalisation.py`` (regularisation, capacity, ensembles), registered in
``registry.py``; this module is the command.
"""

from __future__ import annotations

import pathlib
import sys

from applications.kit import cli, errors, reporting, training
# Imported for the studies they register, in the course's order (--list keeps it):
from applications.studies import basics  # noqa: F401
from applications.studies import optimisation  # noqa: F401
from applications.studies import generalisation  # noqa: F401
from applications.studies.registry import STUDIES, Study


def write_report(run_dir: pathlib.Path, study_: Study, setting: str, figures: list[str], answer: str) -> None:
    lines = [f"# Study: {study_.name}", "", f"**Question.** {study_.question}", "", f"**Setting.** {setting}", ""]
    lines += [f"![{figure}]({figure})" for figure in figures]
    lines += ["", f"**Answer (measured, from results.csv).** {answer}", ""]
    (run_dir / "report.md").write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-study", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="the study to run (--list names them)")
    parser.add_argument("--list", action="store_true", help="name every study, one line each")
    parser.add_argument("--epochs", type=cli.positive_int,
                        help="epochs of each model the study trains (default: the study's own, 20 for most)")
    parser.add_argument("--depth", type=cli.positive_int, default=10,
                        help="hidden layers of the deep MLPs (default: 10)")
    parser.add_argument("--members", type=cli.positive_int, default=5, help="ensemble members (default: 5)")
    parser.add_argument("--per-class", type=cli.positive_int, default=20,
                        help="regularisation: training images per class (default: 20)")
    parser.add_argument("--data", help="an MNIST-style folder of IDX files or an .npz of images and labels, "
                                       "instead of the 8x8 digits (not for perceptron, which has its own sets)")
    parser.add_argument("--train-size", type=cli.positive_int, default=2000,
                        help="with --data: training images drawn from it, stratified (default: 2000)")
    parser.add_argument("--test-size", type=cli.positive_int, default=2000,
                        help="with --data: test images drawn from its test part (default: 2000)")
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
    args.epochs = args.epochs or study_.epochs
    if args.data and args.name == "perceptron":
        raise errors.UsageError("perceptron runs on its own sets (iris, XOR); drop --data")
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

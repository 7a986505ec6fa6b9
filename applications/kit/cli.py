"""Command-line plumbing shared by the applications: the common options, one-line errors, exit code 2."""

from __future__ import annotations

import argparse
import ast
import sys

from applications.kit.errors import USER_ERRORS
from applications.kit.optimisation import OPTIMIZERS, SCHEDULES
from applications.kit.precision import PRECISIONS


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the problem and the fix."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def seed(text: str) -> int:
    """A random seed: what NumPy and TensorFlow accept, 0 to 2**32 - 1."""
    value = _whole_number(text, 0)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be at most 2**32 - 1 = {2**32 - 1}, got {value}")
    return value


def folds(text: str) -> int:
    """A number of cross-validation folds: 2 or more."""
    return _whole_number(text, 2)


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def fraction(text: str) -> float:
    value = number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def model_arg(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE a Python literal (``small_inputs=True``, ``units=[64, 32]``) or a bare word."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. small_inputs=True), got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a bare word such as activation=gelu


def image_size(text: str) -> tuple[int, int]:
    """``H`` or ``HxW`` in pixels."""
    parts = text.lower().split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected H or HxW in pixels (e.g. 32 or 32x48), got {text!r}")
    return (sizes[0], sizes[-1])


def freeze_spec(text: str):
    """``--freeze``: ``none``, ``backbone`` or a number of layers >= 1."""
    if text in ("none", "backbone"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected none, backbone or a number of layers >= 1, got {text!r}")
    return value


def add_common_options(parser: argparse.ArgumentParser, app: str, *, epochs: int, batch_size: int,
                       learning_rate: float, optimizer: str = "adam", schedule: str = "plateau") -> None:
    """The options every application has, with the application's defaults."""
    group = parser.add_argument_group("training (common to every application)")
    group.add_argument("--epochs", type=positive_int, default=epochs,
                       help=f"most epochs; early stopping usually ends sooner (default: {epochs})")
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help=f"(default: {batch_size})")
    group.add_argument("--learning-rate", type=number, default=learning_rate,
                       help=f"peak learning rate (default: {learning_rate:g})")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default=optimizer,
                       help=f"momentum and nesterov use momentum 0.9 (default: {optimizer})")
    group.add_argument("--schedule", choices=SCHEDULES, default=schedule,
                       help="learning-rate schedule, stepped per batch; plateau halves the rate when the "
                            f"monitored loss stalls (default: {schedule})")
    group.add_argument("--warmup-epochs", type=number, default=0.0,
                       help="linear warm-up from 0 before the schedule (default: 0)")
    group.add_argument("--clip-norm", type=number, help="clip the global gradient norm to this")
    group.add_argument("--clip-value", type=number, help="clip each gradient element to +-this")
    group.add_argument("--weight-decay", type=number, default=0.0,
                       help="decoupled weight decay (AdamW with --optimizer adamw) (default: 0)")
    group.add_argument("--seed", type=seed, default=42, help="(default: 42)")
    group.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="dtype policy; auto: mixed_float16 on GPU, mixed_bfloat16 on CPUs with native "
                            "bfloat16, else float32 (mixed_float16 on a CPU without float16 warns: emulated, slow)")
    group.add_argument("--deterministic", action="store_true",
                       help="TensorFlow op determinism: the same command gives bit-identical weights")
    group.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                       help="default: one device; mirrored: every GPU of this machine; multiworker: the "
                            "machines TF_CONFIG names, one process each with the same command (default: default)")
    group.add_argument("--output", default="runs", help=f"runs are written under OUTPUT/{app}/ (default: runs)")
    group.add_argument("--export", action="store_true",
                       help=f"also write a SavedModel to EXPORT_DIR/{app}/<version>/")
    group.add_argument("--export-dir", default="saved_models", help="(default: saved_models)")
    group.add_argument("--tensorboard", action="store_true", help="also log to <run folder>/tensorboard")
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2)
    transfer = parser.add_argument_group("transfer learning (common to every application)")
    transfer.add_argument("--init-from", metavar="RUN|FILE",
                          help="start from another run's weights (its folder or model.keras) or a .keras/.weights.h5 "
                               "file, matched by layer name; a layer of other shapes (a head for other classes) "
                               "starts new, and the run says which")
    transfer.add_argument("--freeze", type=freeze_spec, default="none", metavar="none|backbone|N",
                          help="layers kept fixed in training: backbone = every layer with weights but the last "
                               "(the head); N = the first N layers with weights (default: none)")
    transfer.add_argument("--fine-tune-epochs", type=non_negative_int, default=0, metavar="E",
                          help="a second phase of at most E epochs after --epochs: every layer trains (batch "
                               "normalisation stays in inference mode) at --fine-tune-learning-rate; the first "
                               "phase then trains with the backbone frozen unless --freeze says otherwise")
    transfer.add_argument("--fine-tune-learning-rate", type=number, default=1e-5, metavar="R",
                          help="the second phase's peak learning rate (default: 1e-5)")


def add_model_options(parser: argparse.ArgumentParser, *, default: str, choices: list[str]) -> None:
    parser.add_argument("--model", default=default,
                        help=f"a registered model (default: {default}); one of: {', '.join(choices)}")
    parser.add_argument("--model-arg", type=model_arg, action="append", default=[], metavar="KEY=VALUE",
                        help="pass a builder argument, e.g. --model-arg small_inputs=True (repeatable; "
                             "values are Python literals)")


def run(main, argv=None, prog=None) -> int:
    """Call ``main(argv)``; turn the user's mistakes into one line + exit 2.

    ``UsageError``, ``DataError`` and ``OptimisationError`` are the user's;
    other exceptions are bugs and keep their traceback.
    """
    prog = prog or "kerazoo"
    try:
        return main(argv) or 0
    except SystemExit as done:  # argparse: --help, or a usage error it already printed in one line
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(f"{prog}: error: {done.code}", file=sys.stderr)  # SystemExit("message"): Python exits 1 with it
        return 1
    except USER_ERRORS as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume from the last epoch",
              file=sys.stderr)
        return 130


def image_size_hint(error) -> str:
    """The option that makes an image model accept small images, from its builder's ``zoo.ArgumentError``."""
    import re

    if error.argument != "input_shape":  # another argument's complaint: no size will fix it
        return ""
    if "small_inputs=True" in error.allowed:
        return "; add --model-arg small_inputs=True, or --resize 32"
    needed = re.search(r"(\d+)", error.allowed)
    if needed:
        return f"; add --resize {needed.group(1)}"
    return ""

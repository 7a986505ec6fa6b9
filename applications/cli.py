"""Command-line plumbing shared by the applications: one-line errors, exit code 2."""

from __future__ import annotations

import argparse
import sys

from applications.data import DataError


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the problem and the fix."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def run(main, argv=None, prog=None) -> int:
    """Call ``main(argv)``; turn ``UsageError`` and ``DataError`` into one line + exit 2.

    Other exceptions are bugs and keep their traceback.
    """
    prog = prog or "kerazoo"
    try:
        return main(argv) or 0
    except (UsageError, DataError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume from the last epoch",
              file=sys.stderr)
        return 130

"""The user's mistakes: one line naming the problem and the fix, exit code 2, never a traceback.

A leaf of the kit: it imports nothing of the package, so every module may
raise these without an import circle. ``cli.run`` catches ``USER_ERRORS``;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem with what the user asked for (an option, a combination of options, a folder)."""


class DataError(ValueError):
    """The data cannot be used as given; the message says why and what to do."""


class OptimisationError(ValueError):
    """An invalid optimiser, schedule or clipping setting; the message names the option."""


class BackupMismatch(UsageError):
    """A backup that this run cannot resume from (another model, an older package); the message says what to delete."""


USER_ERRORS = (UsageError, DataError, OptimisationError)


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of a library's exception message (at most ``limit`` characters), to quote in one line."""
    return (str(err).strip().splitlines() or [""])[0][:limit]

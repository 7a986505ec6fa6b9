"""CSV/TSV tables through pandas: ``read_table`` (refuses what is not text, names the separator),
``pick_column``, ``load_text_table``.
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np

from applications.kit.data.checks import whole_numbers_as_int
from applications.kit.data.files import Dataset
from applications.kit.errors import DataError


def read_table(path, sep: str | None = None):
    """A CSV or TSV file (or one gzipped, ``.csv.gz``) as a pandas DataFrame; the separator from the extension
    unless ``sep`` is given.

    A header read as one column that holds another separator (``text;label``)
    is an error naming ``--sep``, not a table of one column.
    """
    import pandas as pd

    path = pathlib.Path(path)
    if path.is_dir():
        raise DataError(f"--data {path} is a folder; give the CSV or TSV file itself")
    if not path.is_file():
        raise DataError(f"--data {path}: no such file")
    gzipped = path.suffix.lower() == ".gz"
    kind = pathlib.Path(path.stem).suffix.lower() if gzipped else path.suffix.lower()  # reviews.tsv.gz: .tsv
    sep = {"\\t": "\t"}.get(sep, sep) or ("\t" if kind in (".tsv", ".tab") else ",")  # --sep '\t'
    try:
        with (gzip.open if gzipped else open)(path, "rb") as file:
            start = file.read(1 << 16)
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path} could not be read ({err}); give a CSV or TSV file, or one compressed with gzip") \
            from None
    if b"\0" in start:  # a binary file (or UTF-16): refused in milliseconds, not after pandas read it whole
        raise DataError(f"{path} is not a text table (it holds NUL bytes); give a CSV or TSV file saved as UTF-8")
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; give a file with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        first = start.split(b"\n", 1)[0].decode("utf-8", "replace")
        likely = _likely_separator(first, sep)
        fix = f"its header looks {likely!r}-separated: pass --sep '{_option(likely)}'" if likely else \
            "check the file or pass --sep"
        raise DataError(f"{path} could not be read as {sep!r}-separated text ({str(err).strip()}); {fix}") from None
    if frame.empty:
        raise DataError(f"{path} has a header ({', '.join(map(str, frame.columns))}) but no data rows")
    header = str(frame.columns[0])
    likely = _likely_separator(header, sep)
    if len(frame.columns) == 1 and likely:  # "text;label" read as one column
        raise DataError(f"{path} read as {sep!r}-separated text has one column, {header!r}, which looks "
                        f"{likely!r}-separated: pass --sep '{_option(likely)}'")
    return frame


def _likely_separator(header_line: str, sep: str) -> str | None:
    """Another separator the header line holds (``text;label`` read with ``,``), or None."""
    return next((other for other in (";", "\t", "|", ",") if other != sep and other in header_line), None)


def _option(separator: str) -> str:
    """How ``--sep`` is written for ``separator`` on a command line (a tab as ``\\t``)."""
    return "\\t" if separator == "\t" else separator


def pick_column(frame, wanted: str | None, option: str, usual=(), path="the file") -> str:
    """``wanted`` if the table has it; with ``wanted=None`` the first of ``usual`` it has."""
    columns = [str(c) for c in frame.columns]
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path} has no column {wanted!r} (its columns: {', '.join(columns)}); "
                            f"pass {option} with one of them")
        return wanted
    for name in usual:
        if name in columns:
            return name
    raise DataError(f"{path} has none of the usual columns {', '.join(usual)} (its columns: "
                    f"{', '.join(columns)}); pass {option}")


def load_text_table(path, *, text_column=None, label_column=None, sep=None) -> Dataset:
    """Texts and labels from a CSV/TSV: a ``Dataset`` (``x`` the texts, ``y`` the label values).

    Columns default to the usual names (``text``/``review``/``sentence``, and
    ``label``/``sentiment``/``polarity``/``target``). Rows with no label, and
    rows whose text is empty, are dropped and counted (``notes``); labels keep their values
    (``encode_labels`` maps them to class ids).
    """
    frame = read_table(path, sep)
    text_column = pick_column(frame, text_column, "--text-column", ("text", "review", "sentence"), path)
    label_column = pick_column(frame, label_column, "--label-column",
                               ("label", "sentiment", "polarity", "target"), path)
    texts = frame[text_column].fillna("").astype(str).to_numpy(dtype=object)
    labels = frame[label_column]
    keep = labels.notna().to_numpy() & np.array([bool(t.strip()) for t in texts])
    if not keep.any():
        raise DataError(f"{path}: every row has an empty {text_column!r} or no {label_column!r}; "
                        "nothing to learn from")
    dropped = len(frame) - int(keep.sum())
    notes = [f"{path}: dropped {dropped} of {len(frame)} rows (an empty text or no label)"] if dropped else []
    values = labels[keep]
    if values.dtype == object or str(values.dtype) == "str":
        values = values.to_numpy(dtype=object)
    else:  # a missing label makes pandas read 0 / 1 as 0.0 / 1.0
        values = whole_numbers_as_int(values.to_numpy())
    return Dataset(texts[keep], values, f"{path} ({int(keep.sum())} texts, columns {text_column!r} / {label_column!r})",
                   notes=notes)

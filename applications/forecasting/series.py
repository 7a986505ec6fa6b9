"""Forecasting's data preparation: time series from tables (a time column found and parsed, a regular grid,
gaps filled: ``series_from_frame``, ``load_series``) and forecasting windows (``make_windows``).

What was done to the data (rows dropped, gaps filled, a time format guessed) is
returned in ``Series.notes`` for the run to print; nothing here prints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from applications.kit.data import pick_column, read_table
from applications.kit.errors import DataError


@dataclass
class Series:
    """A multivariate time series ready for windows: ``values [time, columns]`` float32, targets first."""

    values: np.ndarray
    columns: list[str]
    targets: list[str]
    source: str
    time: object = None  # a pandas index of timestamps, or None (row numbers)
    notes: list[str] = field(default_factory=list)  # what was done to the data, for the run to print


def series_from_frame(frame, *, source: str, time_column=None, targets=None, features=None, categorical=(),
                      max_gap: int = 24, freq: str | None = None, dayfirst: bool = False) -> Series:
    """Select, encode and gap-fill the columns of ``frame`` for forecasting.

    - ``time_column`` (or the first of date/time/datetime/timestamp) orders the
      rows and is not a feature; ``dayfirst`` reads 01/02/2020 as 1 February;
    - ``targets``: the columns forecast (default: every numeric column);
      ``features``: the columns read (default: every numeric column, or only
      the ``targets`` when they are named: channels forecast on their own,
      each from its own past, beat mixing in other series on small data);
      the inputs are the targets, then the other features;
    - ``categorical`` columns are one-hot encoded into features; any other
      non-numeric column is an error naming the fix;
    - time steps missing from the grid of ``freq`` (a pandas frequency), or
      else from an otherwise regular time column, become rows of missing
      values (``regular_time_steps``), so that a window never spans a hole;
    - missing values are forward-filled up to ``max_gap`` steps (the run says
      how many); leading rows with missing values are dropped; a longer gap
      is an error naming where.
    """
    import pandas as pd

    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    time = None
    notes = []
    if time_column is None:
        time_column = next((c for c in frame.columns if c.lower() in ("date", "time", "datetime", "timestamp")),
                           None) or find_time_column(frame)
    if time_column is None and freq is not None:
        raise DataError(f"{source} has no time column for --freq {freq}: name it with --time-column")
    if time_column is not None:
        time_column = pick_column(frame, time_column, "--time-column", path=source)
        stamps = parse_timestamps(frame[time_column], time_column, source=source, dayfirst=dayfirst, notes=notes)
        frame = frame.assign(**{time_column: stamps}).sort_values(time_column, kind="stable")
        frame, time = regular_time_steps(frame.drop(columns=time_column), pd.DatetimeIndex(frame[time_column]),
                                         source=source, freq=freq, notes=notes)
    categorical = list(categorical or ())
    for column in categorical:
        pick_column(frame, column, "--categorical", path=source)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in categorical]
    if targets and not features:  # one series at a time, as DLinear and PatchTST find best; --features adds others
        others = [c for c in numeric if c not in targets]
        if others:
            notes.append(f"reading the targets only; --features adds other columns as inputs "
                         f"({', '.join(others[:6])}{', ...' if len(others) > 6 else ''})")
        features = [*targets, *(categorical or ())]  # (a --categorical column is one the user wants read)
    targets = list(targets) if targets else numeric
    features = list(features) if features else [c for c in frame.columns if c not in targets]
    for option, names in (("--targets", targets), ("--features", features)):
        for column in names:
            pick_column(frame, column, option, path=source)

    def example(column):
        values = frame[column].dropna()
        return values.iloc[0] if len(values) else "nothing"

    for column in targets:
        if column in categorical or not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(f"target column {column!r} is not numeric (values such as {example(column)!r}); "
                            "forecast numeric columns only (--targets)")
    if not targets:
        raise DataError(f"{source} has no numeric column to forecast; pass --targets")
    inputs = targets + [c for c in features if c not in targets]
    for column in categorical:
        if column not in inputs:
            raise DataError(f"--categorical {column!r} is not among --features; add it to --features, "
                            "or leave it out of --categorical")
    for column in inputs:
        if column not in categorical and not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(f"column {column!r} is not numeric (values such as {example(column)!r}); list it in "
                            "--categorical to one-hot encode it, or leave it out with --features")
    table = frame[[c for c in inputs if c not in categorical]]
    encoded = [pd.get_dummies(frame[c], prefix=c, prefix_sep="=", dtype="float32")
               for c in inputs if c in categorical]
    table = pd.concat([table, *encoded], axis=1) if encoded else table
    # Leading gaps cannot be forward-filled: start where every column has a value.
    complete = table.notna().all(axis=1).to_numpy()
    if not complete.any():
        raise DataError(f"{source}: no row has a value in every column; check --features and --targets")
    first = int(complete.argmax())
    if first:
        notes.append(f"{source}: dropped {first} leading rows with missing values")
    table = table.iloc[first:]
    time = time[first:] if time is not None else None
    filled = table.ffill(limit=max_gap)
    if filled.isna().any().any():
        column = next(c for c in filled.columns if filled[c].isna().any())
        missing = table[column].isna().to_numpy()
        row = int(np.flatnonzero(filled[column].isna().to_numpy())[0])
        start = row
        while start > 0 and missing[start - 1]:
            start -= 1
        length = start
        while length < len(missing) and missing[length]:
            length += 1
        where = f"row {start + first}" + (f" ({time[start]})" if time is not None else "")
        raise DataError(f"column {column!r} has {length - start} missing values in a row from {where}, more than "
                        f"--max-gap {max_gap}; raise --max-gap to forward-fill it, or clean the data")
    if len(filled) < 2:
        raise DataError(f"{source} has {len(filled)} usable rows; a forecaster needs a series")
    missing = int(table.isna().to_numpy().sum())
    if missing:
        notes.append(f"{source}: forward-filled {missing} missing values (gaps of at most --max-gap {max_gap} steps)")
    values = filled.to_numpy(dtype="float32")
    if not np.isfinite(values).all():
        raise DataError(f"{source} has infinite values; clean them first")
    return Series(values, [str(c) for c in filled.columns], targets, source, time, notes)


def find_time_column(frame) -> str | None:
    """The first text column whose every value parses as a date (``Datum``, ``Month`` holding 1949-01), or None.

    Only text columns are tried: numbers are readings, not dates, unless
    ``--time-column`` says so (then they are read as Unix time).
    """
    import pandas as pd

    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        sample = values.dropna().astype(str).str.strip()
        if sample.empty or not sample.str.contains(r"\d").all():  # a date has digits; a category name rarely does
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pd.to_datetime(sample.head(200), format="mixed")
        except (ValueError, TypeError, OverflowError):
            continue
        return column
    return None


UNIX_UNITS = (("s", 1e8, 1e10), ("ms", 1e11, 1e13))  # 1973 to 2286 in seconds, and in milliseconds


def parse_timestamps(values, column: str, *, source: str, dayfirst: bool = False, notes: list | None = None):
    """A time column as timestamps (pandas), or a one-line error naming the column.

    pandas infers one format from the first rows; formats that vary from row
    to row (``2020-01-01``, then ``2020-01-01 01:00``) are read as ISO 8601.
    Timestamps that all carry a UTC offset, not all the same one (local time
    across a daylight-saving change), are instants: they are read as UTC,
    which keeps their order and their spacing, and the run says so.
    ``dayfirst`` reads day/month/year dates (``13/01/2020``, ``01.02.2020``);
    ISO 8601 dates stay year-month-day with it (pandas alone would read
    ``2020-01-02`` as 1 February).
    """
    import pandas as pd

    notes = [] if notes is None else notes  # what was read, appended for the run to print

    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # pandas reads numbers as nanoseconds since 1970: Unix seconds would all fall in January 1970
        low, high = float(values.min()), float(values.max())
        unit = next((unit for unit, start, end in UNIX_UNITS if start <= low and high < end), None)
        if unit is None:
            raise DataError(f"--time-column {column!r} holds numbers ({low:g} to {high:g}) that are not Unix time "
                            "in seconds or milliseconds; write the times as ISO 8601 (2020-01-31 13:00)")
        stamps = pd.to_datetime(values, unit=unit)
        notes.append(f"{source}: {column!r} read as Unix time in {'seconds' if unit == 's' else 'milliseconds'} "
                     f"({stamps.min()} to {stamps.max()})")
        return stamps

    def attempts():  # pandas' own inference first; the offset check only reads the text if that fails
        if dayfirst:  # ISO 8601 before pandas' dayfirst, which would read 2020-01-02 as 1 February
            yield {"format": "ISO8601"}
            yield {"dayfirst": True}
        else:
            yield {}
            yield {"format": "ISO8601"}
        with_offset = r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:[+-]\d\d:?\d\d|Z)$"  # 13:00+01:00, 13:00:00.5 -0500, 13:00Z
        if values.astype(str).str.strip().str.contains(with_offset).all():
            yield {"utc": True, "dayfirst": dayfirst}
            yield {"format": "ISO8601", "utc": True}

    errors = []
    for options in attempts():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                stamps = pd.to_datetime(values, **options)
        except (ValueError, TypeError) as err:
            errors.append(err)
            continue
        for warning in caught:
            if "when dayfirst=False" in str(warning.message):  # its advice is for Python callers: say it our way
                notes.append(f"{source}: the dates in {column!r} are read as day/month/year, as their first, "
                             f"{values.iloc[0]!r}, can only be; pass --dayfirst to say so")
            else:
                warnings.warn(warning.message, warning.category, stacklevel=2)
        if options.get("utc"):
            notes.append(f"{source}: the timestamps in {column!r} carry different UTC offsets "
                         "(a daylight-saving change?); they are read as UTC")
        return stamps
    first_guess = errors[1 if dayfirst and len(errors) > 1 else 0]  # with dayfirst, the ISO 8601 try comes first
    reason = str(first_guess).splitlines()[0].split(". You might want to try")[0]
    day_month = values.astype(str).str.strip().str.match(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b").all()
    hint = " (or pass --dayfirst if they are day/month/year)" if day_month and not dayfirst else ""
    raise DataError(f"--time-column {column!r} could not be read as dates ({reason}); "
                    f"write them as ISO 8601 (2020-01-31 13:00){hint}")


def steps_from_start(time, step):
    """Each timestamp's distance from the first in whole ``step`` (a fixed length), and whether it is whole."""
    import pandas as pd

    elapsed = time - time[0]
    return np.asarray(elapsed // step), np.asarray(elapsed % step == pd.Timedelta(0))


def regular_time_steps(frame, time, *, source: str, freq: str | None = None, notes: list | None = None):
    """``frame`` and ``time`` with the time steps missing from a regular series put back as empty rows.

    Forecasting windows take consecutive rows as consecutive time steps, so
    a series with some hours left out (rows dropped, not values) would give
    windows that span the hole. The grid is ``freq`` (a pandas frequency:
    ``h``, ``D``, ``W-SUN``, ``MS``...) when given, and every timestamp must
    lie on it; else the commonest step, when every timestamp lies on that.
    The missing steps become rows of missing values, which the caller
    forward-fills up to ``--max-gap`` or rejects, naming where. Without
    ``freq``, calendar frequencies (monthly, business days) that
    ``pd.infer_freq`` recognises are regular already, and uneven steps off
    any grid (such as monthly data with a month left out) are kept as they
    are, and the run says so and names ``--freq``. Repeated timestamps are
    an error: they usually mean several series (stations, products) stacked
    in one file.
    """
    import pandas as pd

    notes = [] if notes is None else notes  # what was read, appended for the run to print

    frame = frame.reset_index(drop=True)
    if time.hasnans:
        raise DataError(f"{source}: the time column has empty values; fill or drop those rows")
    if time.has_duplicates:
        repeated = time[time.duplicated()]
        raise DataError(f"{source}: the time column repeats {len(repeated)} timestamps (the first: {repeated[0]}); "
                        "a forecaster needs one row per time step: keep one series (e.g. one station) "
                        "or aggregate the repeated rows first")
    if len(time) < 2:
        return frame, time
    if freq is not None:
        offset = pd.tseries.frequencies.to_offset(freq)
        if isinstance(offset, pd.offsets.Tick):  # a fixed length: placed by arithmetic, before any grid is built
            position, on_grid = steps_from_start(time, pd.Timedelta(offset))
        else:  # a calendar step (months, business days): the grid between the first and last timestamp is short
            position = pd.date_range(time[0], time[-1], freq=freq).get_indexer(time)
            on_grid = position >= 0
        off_grid = time[~on_grid]
        if len(off_grid):
            raise DataError(f"{source}: {len(off_grid)} of the {len(time)} timestamps are not on a --freq {freq} grid "
                            f"(the first: {off_grid[0]}); give the frequency the timestamps follow, "
                            "or resample the data to it first")
        apart = np.diff(position)  # grid steps from each timestamp to the next
        if apart.min() > 1:  # checked before the grid is built: --freq ns on hourly data would not fit in memory
            raise DataError(f"{source}: no two timestamps are one --freq {freq} step apart (at least "
                            f"{apart.min()} steps): --freq is finer than the data; give the step "
                            "the timestamps follow")
        grid_step, step = freq, f"--freq {freq}"
    else:
        if len(time) < 3:
            return frame, time
        with warnings.catch_warnings():  # pandas 3 announces an offset, not a string, from infer_freq: only None matters
            warnings.filterwarnings("ignore", message=".*infer_freq")
            if pd.infer_freq(time) is not None:
                return frame, time
        steps = pd.Series(time[1:] - time[:-1])
        commonest = steps.mode().iloc[0]

        def span(delta):  # "01:00:00", "7 days", "1 days 12:00:00"
            return str(delta).removeprefix("0 days ").removesuffix(" 00:00:00")

        position, on_grid = steps_from_start(time, commonest)
        if not on_grid.all():
            notes.append(f"{source}: the time steps are uneven ({span(steps.min())} to {span(steps.max())}), so rows "
                         "are taken as consecutive steps; give --freq (a pandas frequency such as MS, month starts) "
                         "if they follow a calendar")
            return frame, time
        apart = np.diff(position)
        grid_step, step = commonest, span(commonest)
    if position[-1] + 1 == len(time):
        return frame, time
    grid = pd.date_range(time[0], periods=position[-1] + 1, freq=grid_step)
    widest = int(np.argmax(apart))
    notes.append(f"{source}: {grid.size - len(time)} time steps of {step} are missing (the longest gap: "
                 f"{apart[widest] - 1} steps after {time[widest]}); they are filled as missing values")
    return frame.set_axis(time).reindex(grid).reset_index(drop=True), grid


def load_series(path, *, sep=None, **options) -> Series:
    """A time-series CSV/TSV (pandas) -> ``Series``; ``options`` as for ``series_from_frame``."""
    return series_from_frame(read_table(path, sep), source=str(path), **options)


def make_windows(values: np.ndarray, *, lookback: int, horizon: int, targets: int, start: int, end: int):
    """Every window whose forecast starts in rows ``[start, end)`` and ends by ``end``: ``(x, y)``.

    ``x [n, lookback, columns]`` are the rows before the forecast (they may
    reach back before ``start``, as in the ETT protocol), ``y [n, horizon,
    targets]`` the next ``horizon`` rows of the first ``targets`` columns.
    Both are read-only views of ``values`` (``sliding_window_view``), not a
    copy of every window: at lookback 336 on ETTh1 the copies took 113 MB.
    """
    segment = values[max(start, lookback) - lookback:end]
    if len(segment) - lookback - horizon + 1 < 1:
        return None
    # [windows, columns, lookback + horizon] -> [windows, lookback + horizon, columns], still a view
    windows = np.lib.stride_tricks.sliding_window_view(segment, lookback + horizon, axis=0).transpose(0, 2, 1)
    return windows[:, :lookback], windows[:, lookback:, :targets]

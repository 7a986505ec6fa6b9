"""Print the table of registered builders, or rewrite it in the README.

    python -m zoo                    # print the Markdown table
    python -m zoo --readme README.md # replace the table between its markers

Everything in the table comes from the registry: the default input shape
from the entry's metadata, the parameter count from building each model with
its defaults (what a user gets).
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse
import pathlib
import re

import zoo

START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"


def table() -> str:
    rows = ["| name | family | task | default input shape | parameters | summary |",
            "|---|---|---|---|---:|---|"]
    for name in zoo.names():
        entry = zoo.entry(name)
        model = zoo.build(name)
        rows.append(f"| `{name}` | {entry.family} | {entry.task} | `{entry.default_input_shape}` | "
                    f"{model.count_params():,} | {entry.summary} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(prog="python -m zoo",
                                     description="Table of the zoo's builders, from the registry.")
    parser.add_argument("--readme", type=pathlib.Path, help="rewrite the table in this file")
    args = parser.parse_args()
    if args.readme is None:
        print(table())
        return
    # The file is checked before the table is built (that builds every model: seconds).
    try:
        readme = args.readme.read_text()
    except (OSError, UnicodeDecodeError) as error:
        parser.error(f"--readme {args.readme}: cannot read it ({getattr(error, 'strerror', None) or error})")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        parser.error(f"--readme {args.readme} has no {START} ... {END} markers: add them where the table goes")
    text = table()
    try:
        args.readme.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", readme))
    except OSError as error:
        parser.error(f"--readme {args.readme}: cannot write it ({error.strerror})")
    print(f"Rewrote the builder table in {args.readme} ({len(zoo.names())} builders)")


if __name__ == "__main__":
    main()

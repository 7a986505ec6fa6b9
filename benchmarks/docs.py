"""Small copies of benchmark figures for the README (docs/ holds a few tens of KB, not hundreds)."""

import pathlib


def save_for_docs(source, target, colour=False) -> None:
    """``source`` PNG -> ``target`` with a small palette: 16 greys (digit grids), or 64 colours (plots)."""
    from PIL import Image

    pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image = image.convert("RGB").quantize(64) if colour else image.convert("L").quantize(16)
        image.save(target, optimize=True)

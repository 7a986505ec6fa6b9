"""The README's Python examples run as written (with fewer epochs)."""

import re

import pytest

from conftest import ROOT


def readme_examples() -> list[str]:
    """The README's ```python blocks that are complete programs (not sketches: a line that begins ``...``)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [block for block in blocks if not re.search(r"^\s*\.\.\.", block, re.M)]


@pytest.mark.slow
def test_the_readme_python_examples_run():
    examples = readme_examples()
    assert len(examples) >= 2, "the README's zoo examples are gone: update this test"
    namespace = {}
    for example in examples:
        exec(compile(re.sub(r"epochs=\d+", "epochs=1", example), "README.md", "exec"), namespace)
    assert namespace["new_digits"].shape == (16, 8, 8, 1)
    assert namespace["fakes"].shape == (10, 8, 8, 1)
    assert namespace["model"].output_shape == (None, 96, 7)  # the patch transformer's forecast

"""The import rules of DESIGN.md, as import-linter contracts declared in pyproject.toml."""

import os
import pathlib
import shutil
import subprocess
import sys
import tomllib

from conftest import ROOT


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    assert lint, "import-linter is not installed (it is in the test extra)"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_kit_contract_names_every_application_module():
    """A new application module must be added to the kit's forbidden list, or the contract would miss it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    kit = next(c for c in config if c.get("source_modules") == ["applications.kit"])
    folder = pathlib.Path(ROOT / "applications")
    modules = {f"applications.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"} | \
        {f"applications.{p.parent.name}" for p in folder.glob("*/__init__.py") if p.parent.name != "kit"}
    assert modules == set(kit["forbidden_modules"])


def test_kit_layers_name_every_kit_module():
    """A new kit module must take its place in the layers, or the contract would not see its imports."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["type"] == "layers" and c["containers"] == ["applications.kit"])
    named = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    kit = pathlib.Path(ROOT / "applications" / "kit")
    modules = {p.stem for p in kit.glob("*.py") if p.stem != "__init__"} | \
        {p.parent.name for p in kit.glob("*/__init__.py")}  # a package (data/) is one layer
    assert modules == named

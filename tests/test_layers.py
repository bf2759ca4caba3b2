"""The layer check: the import-linter contracts in pyproject.toml hold for the code, every
package of fedledger has a tier, and the check fails on an import that breaks the rule
(shown on a copy of the code with one bad import added)."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import fedledger
from fedledger.config import find_root

ROOT = find_root()
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``root``, with ``root``'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken." in result.stdout and "BROKEN" not in result.stdout
    assert "Tiers import only downwards" in result.stdout  # the contracts were read


def test_every_package_of_fedledger_has_a_tier() -> None:
    """A new package must be placed in a tier (pyproject.toml), or the check would not see
    what it imports."""
    layers = contracts()["tiers"]["layers"]
    assert isinstance(layers, list)
    placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    names = {
        f"fedledger.{module.name}"
        for module in pkgutil.iter_modules(fedledger.__path__)
        if module.name != "__main__"
    }
    assert names - placed == set()
    # A folder of modules without __init__.py is a namespace package: pkgutil does not list
    # it, the check would not see it, and the wheel would leave it out.
    root = Path(fedledger.__path__[0])
    folders = {p.parent for p in root.rglob("*.py")} - {root}
    assert sorted(f for f in folders if not (f / "__init__.py").exists()) == []
    assert "oracle" in placed and "fedledger.queries" in placed
    assert contracts()["core-independence"]["modules"] == [
        "fedledger.chain",
        "fedledger.storage",
        "fedledger.ml",
    ]


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and pyproject.toml, copied: tests add a bad import to the copy."""
    root = tmp_path_factory.mktemp("layers")
    for package in ("fedledger", "oracle"):
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    untouched = lint_imports(root)
    assert untouched.returncode == 0, untouched.stdout  # so a failure below is the bad import's
    return root


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("oracle/status.py", "import fedledger.cli.render", "Tiers import only downwards"),
        ("fedledger/queries/errors.py", "import fedledger.dashboard", "Tiers import only"),
        ("fedledger/storage/errors.py", "import fedledger.participant", "Tiers import only"),
        ("fedledger/ml/errors.py", "import fedledger.chain", "know nothing of each other"),
        ("fedledger/participant/behaviours.py", "import oracle.errors", "Tiers import only"),
    ],
)
def test_the_check_fails_on_an_import_against_the_rule(
    code_copy: Path, module: str, bad_import: str, broken: str
) -> None:
    path = code_copy / module
    original = path.read_text()
    path.write_text(original + f"\n{bad_import}  # noqa\n")
    try:
        result = lint_imports(code_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout  # the report names the offending module

"""The library and the oracle type-check: mypy (pinned in pyproject.toml, settings in its
``[tool.mypy]``) finds no error in ``fedledger`` and ``oracle``, and it does report one
when a function is called with the wrong type (shown on a scratch module), so a green run
means the check ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fedledger.config import find_root

ROOT = find_root()
MYPY = Path(sys.executable).with_name("mypy")


def mypy(*targets: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MYPY), "--config-file", str(ROOT / "pyproject.toml"), *targets],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_library_and_the_oracle_type_check() -> None:
    result = mypy("fedledger", "oracle")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")


def test_the_check_reports_a_wrong_type(tmp_path: Path) -> None:
    module = tmp_path / "wrong.py"
    module.write_text("def double(x: int) -> int:\n    return 2 * x\n\n\ndouble('two')\n")
    result = mypy(str(module), cwd=tmp_path)
    assert result.returncode == 1
    assert 'incompatible type "str"; expected "int"' in result.stdout

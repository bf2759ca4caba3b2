"""`fedledger --help` explains itself: every subcommand and every environment variable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from fedledger.cli import SUBCOMMANDS, main
from fedledger.config import ENVIRONMENT


def test_top_level_help_lists_every_subcommand_and_environment_variable() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name, (_, _, summary) in SUBCOMMANDS.items():
        assert f"{name}  " in result.output and summary in result.output
    for variable in ENVIRONMENT:
        assert variable in result.output


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_subcommand_loads_and_explains_itself(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: main {name} [OPTIONS]")
    assert "Options:" in result.output


def test_an_unknown_subcommand_is_refused() -> None:
    result = CliRunner().invoke(main, ["nonesuch"])
    assert result.exit_code == 2 and "No such command 'nonesuch'" in result.output

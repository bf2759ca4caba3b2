"""How the commands show chain values: token and ETH amounts, hashes, times, JSON.

Tables are for people; ``--json`` output is for scripts and keeps every amount exact:
token and wei amounts are decimal strings of base units (JSON numbers lose precision
above 2**53), hashes are 0x-prefixed hex, enums their lower-case names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from fedledger import units

if TYPE_CHECKING:
    from fedledger.chain import TxResult
    from fedledger.queries import UpdateVerdict

#: Width of tables written to a file or a pipe (a terminal's own width is used otherwise),
#: wide enough that addresses and hashes are never cut.
PIPE_WIDTH = 160


def console() -> Console:
    # soft_wrap: a hash or an address is never broken across lines.
    out = Console(soft_wrap=True)
    if out.is_terminal:
        return out
    columns = os.environ.get("COLUMNS", "")
    return Console(soft_wrap=True, width=int(columns) if columns.isdigit() else PIPE_WIDTH)


def print_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2))


def hex32(value: bytes | None) -> str | None:
    """``0x``-prefixed hex of a content hash; None for a missing (all-zero) one."""
    if value is None or not any(value):
        return None
    return "0x" + value.hex()


def short_hex(value: bytes | str | None, keep: int = 8) -> str:
    """``0x1234abcd…`` for tables; ``-`` for nothing."""
    text = hex32(value) if isinstance(value, bytes) or value is None else value
    if not text:
        return "-"
    return text if len(text) <= keep + 3 else f"{text[: keep + 2]}…"


def enum_name(value: Enum) -> str:
    return value.name.lower()


#: Characters of a checksummed address: a column never narrower, so it is never cut.
ADDRESS_WIDTH = 42


def add_address_column(table: Table, header: str = "address") -> None:
    """A column of addresses that keeps them whole at any terminal width (other columns
    wrap instead), so they can be copied."""
    table.add_column(header, min_width=ADDRESS_WIDTH, no_wrap=True, overflow="ignore")


# One definition of each human unit, shared with the demo and the dashboard.
tokens = units.format_tokens
eth = units.format_eth
deadline = units.format_deadline
score = units.format_score


def verdict_json(verdict: UpdateVerdict) -> dict[str, Any]:
    return {
        "round": verdict.round,
        "participant": verdict.participant,
        "status": enum_name(verdict.status),
        "score": verdict.score,
        "score_logits": units.score_logits(verdict.score),
        "reason": verdict.reason_name,
        "reason_code": verdict.reason,
        "reward": str(verdict.reward),
        "reward_human": units.format_tokens(verdict.reward),
        "content_hash": hex32(verdict.content_hash),
        "accept_votes": verdict.accept_votes,
        "reject_votes": verdict.reject_votes,
        "votes": [
            {
                "oracle": vote.oracle,
                "accept": vote.accept,
                "score": vote.score,
                "score_logits": units.score_logits(vote.score),
                "reason": vote.reason_name,
            }
            for vote in verdict.votes
        ],
    }


def tx_json(result: TxResult, **fields: Any) -> dict[str, Any]:
    """A mined transaction for ``--json``: hash, block, gas, event names, plus ``fields``."""
    return {
        **fields,
        "tx_hash": result.tx_hash,
        "block": result.block_number,
        "gas_used": result.gas_used,
        "events": [type(event).__name__ for event in result.events],
    }


def report_tx(result: TxResult, message: str, as_json: bool, **fields: Any) -> None:
    """Print what a transaction did: one line for people, or :func:`tx_json`."""
    if as_json:
        print_json(tx_json(result, **fields))
    else:
        console().print(f"{message} [dim](tx {result.tx_hash}, gas {result.gas_used:,})[/dim]")


@contextmanager
def live_line(*, in_place: bool = True) -> Iterator[Callable[[str, str], None]]:
    """A progress line for long waits: ``show(state, detail)``. On a terminal (and
    ``in_place``) one line updates in place (``state`` and ``detail``); otherwise (a pipe,
    a log, or beside another live display such as a progress bar) a line is printed each
    time ``state`` changes, so that progress shows without a line per poll."""
    out = console()
    if out.is_terminal and in_place:
        with out.status("") as status:

            def update(state: str, detail: str) -> None:
                status.update(f"{state}{'; ' + detail if detail else ''}")

            yield update
        return
    last: list[str] = []
    # Off a terminal, progress goes to stderr: stdout stays the command's answer.
    notes = out if out.is_terminal else Console(stderr=True, soft_wrap=True, width=PIPE_WIDTH)

    def print_changes(state: str, detail: str) -> None:
        if last != [state]:
            notes.print(f"{state}{'; ' + detail if detail else ''}")
            last[:] = [state]

    yield print_changes


def command_hint(command: str, *, key: str | None = None, network: str | None = None) -> str:
    """The ``fedledger`` command to run next, with the options the current one was given
    that it needs too (``--key``, ``--network``), ready to copy."""
    parts = [f"fedledger {command}"]
    if key is not None:
        parts.append(f"--key {key}")
    if network is not None:
        parts.append(f"--network {network}")
    return " ".join(parts)

"""``fedledger participant status``: the verdict on your update, with every oracle's vote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import json_option, key_option, network_option, user_errors

if TYPE_CHECKING:
    from fedledger.queries import UpdateVerdict


def _verdict_table(verdict: UpdateVerdict, symbol: str) -> Table:
    table = Table(
        title=(
            f"round {verdict.round}, {verdict.participant}: "
            f"[bold]{render.enum_name(verdict.status)}[/bold]"
        ),
        title_justify="left",
        caption=(
            f"score {verdict.score:,}"
            + (f", reason {verdict.reason_name}" if verdict.reason is not None else "")
            + (f", reward {render.tokens(verdict.reward, symbol)}" if verdict.reward else "")
        ),
        caption_justify="left",
    )
    table.add_column("oracle")
    table.add_column("vote")
    table.add_column("score", justify="right")
    table.add_column("reason")
    for vote in verdict.votes:
        table.add_row(
            vote.oracle,
            "accept" if vote.accept else "reject",
            f"{vote.score:,}",
            "" if vote.accept else vote.reason_name,
        )
    return table


@click.command()
@click.option("--round", "round_", type=int, default=None, help="[default: your latest submission]")
@click.option("--wait", is_flag=True, help="Wait until the update is settled.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="With --wait.")
@key_option
@network_option
@json_option
def status(
    round_: int | None,
    wait: bool,
    timeout: float,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Show the verdict on your update: status, score, reason and every oracle's vote."""
    from fedledger.queries import read_verdicts, wait_for_verdict

    _, ledger = open_ledger(network, key)
    with user_errors():
        if round_ is None:
            round_ = ledger.coordinator.get_participant(ledger.address).last_submitted_round
            if round_ == 0:
                raise click.ClickException(
                    f"{ledger.address} has not submitted an update yet "
                    "(`fedledger participant submit`)"
                )
        if wait:
            verdict = wait_for_verdict(ledger, round_, ledger.address, timeout=timeout)
        else:
            (verdict,) = read_verdicts(ledger, round_, ledger.address)
        symbol = ledger.token.symbol()
    if as_json:
        render.print_json(render.verdict_json(verdict))
    else:
        render.console().print(_verdict_table(verdict, symbol))

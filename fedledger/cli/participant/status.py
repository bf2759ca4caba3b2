"""``fedledger participant status``: the verdict on your update, with every oracle's vote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from fedledger import units
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import (
    json_option,
    key_option,
    network_option,
    project_config,
    user_errors,
)

if TYPE_CHECKING:
    from fedledger.chain import FedLedger
    from fedledger.queries import UpdateVerdict


def _verdict_table(verdict: UpdateVerdict, symbol: str) -> Table:
    caption = f"score {render.score(verdict.score)}" if verdict.votes else "no votes yet"
    if verdict.reason is not None:
        caption += f", reason {units.words(verdict.reason_name or '')}"
    if verdict.reward:
        caption += f", reward {render.tokens(verdict.reward, symbol)}"
    table = Table(
        title=(
            f"round {verdict.round}, {verdict.participant}: "
            f"[bold]{units.words(verdict.status)}[/bold]"
        ),
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    render.add_address_column(table, "oracle")
    table.add_column("vote")
    table.add_column("score", justify="right")
    table.add_column("reason", overflow="fold")
    for vote in verdict.votes:
        table.add_row(
            vote.oracle,
            "accept" if vote.accept else "reject",
            render.score(vote.score),
            "" if vote.accept else units.words(vote.reason_name),
        )
    return table


@click.command()
@click.option(
    "--round",
    "round_",
    type=click.IntRange(min=1),
    default=None,
    help="[default: your latest submission]",
)
@click.option("--wait", is_flag=True, help="Wait until the update is settled, showing the votes.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds to wait, with --wait.",
)
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
    from fedledger.chain import UpdateStatus
    from fedledger.queries import read_verdicts, wait_for_verdict

    _, ledger = open_ledger(network, key)
    with user_errors():
        address = ledger.address
        last = ledger.coordinator.get_participant(address).last_submitted_round
        if round_ is None:
            round_ = last
            if round_ == 0:
                hint = render.command_hint(
                    "participant submit FILE --samples N", key=key, network=network
                )
                raise click.ClickException(f"{address} has not submitted an update yet (`{hint}`)")
        (verdict,) = read_verdicts(ledger, round_, address)
        if verdict.status == UpdateStatus.NONE:
            latest = f"its latest is round {last}" if last else "it has not submitted any"
            raise click.ClickException(
                f"{address} submitted no update in round {round_} ({latest})"
            )
        if wait and not verdict.settled:
            quorum = ledger.coordinator.quorum()
            with render.live_line() as show:

                def progress(so_far: UpdateVerdict, waited: float) -> None:
                    show(
                        f"waiting for the oracles' votes on round {round_}: "
                        f"{so_far.accept_votes} accept / {so_far.reject_votes} reject of "
                        f"{quorum} needed",
                        f"{waited:.0f} s of {timeout:g} s",
                    )

                verdict = wait_for_verdict(
                    ledger,
                    round_,
                    address,
                    timeout=timeout,
                    on_poll=progress,
                    confirmations=_confirmations(ledger),
                )
        symbol = ledger.token.symbol()
    if as_json:
        render.print_json(render.verdict_json(verdict))
    else:
        render.console().print(_verdict_table(verdict, symbol))


def _confirmations(ledger: FedLedger) -> int:
    """The network's ``confirmations``: a verdict is final once that deep."""
    return project_config().network(ledger.deployment.network).confirmations

"""``fedledger round close|skip``: end the current round, or a stalled aggregation.

Anyone may call both: the contract checks the conditions (deadline passed or contribution
target met; aggregation timeout passed), so no trusted trigger is needed.
"""

from __future__ import annotations

import time

import click

from fedledger import units
from fedledger.chain import FedLedger, RoundState
from fedledger.chain.errors import RoundNotOpen
from fedledger.chain.events import RoundClosed, RoundOpened, RoundSkipped
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import json_option, key_option, network_option, user_errors
from fedledger.storage import cid_from_content_hash


@click.group(name="round")
def round_() -> None:
    """Close the current round, or skip one whose aggregation stalled."""


@round_.command()
@click.option(
    "--round",
    "round_number",
    type=click.IntRange(min=1),
    default=None,
    help="The round you mean to close [default: the current one]; one that someone (an "
    "oracle node) already closed is followed, not an error.",
)
@click.option("--wait", is_flag=True, help="Wait until the oracles finalize (or skip) the round.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="With --wait.")
@key_option
@network_option
@json_option
def close(
    round_number: int | None,
    wait: bool,
    timeout: float,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Close the current round: possible once its deadline has passed or its contribution
    target is met. Pending updates keep taking votes for the verification grace (then
    expire); a round with nothing accepted or pending is skipped at once, otherwise the
    oracles aggregate the accepted ones when the grace ends or nothing is pending.
    Running oracle nodes close a round by themselves shortly after its deadline: then this
    says so (and --wait follows the round to its end)."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        current = ledger.coordinator.current_round()
        if round_number is not None and round_number > current:
            raise click.ClickException(
                f"round {round_number} has not opened yet (the current round is {current})"
            )
        if round_number is not None and round_number < current:
            _already_closed(ledger, round_number, wait, timeout, as_json)
            return
        try:
            result = ledger.coordinator.close_round()
        except RoundNotOpen as exc:
            _already_closed(ledger, exc.round, wait, timeout, as_json)
            return
        closed = result.event(RoundClosed)
        skipped = result.events_of(RoundSkipped)
        ended = _wait_for_end(ledger, closed.round, timeout) if wait and not skipped else None
    fields: dict[str, object] = {"round": closed.round, "accepted": closed.accepted_updates}
    if skipped:
        message = (
            f"round {closed.round} closed without accepted updates and was skipped; "
            f"round {closed.round + 1} is open on the same global model"
        )
        fields["state"] = "skipped"
    else:
        message = (
            f"round {closed.round} closed with {closed.accepted_updates} accepted update(s); "
            "the oracles now aggregate them"
        )
        fields["state"] = "closed"
    if as_json:
        payload = render.tx_json(result, **fields)
        if ended is not None:
            payload |= {"state": render.enum_name(ended[0]), "global_model": render.hex32(ended[1])}
        render.print_json(payload)
        return
    render.report_tx(result, message, as_json=False)
    if ended is not None:
        _print_end(closed.round, *ended)


@round_.command()
@key_option
@network_option
@json_option
def skip(key: str | None, network: str | None, as_json: bool) -> None:
    """Skip a closed round whose oracles did not agree on an aggregate within the
    aggregation timeout; the next round opens on the same global model."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        result = ledger.coordinator.skip_stalled_round()
    skipped = result.event(RoundSkipped)
    opened = result.event(RoundOpened)
    render.report_tx(
        result,
        f"round {skipped.round} skipped ({skipped.reason.name.lower()}); "
        f"round {opened.round} is open until "
        f"{render.deadline(opened.deadline, ledger.client.chain_time())}",
        as_json,
        round=skipped.round,
        next_round=opened.round,
    )


def _already_closed(
    ledger: FedLedger, round_: int, wait: bool, timeout: float, as_json: bool
) -> None:
    """Someone closed the round first (running oracle nodes do once its deadline has
    passed): say so, and with --wait follow it like a round closed here."""
    state = ledger.coordinator.get_round(round_).state
    ended = _wait_for_end(ledger, round_, timeout) if wait else None
    final_state = ended[0] if ended else state
    if as_json:
        payload: dict[str, object] = {"round": round_, "state": render.enum_name(final_state)}
        if ended is not None:
            payload["global_model"] = render.hex32(ended[1])
        payload["closed_by_someone_else"] = True
        render.print_json(payload)
        return
    out = render.console()
    out.print(f"round {round_} was already closed (oracle nodes close a round once its "
              "deadline has passed)")  # fmt: skip
    if ended is not None:
        _print_end(round_, *ended)
    elif not wait:
        out.print(f"round {round_} is {units.words(state)}")


def _print_end(round_: int, state: RoundState, model: bytes) -> None:
    if state == RoundState.FINALIZED:
        render.console().print(
            f"round {round_} finalized: new global model {render.hex32(model)} "
            f"({cid_from_content_hash(model)})"
        )
    else:
        render.console().print(f"round {round_} was skipped: the oracles did not agree")


def _wait_for_end(ledger: FedLedger, round_: int, timeout: float) -> tuple[RoundState, bytes]:
    """Poll until ``round_`` is finalized or skipped; the end state and the next round's
    global model."""
    deadline = time.monotonic() + timeout
    while True:
        info = ledger.coordinator.get_round(round_)
        if info.state.ended:
            return info.state, ledger.coordinator.get_round(round_ + 1).global_model
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"round {round_} is still {render.enum_name(info.state)} after {timeout:g} s "
                f"({info.proposals} proposal(s)); are the oracles running? Once the "
                "aggregation timeout has passed, `fedledger round skip` ends it"
            )
        time.sleep(0.5)

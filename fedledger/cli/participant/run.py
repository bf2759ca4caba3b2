"""``fedledger participant run``: fetch, train, submit and follow the verdict, round after
round."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fedledger import units
from fedledger.cli import render
from fedledger.cli.context import open_participant
from fedledger.cli.options import (
    key_option,
    network_option,
    project_config,
    store_options,
    user_errors,
)
from fedledger.cli.params import Address
from fedledger.cli.participant.common import (
    DATA,
    progress_bar,
    submission_json,
    training_config,
    training_options,
    unsealed_warning,
)
from fedledger.cli.participant.submit import UINT64_MAX
from fedledger.participant import BEHAVIOURS

if TYPE_CHECKING:
    from fedledger.chain import FedLedger, GlobalModel
    from fedledger.ml import Dataset
    from fedledger.ml.training_config import ProgressCallback, TrainingConfig
    from fedledger.participant import ParticipantClient, SentUpdate, UpdateMaker
    from fedledger.queries import UpdateVerdict


def outcome_json(sent: SentUpdate, verdict: UpdateVerdict, seconds: float) -> dict[str, Any]:
    return {
        "event": "round",
        "round": sent.round,
        "behaviour": sent.behaviour,
        "submission": submission_json(sent.submission),
        "verdict": render.verdict_json(verdict),
        "training_seconds": round(sent.training_seconds, 3),
        "seconds": round(seconds, 3),
    }


@click.command()
@click.option("--data", type=DATA, required=True, help="Your training data (.npz).")
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--behaviour",
    type=click.Choice(BEHAVIOURS),
    default="honest",
    show_default=True,
    help="Misbehave on purpose (attacks of fedledger.ml.attacks), to see the oracles at work.",
)
@click.option(
    "--partner",
    type=Address(),
    default=None,
    help="copycat and colluder: the participant whose submission of each round to wait for "
    "(and copy) [default: the first other participant to submit].",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1, max=UINT64_MAX),
    default=None,
    help="Sample count to report [default: the size of --data].",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Give up when a round does not open, or a verdict does not come, within this many "
    "seconds [default: wait].",
)
@click.option("--poll-interval", type=float, default=0.5, show_default=True)
@training_options
@key_option
@network_option
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per round.")
def run(
    data: Path,
    rounds: int,
    behaviour: str,
    partner: str | None,
    samples: int | None,
    timeout: float | None,
    poll_interval: float,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Take part in --rounds rounds: fetch, train, submit, wait for the verdict, repeat.

    The training seed of each round is derived from --seed and the round number, so a
    rerun trains the same update. A restarted participant resumes after the last round
    it submitted to. Stops when banned.
    """
    from fedledger.chain import RoundState
    from fedledger.ml import load_dataset
    from fedledger.queries import round_progress

    config = training_config(epochs, batch_size, learning_rate, seed)
    with user_errors():
        dataset = load_dataset(data)
    client = open_participant(network, key, store_kind, ipfs_api, poll_interval=poll_interval)
    out = render.console()
    if not as_json:
        out.print(
            f"{client.address}: {behaviour}, {len(dataset):,} samples, {rounds} round(s); "
            "waiting for an open round"
        )
    show_bar = not as_json and sys.stdout.isatty()
    with (
        client,
        user_errors(),
        progress_bar(show_bar) as bar,
        render.live_line(in_place=False) as show,
    ):
        symbol = client.ledger.token.symbol()
        ledger = client.ledger

        def waiting_for_round(latest: GlobalModel) -> None:
            if as_json:
                return
            if latest.state == RoundState.OPEN:
                left = latest.deadline - ledger.client.chain_time()
                if left >= 0:
                    show(
                        f"round {latest.round} is open (submitted to already); the next "
                        f"opens after its deadline, in {units.format_duration(left)}",
                        "",
                    )
                else:
                    show(
                        f"round {latest.round}: its deadline passed; waiting for it to be "
                        "closed (running oracle nodes close it, or `fedledger round close "
                        "--wait`)",
                        "",
                    )
            else:
                show(
                    f"round {latest.round} is {units.words(latest.state)}; waiting for the "
                    "oracles' aggregate to open the next round",
                    "",
                )

        def announce(sent: SentUpdate) -> None:
            summary = round_progress(ledger, sent.round).summary()
            out.print(f"round {sent.round}: submitted {sent.submission.cid}; {summary}")

        def waiting_for_verdict(so_far: UpdateVerdict, waited: float) -> None:
            progress = round_progress(ledger, so_far.round)
            show(
                f"{progress.summary(with_deadline=False)}; your update "
                f"{so_far.accept_votes} accept / {so_far.reject_votes} reject of "
                f"{progress.quorum} needed",
                "",
            )

        outcomes = take_part(
            client,
            dataset,
            config,
            rounds=rounds,
            behaviour=behaviour,
            samples=samples,
            timeout=timeout,
            partner=partner,
            progress=bar,
            on_wait=waiting_for_round,
            # In JSON the polls print nothing: no progress reads either.
            on_verdict_poll=None if as_json else waiting_for_verdict,
            on_sent=None if as_json else announce,
        )
        for sent, verdict, seconds in outcomes:
            if as_json:
                click.echo(json.dumps(outcome_json(sent, verdict, seconds)))
            else:
                out.print(_outcome_line(sent, verdict, symbol))


def take_part(
    client: ParticipantClient,
    dataset: Dataset,
    config: TrainingConfig,
    *,
    rounds: int,
    behaviour: str,
    samples: int | None = None,
    timeout: float | None = None,
    partner: str | None = None,
    maker: UpdateMaker | None = None,
    progress: ProgressCallback | None = None,
    on_wait: Callable[[GlobalModel], None] | None = None,
    on_verdict_poll: Callable[[UpdateVerdict, float], None] | None = None,
    on_sent: Callable[[SentUpdate], None] | None = None,
) -> Iterator[tuple[SentUpdate, UpdateVerdict, float]]:
    """What ``participant run`` does for one participant: each round's update sent
    (:meth:`ParticipantClient.run`), then its verdict waited for; yields the update, the
    verdict and the round's seconds. ``participant host`` runs it once per participant."""
    from fedledger.queries import wait_for_verdict

    sent_updates = client.run(
        dataset,
        config,
        rounds=rounds,
        behaviour=behaviour,
        num_samples=samples,
        timeout=timeout,
        progress=progress,
        on_wait=on_wait,
        partner=partner,
        maker=maker,
    )
    for sent in sent_updates:
        warning = unsealed_warning(sent.submission)
        if warning:
            click.echo(warning, err=True)
        if on_sent is not None:
            on_sent(sent)
        verdict = wait_for_verdict(
            client.ledger,
            sent.round,
            client.address,
            timeout=timeout,
            poll_interval=client.poll_interval,
            on_poll=on_verdict_poll,
            confirmations=_confirmations(client.ledger),
        )
        yield sent, verdict, time.monotonic() - sent.started


def _outcome_line(sent: SentUpdate, verdict: UpdateVerdict, symbol: str) -> str:
    text = (
        f"round {sent.round}: submitted {sent.submission.cid} "
        f"(trained in {sent.training_seconds:.1f} s) -> "
        f"[bold]{units.words(verdict.status)}[/bold] "
        f"({verdict.accept_votes} accept / {verdict.reject_votes} reject), "
        f"score {render.score(verdict.score)}"
    )
    if verdict.reason is not None:
        text += f", reason {units.words(verdict.reason_name or '')}"
    if verdict.reward:
        text += f", reward {render.tokens(verdict.reward, symbol)}"
    return text


def _confirmations(ledger: FedLedger) -> int:
    """The network's ``confirmations``: a verdict is final once that deep."""
    return project_config().network(ledger.deployment.network).confirmations

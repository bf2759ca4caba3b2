"""``fedledger participant host PLAN``: several participants in one process (hidden; the
demo's participant processes).

Each participant of the plan keeps what makes it a participant: its own key (its own
client, chain connection and store), data, behaviour, seed and log file, and runs what
``fedledger participant run --json`` runs (:func:`~fedledger.cli.participant.run.take_part`)
in a thread of its own. What they share is the process: one TensorFlow import and one
Keras model (:class:`~fedledger.participant.UpdateMaker` with a lock: they train in turns,
each update exactly the one it would make alone). Ten participant processes importing
TensorFlow at once cost a 2-core machine most of a minute and about 650 MB each.

The plan is a JSON file (:class:`~fedledger.participant.host_plan.HostPlan`).
Once every participant's client is open and the model is built, the host creates
``ready_file``: work after that is the rounds' own. It exits 0 when every participant has
taken its rounds or been banned, 1 when one failed otherwise (the failure is in that
participant's log and in the host's output).
"""

from __future__ import annotations

import json
import threading
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from fedledger.chain.errors import ChainError
from fedledger.cli.context import open_participant
from fedledger.cli.participant.run import outcome_json, take_part
from fedledger.ml.training_config import TrainingConfig
from fedledger.participant.host_plan import HostedParticipant, HostPlan

if TYPE_CHECKING:
    from fedledger.ml import Dataset
    from fedledger.participant import ParticipantClient, UpdateMaker


@click.command(hidden=True)
@click.argument("plan_path", metavar="PLAN", type=click.Path(exists=True, path_type=Path))
def host(plan_path: Path) -> None:
    """Run the participants of PLAN (JSON) in this process, one thread each."""
    from fedledger.ml import load_dataset
    from fedledger.participant import UpdateMaker
    from fedledger.participant.behaviours import UNTRAINED

    plan = HostPlan.read(plan_path)
    maker = UpdateMaker(lock=threading.Lock())
    clients = [
        open_participant(
            plan.network, p.key, plan.store, plan.ipfs_api, poll_interval=plan.poll_interval
        )
        for p in plan.participants
    ]
    datasets = [load_dataset(p.data) for p in plan.participants]
    if any(p.behaviour not in UNTRAINED for p in plan.participants):
        maker.warm_up(plan.architecture, TrainingConfig(epochs=plan.epochs))
    plan.ready_file.touch()
    failures: list[str] = []

    def take_part_logged(index: int) -> None:
        participant, client = plan.participants[index], clients[index]
        with participant.log.open("a") as log, client:
            try:
                _take_part(plan, participant, client, datasets[index], maker, log)
            except Exception as exc:
                if _banned(client):
                    _line(log, {"event": "banned", "participant": client.address})
                    return
                text = "".join(traceback.format_exception(exc))
                log.write(text)
                click.echo(f"{client.address} ({participant.log.name}) failed:\n{text}", err=True)
                failures.append(client.address)

    threads = [
        threading.Thread(target=take_part_logged, args=(i,), name=p.log.stem, daemon=True)
        for i, p in enumerate(plan.participants)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(1)


def _take_part(
    plan: HostPlan,
    participant: HostedParticipant,
    client: ParticipantClient,
    dataset: Dataset,
    maker: UpdateMaker,
    log: IO[str],
) -> None:
    config = TrainingConfig(epochs=plan.epochs, seed=participant.seed)
    outcomes = take_part(
        client,
        dataset,
        config,
        rounds=plan.rounds,
        behaviour=participant.behaviour,
        partner=participant.partner,
        maker=maker,
    )
    for sent, verdict, seconds in outcomes:
        _line(log, outcome_json(sent, verdict, seconds))


def _line(log: IO[str], payload: dict[str, Any]) -> None:
    log.write(json.dumps(payload) + "\n")
    log.flush()


def _banned(client: ParticipantClient) -> bool:
    try:
        return client.ledger.coordinator.get_participant(client.address).banned
    except ChainError:  # the chain is gone too: not a ban
        return False

"""What the demo measures of a round beyond the chain's record: the accuracy plain FedAvg
would have reached without verification, and the gas the round cost."""

from __future__ import annotations

from collections.abc import Callable

from fedledger.chain import FedLedger
from fedledger.chain.events import (
    AggregateProposed,
    ChainEvent,
    RoundClosed,
    RoundSkipped,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.ml import ExactEvaluator, InvalidWeights, ModelWeights, fedavg
from fedledger.storage import StorageError


def plain_fedavg_accuracy(
    ledger: FedLedger,
    fetch: Callable[[bytes], ModelWeights],
    evaluator: ExactEvaluator,
    round_: int,
) -> float | None:
    """Test accuracy of what plain FedAvg would have made of the round: every submitted
    update averaged, unverified (updates that do not even decode are left out)."""
    updates = []
    for event in ledger.events(UpdateSubmitted, ledger.deployment.block_number, round=round_):
        try:
            updates.append(fetch(event.content_hash))
        except (StorageError, InvalidWeights):
            continue
    if not updates:
        return None
    try:
        return evaluator.evaluate(fedavg(updates)).accuracy
    except InvalidWeights:  # weights outside the exact evaluator's range: a wreck
        return None


def round_gas(ledger: FedLedger, round_: int) -> int:
    """Gas of every transaction of the round: submissions, votes, close, proposals."""
    start = ledger.deployment.block_number
    events: list[ChainEvent] = []
    for event_type in (UpdateSubmitted, VoteCast, RoundClosed, AggregateProposed, RoundSkipped):
        events += ledger.events(event_type, start, round=round_)
    hashes = dict.fromkeys(event.tx_hash for event in events)
    client = ledger.client
    return sum(int(client.wait_for_receipt(tx)["gasUsed"], 16) for tx in hashes)

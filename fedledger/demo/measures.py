"""What the demo measures of a round beyond the chain's record: the accuracy plain FedAvg
would have reached without verification. (Its counts, tokens and gas are the chain's:
fedledger.queries.rounds.)"""

from __future__ import annotations

from collections.abc import Callable

from fedledger.chain import FedLedger
from fedledger.chain.events import UpdateSubmitted
from fedledger.crypto import EnvelopeError
from fedledger.ml import ExactEvaluator, InvalidWeights, ModelWeights, fedavg
from fedledger.storage import StorageError


def plain_fedavg_accuracy(
    ledger: FedLedger,
    open_update: Callable[[UpdateSubmitted], ModelWeights],
    evaluator: ExactEvaluator,
    round_: int,
) -> float | None:
    """Test accuracy of what plain FedAvg would have made of the round: every submitted
    update averaged, unverified (updates that do not open or decode are left out, copies of
    another participant's sealed blob among them)."""
    updates = []
    for event in ledger.events(UpdateSubmitted, ledger.deployment.block_number, round=round_):
        try:
            updates.append(open_update(event))
        except (StorageError, InvalidWeights, EnvelopeError):
            continue
    if not updates:
        return None
    try:
        return evaluator.evaluate(fedavg(updates)).accuracy
    except InvalidWeights:  # weights outside the exact evaluator's range: a wreck
        return None

"""What one oracle did in the current round, read from the chain (``fedledger oracle status``)."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain import FedLedger, RoundState, UpdateStatus
from fedledger.chain.events import AggregateProposed, UpdateSubmitted, VoteCast
from oracle.rounds import round_opened_block


@dataclass(frozen=True)
class VoteRecord:
    """One submitted update of the round, and this oracle's vote on it (None: not voted)."""

    participant: str
    content_hash: bytes
    status: UpdateStatus
    accept: bool | None
    score: int | None
    reason: int | None

    @property
    def awaiting_vote(self) -> bool:
        """Still pending and not voted on by this oracle: the node has work here."""
        return self.status == UpdateStatus.PENDING and self.accept is None


@dataclass(frozen=True)
class OracleStatus:
    address: str
    registered: bool
    oracles: int
    quorum: int
    round: int
    state: RoundState
    deadline: int
    global_model: bytes
    votes: tuple[VoteRecord, ...]
    proposal: bytes | None  # this oracle's proposed aggregate for the round, if any

    @property
    def awaiting_proposal(self) -> bool:
        return self.registered and self.state == RoundState.CLOSED and self.proposal is None


def oracle_status(ledger: FedLedger, address: str) -> OracleStatus:
    """The current round as ``address`` sees it: submissions, its votes and its proposal."""
    coordinator = ledger.coordinator
    model = coordinator.latest_model()
    votes: tuple[VoteRecord, ...] = ()
    proposal = None
    if model.round > 0:
        start = round_opened_block(ledger, model.round)
        cast = {
            vote.participant: vote
            for vote in ledger.events(VoteCast, start, round=model.round, oracle=address)
        }
        votes = tuple(
            _record(ledger, model.round, submitted, cast.get(submitted.participant))
            for submitted in ledger.events(UpdateSubmitted, start, round=model.round)
        )
        proposals = ledger.events(AggregateProposed, start, round=model.round, oracle=address)
        proposal = proposals[-1].content_hash if proposals else None
    return OracleStatus(
        address=address,
        registered=coordinator.is_oracle(address),
        oracles=coordinator.oracle_count(),
        quorum=coordinator.quorum(),
        round=model.round,
        state=model.state,
        deadline=model.deadline,
        global_model=model.content_hash,
        votes=votes,
        proposal=proposal,
    )


def _record(
    ledger: FedLedger, round_: int, submitted: UpdateSubmitted, vote: VoteCast | None
) -> VoteRecord:
    status = ledger.coordinator.get_update(round_, submitted.participant).status
    if vote is None:
        return VoteRecord(submitted.participant, submitted.content_hash, status, None, None, None)
    return VoteRecord(
        submitted.participant,
        submitted.content_hash,
        status,
        vote.accept,
        vote.score,
        vote.reason,
    )

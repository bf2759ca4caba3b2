"""The round history: every round as its events recorded it (``fedledger rounds``, the
dashboard's history table and chart).

A :class:`RoundIndex` reads the deployment's round events once and then follows the chain
(one ``eth_getLogs`` per :meth:`RoundIndex.refresh`), caching what it learnt about
blocks and transactions, so a page that polls every second re-reads only what is new.
Each refresh reads the last :data:`REREAD_BLOCKS` blocks again (events already counted
are recognised by their position): a node may report a new block before its logs can be
queried, and an event missed once would be missed forever.
Gas is the sum over every transaction that carries an event of the round: submissions,
votes, the close, the aggregate proposals (the one that finalizes included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fedledger import units
from fedledger.chain import FedLedger, RoundState
from fedledger.chain.codes import SkipReason
from fedledger.chain.events import (
    AggregateProposed,
    ChainEvent,
    RoundClosed,
    RoundFinalized,
    RoundOpened,
    RoundSkipped,
    UpdateAccepted,
    UpdateDisputed,
    UpdateExpired,
    UpdateRejected,
    UpdateSubmitted,
    VoteCast,
)

#: The events a round's history is made of.
ROUND_EVENTS: tuple[type[ChainEvent], ...] = (
    RoundOpened,
    UpdateSubmitted,
    VoteCast,
    UpdateAccepted,
    UpdateRejected,
    UpdateDisputed,
    UpdateExpired,
    RoundClosed,
    AggregateProposed,
    RoundFinalized,
    RoundSkipped,
)

#: Blocks before the last one read that every refresh reads again (a busy development
#: chain mines several a second; seen on anvil: logs of the newest blocks answered late).
REREAD_BLOCKS = 32

#: ``accuracy(content_hash)``: test accuracy of a global model (0..1), None if unknown.
AccuracyOf = Callable[[bytes], float | None]


@dataclass
class RoundSummary:
    """One round: what it trained from and produced, its outcome counts, tokens, gas and
    times (epoch seconds on the chain's clock; ``None`` until they happen)."""

    round: int
    state: RoundState
    global_model: bytes  # the model the round trains from
    deadline: int
    opened_at: int
    closed_at: int | None = None
    voting_ends: int | None = None  # closed_at + the verification grace (RoundClosed)
    ended_at: int | None = None  # finalized or skipped
    produced_model: bytes | None = None  # the aggregate a finalized round produced
    skip_reason: SkipReason | None = None
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    disputed: int = 0
    expired_settled: int = 0  # UpdateExpired events: expiries someone recorded with settle()
    tokens_minted: int = 0  # base units
    gas_used: int = 0
    accuracy: float | None = None  # of produced_model, when an evaluation set is given
    transactions: set[str] = field(default_factory=set, repr=False)

    @property
    def unsettled(self) -> int:
        """Submissions without a verdict: pending while the round's voting is open (the
        round open, or closed and within its verification grace), expired after."""
        return self.submitted - self.accepted - self.rejected - self.disputed

    def voting_open(self, now: int) -> bool:
        """Pending updates still take votes: the round is open, or closed and ``now`` (the
        chain's clock) is not past ``voting_ends``."""
        if self.state == RoundState.OPEN:
            return True
        return self.state == RoundState.CLOSED and (
            self.voting_ends is None or now <= self.voting_ends
        )

    def pending(self, now: int) -> int:
        return self.unsettled if self.voting_open(now) else 0

    def expired(self, now: int) -> int:
        """Updates whose round's voting ended without a verdict (the contract's view says
        ``expired`` of them whether or not someone has called ``settle()`` yet)."""
        return 0 if self.voting_open(now) else self.unsettled

    def duration(self, now: int) -> int:
        """Seconds from opening to the end (to ``now`` while it runs)."""
        return (now if self.ended_at is None else self.ended_at) - self.opened_at

    def to_json(self, now: int, symbol: str) -> dict[str, Any]:
        """Base units as decimal strings, times as epoch seconds, and beside them the
        human fields (``*_text``)."""
        return {
            "round": self.round,
            "state": self.state.name.lower(),
            "state_text": units.words(self.state),
            "global_model": _hex(self.global_model),
            "produced_model": _hex(self.produced_model),
            "skip_reason": None if self.skip_reason is None else self.skip_reason.name.lower(),
            "skip_reason_text": None if self.skip_reason is None else _skip_text(self.skip_reason),
            "submitted": self.submitted,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "disputed": self.disputed,
            "pending": self.pending(now),
            "expired": self.expired(now),
            "expired_recorded": self.expired_settled,
            "unsettled_text": self.unsettled_text(now),
            "tokens_minted": str(self.tokens_minted),
            "tokens_minted_text": units.format_tokens(self.tokens_minted, symbol),
            "gas_used": self.gas_used,
            "gas_text": f"{self.gas_used:,}",
            "opened_at": self.opened_at,
            "opened_text": past(self.opened_at, now),
            "deadline": self.deadline,
            "deadline_text": units.format_deadline(self.deadline, now),
            "closed_at": self.closed_at,
            "voting_ends": self.voting_ends,
            "voting_ends_text": ""
            if self.voting_ends is None
            else units.format_deadline(self.voting_ends, now),
            "ended_at": self.ended_at,
            "duration_seconds": self.duration(now),
            "duration_text": units.format_duration(self.duration(now))
            + ("" if self.ended_at is not None else " so far"),
            "accuracy": self.accuracy,
            "accuracy_text": "" if self.accuracy is None else f"{100 * self.accuracy:.2f} %",
        }

    def unsettled_text(self, now: int) -> str:
        """The updates without an accept/reject verdict, in words (``""`` if none)."""
        parts = []
        if self.disputed:
            parts.append(f"{self.disputed} disputed")
        if self.pending(now):
            parts.append(f"{self.pending(now)} pending")
        if self.expired(now):
            parts.append(f"{self.expired(now)} expired")
        return ", ".join(parts)


def past(timestamp: int, now: int) -> str:
    """A moment that has happened, against the chain's clock: local time and how long ago
    (``"just now"`` for the block being built, which carries the clock's own time)."""
    ago = "just now" if timestamp >= now else units.format_relative(timestamp, now)
    return f"{units.format_local_time(timestamp)} ({ago})"


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _skip_text(reason: SkipReason) -> str:
    return _SKIP_TEXT[reason]


_SKIP_TEXT = {
    SkipReason.NO_ACCEPTED_UPDATES: "skipped: no update was accepted",
    SkipReason.NO_AGREEMENT: "skipped: the oracles' aggregates split, none can reach k",
    SkipReason.AGGREGATION_TIMEOUT: "skipped: the oracles did not agree on an aggregate in time",
}


class RoundIndex:
    """The rounds of one deployment, followed incrementally from its events."""

    def __init__(self, ledger: FedLedger, accuracy: AccuracyOf | None = None) -> None:
        self.ledger = ledger
        self.accuracy = accuracy
        self._stream = ledger.event_stream(ROUND_EVENTS)
        self._first_block = self._stream.next_block
        self._counted: set[tuple[int, int]] = set()  # positions of the events applied
        self._rounds: dict[int, RoundSummary] = {}
        self._block_times: dict[int, int] = {}
        # Every vote and aggregate proposal, in chain order (the oracles' liveness).
        self.votes: list[VoteCast] = []
        self.proposals: list[AggregateProposed] = []

    def refresh(self) -> list[RoundSummary]:
        """Read the events since the last refresh; every round so far, in order."""
        resume = self._stream.next_block
        self._stream.next_block = max(self._first_block, resume - REREAD_BLOCKS)
        try:
            events = self._stream.poll()
        except BaseException:
            self._stream.next_block = resume
            raise
        self._apply(events)
        return self.rounds

    def evaluate(self) -> None:
        """Fill in the accuracy of every produced model not evaluated yet. Slow (it fetches
        and evaluates models), so kept apart from :meth:`refresh`: a reader that combines
        events with the chain's views reads both first, then evaluates."""
        if self.accuracy is None:
            return
        for summary in self._rounds.values():
            if summary.produced_model is not None and summary.accuracy is None:
                summary.accuracy = self.accuracy(summary.produced_model)

    @property
    def rounds(self) -> list[RoundSummary]:
        return [self._rounds[number] for number in sorted(self._rounds)]

    def block_time(self, block: int) -> int:
        """A block's timestamp (cached: a block never changes once read)."""
        if block not in self._block_times:
            raw = self.ledger.client.rpc("eth_getBlockByNumber", [hex(block), False])
            self._block_times[block] = int(raw["timestamp"], 16)
        return self._block_times[block]

    def _apply(self, events: Iterable[ChainEvent]) -> None:
        for event in events:
            if event.position in self._counted:
                continue
            applied = False
            try:
                applied = self._apply_one(event)
            finally:
                if applied:
                    self._counted.add(event.position)
                else:  # read it again (from its block) at the next refresh
                    self._stream.next_block = min(self._stream.next_block, event.block_number)

    def _apply_one(self, event: ChainEvent) -> bool:
        """Count ``event``; False if its round's opening has not been read yet."""
        if isinstance(event, RoundOpened):
            self._rounds[event.round] = RoundSummary(
                round=event.round,
                state=RoundState.OPEN,
                global_model=event.global_model,
                deadline=event.deadline,
                opened_at=self.block_time(event.block_number),
            )
            return True
        summary = self._rounds.get(getattr(event, "round", -1))
        if summary is None:
            return False
        if event.tx_hash not in summary.transactions:
            receipt = self.ledger.client.wait_for_receipt(event.tx_hash)
            summary.transactions.add(event.tx_hash)
            summary.gas_used += int(receipt["gasUsed"], 16)
        self._count(summary, event)
        return True

    def _count(self, summary: RoundSummary, event: ChainEvent) -> None:
        if isinstance(event, UpdateSubmitted):
            summary.submitted += 1
        elif isinstance(event, VoteCast):
            self.votes.append(event)
        elif isinstance(event, AggregateProposed):
            self.proposals.append(event)
        elif isinstance(event, UpdateAccepted):
            summary.accepted += 1
            summary.tokens_minted += event.reward
        elif isinstance(event, UpdateRejected):
            summary.rejected += 1
        elif isinstance(event, UpdateDisputed):
            summary.disputed += 1
        elif isinstance(event, UpdateExpired):
            summary.expired_settled += 1
        elif isinstance(event, RoundClosed):
            summary.state = RoundState.CLOSED
            summary.closed_at = self.block_time(event.block_number)
            summary.voting_ends = event.voting_ends
        elif isinstance(event, RoundFinalized):
            summary.state = RoundState.FINALIZED
            summary.produced_model = event.global_model
            summary.ended_at = self.block_time(event.block_number)
        elif isinstance(event, RoundSkipped):
            summary.state = RoundState.SKIPPED
            summary.skip_reason = event.reason
            summary.ended_at = self.block_time(event.block_number)
            if summary.closed_at is None:  # skipped at close: no RoundClosed before it
                summary.closed_at = summary.ended_at


def read_round_history(ledger: FedLedger, accuracy: AccuracyOf | None = None) -> list[RoundSummary]:
    """Every round of the deployment so far (one pass over its events)."""
    index = RoundIndex(ledger, accuracy)
    index.refresh()
    index.evaluate()
    return index.rounds

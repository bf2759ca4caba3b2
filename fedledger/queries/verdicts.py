"""The verdicts on updates: status, every oracle's vote, score, reason and reward.

Read from the chain's events and views by anyone, with no signing account and no store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fedledger.chain import FedLedger, UpdateStatus
from fedledger.chain.codes import ReasonCode, reason_name
from fedledger.chain.events import (
    StakeForfeited,
    StakeReturned,
    UpdateAccepted,
    UpdateDisputed,
    UpdateExpired,
    UpdateRejected,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.queries.errors import QueryError

#: How a settled update got its verdict (``UpdateVerdict.settled_by``).
SETTLED_BY_VOTE = "vote"  # the deciding vote's transaction settled it
SETTLED_BY_CALL = "settle"  # a settle() call: the oracle set changed, or its voting ended
SETTLED_BY_BAN = "ban"  # its participant was banned while it was pending
SETTLED_BY_VIEW = "view"  # expired, and nobody has recorded it with settle() yet

#: Statuses after which nothing about an update changes any more.
SETTLED = frozenset(
    {UpdateStatus.ACCEPTED, UpdateStatus.REJECTED, UpdateStatus.DISPUTED, UpdateStatus.EXPIRED}
)
#: The events that settle an update, one per status of SETTLED.
SETTLEMENT_EVENTS = (UpdateAccepted, UpdateRejected, UpdateDisputed, UpdateExpired)


@dataclass(frozen=True)
class Vote:
    """One oracle's vote on an update, as its ``VoteCast`` event recorded it."""

    oracle: str
    accept: bool
    score: int
    reason: int
    block_number: int
    tx_hash: str = ""

    @property
    def reason_name(self) -> str:
        return reason_name(self.reason)


@dataclass(frozen=True)
class UpdateVerdict:
    """Where an update stands: its status, the votes so far and, once settled, the outcome.

    ``score`` is the recorded score (the lowest of the agreeing votes), ``reason`` the
    rejection's reason code (``None`` unless rejected) and ``reward`` the tokens minted
    for it (base units).
    """

    round: int
    participant: str
    status: UpdateStatus
    content_hash: bytes | None
    score: int
    reason: int | None
    reward: int
    votes: tuple[Vote, ...]
    settled_by: str | None = None  # SETTLED_BY_*; None while pending
    stake: str | None = None  # "returned" or "forfeited" once its stake (if any) was settled

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    @property
    def accept_votes(self) -> int:
        return sum(vote.accept for vote in self.votes)

    @property
    def reject_votes(self) -> int:
        return sum(not vote.accept for vote in self.votes)

    @property
    def reason_name(self) -> str | None:
        return None if self.reason is None else reason_name(self.reason)


def wait_for_verdict(
    ledger: FedLedger,
    round_: int,
    participant: str,
    *,
    timeout: float | None = None,
    poll_interval: float = 0.5,
    on_poll: Callable[[UpdateVerdict, float], None] | None = None,
    confirmations: int = 0,
) -> UpdateVerdict:
    """Wait until ``participant``'s update of ``round_`` is settled (accepted, rejected,
    disputed or expired), its settlement ``confirmations`` blocks deep (the network's
    setting: a verdict a reorganisation could still undo is not reported). Read-only:
    works for any address, no blob store needed. The chain is read again when a block
    that settles an update (or, with confirmations, any new block) is announced, or every
    ``poll_interval`` where the node pushes none (:mod:`fedledger.chain.heads`).

    ``on_poll(verdict_so_far, seconds_waited)`` hears every poll while it is pending (for
    a progress line). The timeout's message says how many votes came and what to check.
    """
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    # Without confirmations to wait for, only blocks that settle an update can end the wait.
    watcher = (
        ledger.client.event_watcher(ledger.coordinator.address, SETTLEMENT_EVENTS)
        if confirmations == 0
        else ledger.client.heads
    )
    while True:
        mark = watcher.mark()  # before the read: a block after it wakes us
        status = ledger.coordinator.get_update(round_, participant).status
        if status != UpdateStatus.PENDING:
            confirmed = ledger.client.block_number() - confirmations if confirmations else None
            (verdict,) = read_verdicts(ledger, round_, participant, to_block=confirmed)
            if verdict.settled:
                return verdict
            if verdict.status == UpdateStatus.NONE:
                raise QueryError(
                    f"{participant} has no update in round {round_}: nothing to wait for"
                )
        elif on_poll is not None:
            (so_far,) = read_verdicts(ledger, round_, participant)
            on_poll(so_far, time.monotonic() - started)
        if deadline is not None and time.monotonic() > deadline:
            (so_far,) = read_verdicts(ledger, round_, participant)
            raise QueryError(_no_verdict(ledger, so_far, timeout or 0.0))
        watcher.wait(mark, poll_interval)


def _no_verdict(ledger: FedLedger, verdict: UpdateVerdict, timeout: float) -> str:
    quorum = ledger.coordinator.quorum()
    text = (
        f"no verdict on {verdict.participant}'s update of round {verdict.round} after "
        f"{timeout:g} s: {len(verdict.votes)} vote(s) of the {quorum} needed"
    )
    if not verdict.votes:
        return (
            text + "; no oracle has voted: are the oracle nodes running (`fedledger oracle "
            "run`)? `fedledger status` lists the oracle set; wait longer with --timeout"
        )
    return (
        text + "; the oracles are slow or disagree: see each one's view with `fedledger "
        "oracle status --key ...`; wait longer with --timeout"
    )


def read_verdicts(
    ledger: FedLedger,
    round_: int,
    participant: str | None = None,
    *,
    to_block: int | None = None,
) -> list[UpdateVerdict]:
    """The verdicts on the updates of ``round_``: every submission of the round in chain
    order, or only ``participant``'s (a one-element list, status ``NONE`` if it did not
    submit). Read-only: works for any address.

    Outcomes, scores, reasons and rewards come from the settlement events, which survive
    the deletion of rejected records under the AcceptedOnly policy; pending and expired
    updates from the contract's view.
    """
    start = ledger.deployment.block_number
    filters: dict[str, Any] = {"round": round_}
    if participant is not None:
        filters["participant"] = participant
    end = to_block  # None: to the latest block
    submitted = {e.participant: e for e in ledger.events(UpdateSubmitted, start, end, **filters)}
    votes: dict[str, list[Vote]] = {}
    for c in ledger.events(VoteCast, start, end, **filters):
        votes.setdefault(c.participant, []).append(
            Vote(c.oracle, c.accept, c.score, c.reason, c.block_number, c.tx_hash)
        )
    accepted = {e.participant: e for e in ledger.events(UpdateAccepted, start, end, **filters)}
    rejected = {e.participant: e for e in ledger.events(UpdateRejected, start, end, **filters)}
    disputed = {e.participant: e for e in ledger.events(UpdateDisputed, start, end, **filters)}
    expired = {e.participant: e for e in ledger.events(UpdateExpired, start, end, **filters)}
    stakes = {
        e.participant: "returned" for e in ledger.events(StakeReturned, start, end, **filters)
    }
    stakes |= {
        e.participant: "forfeited" for e in ledger.events(StakeForfeited, start, end, **filters)
    }

    verdicts = []
    for address in [participant] if participant is not None else list(submitted):
        submission = submitted.get(address)
        status, score, reason, reward = UpdateStatus.NONE, 0, None, 0
        cast = votes.get(address, [])
        settled_by = None
        if address in accepted:
            event = accepted[address]
            status, score, reward = UpdateStatus.ACCEPTED, event.score, event.reward
            settled_by = _settled_by(event.tx_hash, cast)
        elif address in rejected:
            refusal = rejected[address]
            status, score, reason = UpdateStatus.REJECTED, refusal.score, refusal.reason
            settled_by = (
                SETTLED_BY_BAN
                if refusal.reason == ReasonCode.BANNED
                else _settled_by(refusal.tx_hash, cast)
            )
        elif address in disputed:
            status = UpdateStatus.DISPUTED
            settled_by = _settled_by(disputed[address].tx_hash, cast)
        elif address in expired:
            status, settled_by = UpdateStatus.EXPIRED, SETTLED_BY_CALL
        elif submission is not None:  # pending, or expired: the view says which
            status = ledger.coordinator.get_update(round_, address).status
            if to_block is not None and status != UpdateStatus.EXPIRED:
                status = UpdateStatus.PENDING  # settled after to_block: not final yet
            if status == UpdateStatus.EXPIRED:
                settled_by = SETTLED_BY_VIEW
        verdicts.append(
            UpdateVerdict(
                round=round_,
                participant=address,
                status=status,
                content_hash=submission.content_hash if submission else None,
                score=score,
                reason=reason,
                reward=reward,
                votes=tuple(cast),
                settled_by=settled_by,
                stake=stakes.get(address),
            )
        )
    return verdicts


def _settled_by(tx_hash: str, votes: list[Vote]) -> str:
    """A verdict event in the same transaction as one of the update's votes came from that
    vote; otherwise from a ``settle()`` call (after the oracle set or the quorum changed)."""
    return SETTLED_BY_VOTE if any(vote.tx_hash == tx_hash for vote in votes) else SETTLED_BY_CALL

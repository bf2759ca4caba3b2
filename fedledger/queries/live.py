"""The dashboard's read model: the whole state of a deployment in one JSON document,
followed live as the chain moves.

The chain has no snapshot reads here: the events and the views are read one after the
other, at most a block or two apart while the chain is busy, and the next read (one per
new block) brings them together again.

:class:`LiveLedger` re-reads the chain only when a new block has been mined (the round
history incrementally, from the events since the last read; the views of the current
round, the participants and the oracles anew) and recomputes only the times relative to
the chain's clock on every call. It is safe to call from several threads (the web
server's pool): reads are serialised.

Every amount is a decimal string of base units with a human ``*_text`` beside it
(:mod:`fedledger.units`); times are epoch seconds of the chain's clock, with their text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_abi.exceptions import DecodingError

from fedledger import units
from fedledger.chain import FedLedger, RoundInfo, RoundState, UpdateStatus
from fedledger.chain.codes import reason_name
from fedledger.chain.errors import ChainError
from fedledger.queries.accuracy import ModelAccuracy
from fedledger.queries.errors import QueryError
from fedledger.queries.oracles import OracleActivity, oracle_activity
from fedledger.queries.participants import Rewards, known_participants, read_rewards
from fedledger.queries.rounds import RoundIndex, past
from fedledger.queries.verdicts import SETTLED_BY_BAN, SETTLED_BY_CALL, UpdateVerdict, read_verdicts


class LedgerUnreachable(RuntimeError):
    """The chain could not be read (node down, restarted, another chain); the message
    says what to do."""


@dataclass(frozen=True)
class _Snapshot:
    """What the chain said at one block."""

    block: int
    current: int
    info: RoundInfo | None
    can_close: bool
    quorum: int
    oracles: list[tuple[int, str]]
    verdicts: list[UpdateVerdict]
    participants: list[Rewards]
    activity: list[OracleActivity]


class LiveLedger:
    """The deployment's state for the dashboard; ``accuracy`` charts the rounds' models."""

    def __init__(
        self,
        ledger: FedLedger,
        *,
        accuracy: ModelAccuracy | None = None,
        refresh_seconds: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self.accuracy = accuracy
        self.refresh_seconds = refresh_seconds
        self.symbol = ledger.token.symbol()
        self._index = RoundIndex(ledger, accuracy)
        self._snapshot: _Snapshot | None = None
        self._reread_block: int | None = None  # the block read a second time, see _read
        self._lock = threading.Lock()

    # ---- the documents ---------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything the page shows (``/api/state``)."""
        with self._lock, _readable(self.ledger):
            now = self.ledger.client.chain_time()
            snapshot = self._read()
            return self._document(snapshot, now)

    def round_detail(self, number: int) -> dict[str, Any]:
        """One round's summary and every submission with its votes (``/api/rounds/N``)."""
        with self._lock, _readable(self.ledger):
            now = self.ledger.client.chain_time()
            snapshot = self._read()
            summaries = {summary.round: summary for summary in self._index.rounds}
            if number not in summaries:
                raise QueryError(
                    f"round {number} does not exist; rounds run from 1 to {snapshot.current}"
                )
            index_of = {address: index for index, address in snapshot.oracles}
            verdicts = (
                snapshot.verdicts
                if number == snapshot.current
                else read_verdicts(self.ledger, number)
            )
            return {
                **summaries[number].to_json(now, self.symbol),
                "submissions": [self._verdict_json(v, index_of, snapshot.quorum) for v in verdicts],
            }

    # ---- reading -----------------------------------------------------------------------

    def _read(self) -> _Snapshot:
        block = self.ledger.client.block_number()
        if self._snapshot is not None and self._snapshot.block == block:
            # A node may answer a new block's logs only a moment after the block itself
            # (seen on anvil under load): the first poll at a block reads it, the next one
            # reads it once more, later ones reuse it. Without the second read, a chain
            # that then goes quiet shows its last events only once another block comes.
            if self._reread_block == block:
                return self._snapshot
            self._reread_block = block
        coordinator = self.ledger.coordinator
        self._index.refresh()
        current = coordinator.current_round()
        oracles = [(coordinator.oracle_index(o), o) for o in coordinator.oracles()]
        verdicts = read_verdicts(self.ledger, current) if current else []
        pending = [v for v in verdicts if v.status == UpdateStatus.PENDING]
        self._snapshot = _Snapshot(
            block=block,
            current=current,
            info=coordinator.get_round(current) if current else None,
            can_close=coordinator.can_close_round() if current else False,
            quorum=coordinator.quorum(),
            oracles=oracles,
            verdicts=verdicts,
            participants=[read_rewards(self.ledger, a) for a in known_participants(self.ledger)],
            activity=oracle_activity(
                oracles,
                self._index.votes,
                self._index.proposals,
                current,
                pending,
                self._index.block_time,
            ),
        )
        # Last: evaluating a new model takes a while, and the events and views above
        # should describe (nearly) the same block.
        self._index.evaluate()
        return self._snapshot

    # ---- JSON --------------------------------------------------------------------------

    def _document(self, s: _Snapshot, now: int) -> dict[str, Any]:
        deployment = self.ledger.deployment
        index_of = {address: index for index, address in s.oracles}
        return {
            "deployment": {
                "network": deployment.network,
                "chain_id": deployment.chain_id,
                "coordinator": deployment.coordinator,
                "token": deployment.token,
                "vault": deployment.vault,
                "symbol": self.symbol,
            },
            "chain": {
                "block": s.block,
                "time": now,
                "time_text": units.format_local_time(now),
            },
            "refresh_seconds": self.refresh_seconds,
            "quorum": s.quorum,
            "round": self._round_json(s, now, index_of),
            "rounds": [summary.to_json(now, self.symbol) for summary in self._index.rounds],
            "participants": [self._participant_json(p) for p in s.participants],
            "oracles": [activity.to_json(s.current, now) for activity in s.activity],
            "evaluation": None
            if self.accuracy is None
            else {
                "file": self.accuracy.source.name,
                "samples": len(self.accuracy),
                "samples_text": f"{len(self.accuracy):,} images",
                "failures": {
                    "0x" + digest.hex(): why for digest, why in self.accuracy.failures.items()
                },
            },
        }

    def _round_json(
        self, s: _Snapshot, now: int, index_of: dict[str, int]
    ) -> dict[str, Any] | None:
        info = s.info
        if info is None:
            return None
        summaries = {summary.round: summary for summary in self._index.rounds}
        opened = summaries[s.current].opened_at if s.current in summaries else None
        aggregation = (
            f"{info.proposals} proposal(s), the leading aggregate has {info.leading_votes} of "
            f"the {s.quorum} identical proposals needed"
        )
        grace = (
            units.format_deadline(info.voting_ends, now)
            if info.state == RoundState.CLOSED and info.voting_ends
            else ""
        )
        if grace and info.pending and now <= info.voting_ends:
            aggregation = (
                f"{info.pending} pending update(s) take votes until {grace} (the verification "
                "grace); the oracles aggregate after that, or once none is pending"
            )
        return {
            "round": s.current,
            "state": info.state.name.lower(),
            "state_text": units.words(info.state),
            "opened_at": opened,
            "opened_text": "" if opened is None else past(opened, now),
            "deadline": info.deadline,
            "deadline_text": units.format_deadline(info.deadline, now)
            + (" on the chain's clock" if info.state == RoundState.OPEN else ""),
            "closed_at": info.closed_at or None,
            "closed_text": past(info.closed_at, now) if info.closed_at else "",
            "can_close": s.can_close,
            "accepted": info.accepted,
            "proposals": info.proposals,
            "leading_votes": info.leading_votes,
            "aggregation_text": aggregation,
            "global_model": "0x" + info.global_model.hex(),
            "voting_ends": info.voting_ends or None,
            "voting_ends_text": grace,
            "submissions": [self._verdict_json(v, index_of, s.quorum, grace) for v in s.verdicts],
        }

    def _verdict_json(
        self,
        verdict: UpdateVerdict,
        index_of: dict[str, int],
        quorum: int,
        voting_ends: str = "",
    ) -> dict[str, Any]:
        reason = None if verdict.reason is None else _reason_words(verdict.reason)
        return {
            "participant": verdict.participant,
            "status": verdict.status.name.lower(),
            "status_text": units.words(verdict.status),
            "content_hash": _hex(verdict.content_hash),
            "score": verdict.score,
            "score_text": units.format_score(verdict.score) if verdict.votes else "",
            "reason": verdict.reason_name,
            "reason_text": reason,
            "reward": str(verdict.reward),
            "reward_text": units.format_tokens(verdict.reward, self.symbol)
            if verdict.reward
            else "",
            "accept_votes": verdict.accept_votes,
            "reject_votes": verdict.reject_votes,
            "settled_by": verdict.settled_by,
            "stake": verdict.stake,
            "verdict_text": _verdict_words(verdict, quorum, reason, voting_ends),
            "votes": [
                {
                    "oracle": vote.oracle,
                    "oracle_index": index_of.get(vote.oracle),
                    "accept": vote.accept,
                    "score": vote.score,
                    "score_text": units.format_score(vote.score),
                    "reason": None if vote.accept else vote.reason_name,
                    "reason_text": None if vote.accept else _reason_words(vote.reason),
                    "block": vote.block_number,
                }
                for vote in verdict.votes
            ],
        }

    def _participant_json(self, p: Rewards) -> dict[str, Any]:
        standing = "banned" if p.banned else ("registered" if p.registered else "removed")
        return {
            "address": p.address,
            "standing": standing,
            "registered": p.registered,
            "banned": p.banned,
            "accepted": p.accepted,
            "rejected": p.rejected,
            "strikes": p.strikes,
            "tokens": str(p.balance),
            "tokens_text": units.format_tokens(p.balance, self.symbol),
            "credited": str(p.credited),
        }


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _reason_words(code: int) -> str:
    return units.words(reason_name(code))


def _verdict_words(
    verdict: UpdateVerdict, quorum: int, reason: str | None, voting_ends: str = ""
) -> str:
    """The verdict in words: its outcome, how it was reached (the deciding vote, a
    ``settle()`` call, a ban) and what happened to its stake."""
    status = verdict.status
    by_call = verdict.settled_by == SETTLED_BY_CALL
    if status == UpdateStatus.ACCEPTED:
        text = f"accepted by {verdict.accept_votes} of {quorum} needed votes"
        if verdict.accept_votes > quorum:  # the quorum was lowered since
            text = f"accepted by {verdict.accept_votes} votes (the quorum is now {quorum})"
        if by_call:
            text = (
                f"accepted: {verdict.accept_votes} accept vote(s) reached the quorum of the "
                "live oracles after the oracle set changed, recorded by a settle() call"
            )
    elif status == UpdateStatus.REJECTED:
        text = f"rejected: {reason}"
        if verdict.settled_by == SETTLED_BY_BAN:
            text = "rejected: its participant was banned while the update was pending"
        elif by_call:
            text += (
                f" ({verdict.reject_votes} reject vote(s) reached the quorum of the live "
                "oracles after the oracle set changed, recorded by a settle() call)"
            )
    elif status == UpdateStatus.DISPUTED:
        text = (
            f"disputed: the votes split {verdict.accept_votes} accept to "
            f"{verdict.reject_votes} reject, neither can reach {quorum}"
        ) + (" (recorded by a settle() call)" if by_call else "")
    elif status == UpdateStatus.EXPIRED:
        text = (
            "expired: still pending when the round's voting ended (its close plus the "
            "verification grace): no reward, no strike"
        )
        text += (
            "; recorded by a settle() call"
            if by_call
            else "; a settle() call records it (returning a stake, if any)"
        )
    elif voting_ends:
        return (
            f"waiting for votes until {voting_ends} (the verification grace after the "
            f"close): {quorum} agreeing votes settle it"
        )
    else:
        return f"waiting for votes: {quorum} agreeing votes settle it"
    if verdict.stake is not None:
        text += f"; stake {verdict.stake}"
    return text


@contextmanager
def _readable(ledger: FedLedger) -> Iterator[None]:
    """Turn a failed read into :class:`LedgerUnreachable` saying what to do."""
    try:
        yield
    except (ChainError, DecodingError) as exc:
        try:
            ledger.verify()  # a restarted or foreign chain says so clearly
        except ChainError as why:
            raise LedgerUnreachable(str(why)) from exc
        raise LedgerUnreachable(f"cannot read the chain: {exc}") from exc

"""Each oracle's liveness, from its votes and aggregate proposals on the chain.

An oracle's work shows only as transactions: a vote on each pending update (until k
agreeing votes settle it: later votes are refused, so a slower oracle of a quorum may
rightly have fewer) and one aggregate proposal per closed round. An oracle is *live* if it
acted in the current or the previous round, *behind* if updates of the current round wait
for its vote and it has not acted lately, *silent* if rounds went by and nothing came
from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fedledger import units
from fedledger.chain.events import AggregateProposed, VoteCast
from fedledger.queries.verdicts import UpdateVerdict


@dataclass(frozen=True)
class OracleActivity:
    """What one oracle did, as the chain recorded it."""

    index: int
    address: str
    votes_this_round: int
    proposed_this_round: bool
    last_vote: VoteCast | None
    last_vote_time: int | None
    last_active_round: int  # the last round it voted or proposed in; 0: never
    unvoted_pending: int  # pending updates of the current round without its vote

    def liveness(self, current_round: int) -> str:
        """``live``, ``behind``, ``silent`` or ``waiting`` (nothing to do yet)."""
        if self.last_active_round and self.last_active_round >= current_round - 1:
            return "live"
        if self.unvoted_pending:
            return "behind"
        return "silent" if current_round > 1 else "waiting"

    def to_json(self, current_round: int, now: int) -> dict[str, Any]:
        liveness = self.liveness(current_round)
        if liveness == "live":
            liveness_text = f"live (acted in round {self.last_active_round})"
        elif liveness == "behind":
            liveness_text = f"behind: {self.unvoted_pending} pending update(s) wait for its vote"
        elif liveness == "silent":
            since = f"since round {self.last_active_round}" if self.last_active_round else "ever"
            liveness_text = f"silent: no vote or proposal {since}"
        else:
            liveness_text = "waiting for work"
        vote = self.last_vote
        return {
            "index": self.index,
            "address": self.address,
            "votes_this_round": self.votes_this_round,
            "proposed_this_round": self.proposed_this_round,
            "last_vote_round": None if vote is None else vote.round,
            "last_vote_block": None if vote is None else vote.block_number,
            "last_vote_time": self.last_vote_time,
            "last_vote_text": "no vote yet"
            if vote is None or self.last_vote_time is None
            else f"round {vote.round}, {_ago(self.last_vote_time, now)}",
            "last_active_round": self.last_active_round,
            "unvoted_pending": self.unvoted_pending,
            "liveness": liveness,
            "liveness_text": liveness_text,
        }


def oracle_activity(
    oracles: Sequence[tuple[int, str]],
    votes: Sequence[VoteCast],
    proposals: Sequence[AggregateProposed],
    current_round: int,
    pending: Sequence[UpdateVerdict],
    block_time: Callable[[int], int],
) -> list[OracleActivity]:
    """The activity of each ``(index, address)`` oracle from the deployment's votes and
    proposals (in chain order) and the current round's ``pending`` updates;
    ``block_time(block)`` gives a block's timestamp."""
    activity = []
    for index, address in oracles:
        mine = [vote for vote in votes if vote.oracle == address]
        proposed = [p.round for p in proposals if p.oracle == address]
        last = mine[-1] if mine else None
        activity.append(
            OracleActivity(
                index=index,
                address=address,
                votes_this_round=sum(vote.round == current_round for vote in mine),
                proposed_this_round=current_round in proposed,
                last_vote=last,
                last_vote_time=None if last is None else block_time(last.block_number),
                last_active_round=max([v.round for v in mine] + proposed, default=0),
                unvoted_pending=sum(
                    all(vote.oracle != address for vote in verdict.votes) for verdict in pending
                ),
            )
        )
    return activity


def _ago(timestamp: int, now: int) -> str:
    """A past moment against the chain's clock (a vote in the block being built is now)."""
    return "just now" if timestamp >= now else units.format_relative(timestamp, now)

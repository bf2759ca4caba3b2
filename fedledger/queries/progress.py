"""How far a round has come: updates settled so far, votes seen, time to its deadline on
the chain's clock. What ``participant run``, ``participant status --wait`` and the demo
show while they wait."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger import units
from fedledger.chain import FedLedger, RoundState
from fedledger.queries.verdicts import UpdateVerdict, read_verdicts


@dataclass(frozen=True)
class RoundProgress:
    round: int
    state: RoundState
    deadline: int
    chain_time: int
    quorum: int
    verdicts: tuple[UpdateVerdict, ...]

    @property
    def submitted(self) -> int:
        return len(self.verdicts)

    @property
    def settled(self) -> int:
        return sum(verdict.settled for verdict in self.verdicts)

    @property
    def votes(self) -> int:
        return sum(len(verdict.votes) for verdict in self.verdicts)

    @property
    def seconds_to_deadline(self) -> int:
        return self.deadline - self.chain_time

    def summary(self, *, with_deadline: bool = True) -> str:
        """``"round 2 open: 3 of 7 updates settled, 9 votes seen, deadline in 4 min"``."""
        text = (
            f"round {self.round} {units.words(self.state)}: {self.settled} of "
            f"{self.submitted} update(s) settled, {self.votes} vote(s) seen"
        )
        if self.state == RoundState.OPEN and with_deadline:
            if self.seconds_to_deadline >= 0:
                text += f", deadline in {units.format_duration(self.seconds_to_deadline)}"
            else:
                text += f", deadline passed {units.format_duration(-self.seconds_to_deadline)} ago"
        return text


def round_progress(ledger: FedLedger, round_: int) -> RoundProgress:
    """The progress of ``round_`` as the chain shows it now (read-only)."""
    info = ledger.coordinator.get_round(round_)
    return RoundProgress(
        round=round_,
        state=info.state,
        deadline=info.deadline,
        chain_time=ledger.client.chain_time(),
        quorum=ledger.coordinator.quorum(),
        verdicts=tuple(read_verdicts(ledger, round_)),
    )

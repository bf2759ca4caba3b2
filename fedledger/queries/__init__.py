"""Read models of the ledger: what the command line, the demo and the dashboard show.

Everything here only reads (events and views of the chain, and for the accuracy of the
rounds' models the store): no signing account.
"""

from fedledger.queries.errors import QueryError
from fedledger.queries.live import LedgerUnreachable, LiveLedger
from fedledger.queries.participants import Rewards, known_participants, read_rewards
from fedledger.queries.progress import RoundProgress, round_progress
from fedledger.queries.rounds import RoundIndex, RoundSummary, read_round_history
from fedledger.queries.verdicts import (
    SETTLED,
    UpdateVerdict,
    Vote,
    read_verdicts,
    wait_for_verdict,
)

__all__ = [
    "SETTLED",
    "LedgerUnreachable",
    "LiveLedger",
    "QueryError",
    "Rewards",
    "RoundIndex",
    "RoundProgress",
    "RoundSummary",
    "UpdateVerdict",
    "Vote",
    "known_participants",
    "read_rewards",
    "read_round_history",
    "read_verdicts",
    "round_progress",
    "wait_for_verdict",
]

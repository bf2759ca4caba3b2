"""Read models of the ledger: what the command line, the demo and the dashboard show.

Everything here only reads (events and views of the chain): no signing account, no store.
"""

from fedledger.queries.errors import QueryError
from fedledger.queries.participants import Rewards, known_participants, read_rewards
from fedledger.queries.verdicts import (
    SETTLED,
    UpdateVerdict,
    Vote,
    read_verdicts,
    wait_for_verdict,
)

__all__ = [
    "SETTLED",
    "QueryError",
    "Rewards",
    "UpdateVerdict",
    "Vote",
    "known_participants",
    "read_rewards",
    "read_verdicts",
    "wait_for_verdict",
]

"""The participant role: the client that fetches, trains and submits
(:mod:`fedledger.participant.client`), and the behaviours an update is made with, honest or
an attack (:mod:`fedledger.participant.behaviours`)."""

from fedledger.participant.behaviours import BEHAVIOURS, UpdateMaker, derive_seed, make_update
from fedledger.participant.client import (
    FetchedModel,
    ParticipantClient,
    ParticipantError,
    SentUpdate,
    Submission,
)

__all__ = [
    "BEHAVIOURS",
    "FetchedModel",
    "ParticipantClient",
    "ParticipantError",
    "SentUpdate",
    "Submission",
    "UpdateMaker",
    "derive_seed",
    "make_update",
]

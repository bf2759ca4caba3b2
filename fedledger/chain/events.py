"""Decoded contract events, one frozen dataclass per Solidity event.

Field names are the Solidity parameter names in snake_case; values are Python types
(checksum address strings, ``bytes`` for hashes, ``int``, the enums of
:mod:`fedledger.chain.codes`). Every event also says where it came from: the block, the
log's index in it, the transaction and the emitting contract; ``position`` sorts events
of different types into chain order.

Reading them: :meth:`fedledger.chain.client.ChainClient.get_events` (a block range, with
filters on indexed parameters) or :class:`fedledger.chain.client.EventStream` (follow the
chain from a block on, as an oracle does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fedledger.chain.codes import SkipReason


@dataclass(frozen=True)
class ChainEvent:
    """Where an event was emitted. Subclasses add the event's own parameters."""

    #: Solidity event name -> dataclass, filled by ``__init_subclass__``.
    registry: ClassVar[dict[str, type[ChainEvent]]] = {}

    block_number: int
    log_index: int
    tx_hash: str
    address: str

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        ChainEvent.registry[cls.__name__] = cls

    @property
    def position(self) -> tuple[int, int]:
        """(block, log index): sort events of any types into chain order with this key."""
        return (self.block_number, self.log_index)


# ---- FedLedgerCoordinator: oracles ----------------------------------------------------


@dataclass(frozen=True)
class OracleAdded(ChainEvent):
    oracle: str
    index: int
    size: int
    quorum: int


@dataclass(frozen=True)
class OracleRemoved(ChainEvent):
    oracle: str
    index: int
    size: int
    quorum: int


@dataclass(frozen=True)
class QuorumChanged(ChainEvent):
    quorum: int
    size: int


@dataclass(frozen=True)
class EncryptionKeyRegistered(ChainEvent):
    oracle: str
    public_key: bytes
    previous_key: bytes  # zero on a first registration
    round: int


# ---- FedLedgerCoordinator: participants -----------------------------------------------


@dataclass(frozen=True)
class ParticipantRegistered(ChainEvent):
    participant: str


@dataclass(frozen=True)
class ParticipantRemoved(ChainEvent):
    participant: str


@dataclass(frozen=True)
class ParticipantBanned(ChainEvent):
    participant: str
    strikes: int


@dataclass(frozen=True)
class ParticipantPardoned(ChainEvent):
    participant: str


@dataclass(frozen=True)
class OpenEnrolmentChanged(ChainEvent):
    open: bool


@dataclass(frozen=True)
class RejectionLimitChanged(ChainEvent):
    limit: int


# ---- FedLedgerCoordinator: rounds -----------------------------------------------------


@dataclass(frozen=True)
class RoundOpened(ChainEvent):
    round: int
    global_model: bytes
    deadline: int


@dataclass(frozen=True)
class UpdateSubmitted(ChainEvent):
    round: int
    participant: str
    content_hash: bytes
    num_samples: int


@dataclass(frozen=True)
class VoteCast(ChainEvent):
    round: int
    participant: str
    oracle: str
    accept: bool
    score: int
    reason: int


@dataclass(frozen=True)
class UpdateAccepted(ChainEvent):
    round: int
    participant: str
    score: int
    reward: int


@dataclass(frozen=True)
class UpdateRejected(ChainEvent):
    round: int
    participant: str
    score: int
    reason: int


@dataclass(frozen=True)
class UpdateDisputed(ChainEvent):
    round: int
    participant: str
    accept_votes: int
    reject_votes: int


@dataclass(frozen=True)
class RoundClosed(ChainEvent):
    round: int
    accepted_updates: int


@dataclass(frozen=True)
class AggregateProposed(ChainEvent):
    round: int
    oracle: str
    content_hash: bytes
    votes: int


@dataclass(frozen=True)
class RoundFinalized(ChainEvent):
    round: int
    global_model: bytes


@dataclass(frozen=True)
class RoundSkipped(ChainEvent):
    round: int
    reason: SkipReason


@dataclass(frozen=True)
class RoundRulesChanged(ChainEvent):
    duration: int
    aggregation_timeout: int
    contribution_target: int


@dataclass(frozen=True)
class RewardRuleChanged(ChainEvent):
    base: int
    per_score_point: int


# ---- ownership (coordinator and vault) ------------------------------------------------


@dataclass(frozen=True)
class OwnershipTransferStarted(ChainEvent):
    previous_owner: str
    new_owner: str


@dataclass(frozen=True)
class OwnershipTransferred(ChainEvent):
    previous_owner: str
    new_owner: str


# ---- RewardToken (ERC-20) -------------------------------------------------------------


@dataclass(frozen=True)
class Transfer(ChainEvent):
    from_: str
    to: str
    value: int


@dataclass(frozen=True)
class Approval(ChainEvent):
    owner: str
    spender: str
    value: int


# ---- RedemptionVault ------------------------------------------------------------------


@dataclass(frozen=True)
class Deposited(ChainEvent):
    sponsor: str
    amount: int


@dataclass(frozen=True)
class Redeemed(ChainEvent):
    holder: str
    tokens: int
    payout: int


@dataclass(frozen=True)
class Withdrawn(ChainEvent):
    holder: str
    amount: int


@dataclass(frozen=True)
class AccessPriceSet(ChainEvent):
    resource: bytes
    price: int


@dataclass(frozen=True)
class AccessPurchased(ChainEvent):
    buyer: str
    resource: bytes
    price: int

"""Decoded contract events, one frozen dataclass per Solidity event.

Field names are the Solidity parameter names in snake_case; values are Python types
(checksum address strings, ``bytes`` for hashes, ``int``, the enums of
:mod:`fedledger.chain.codes`). Every event also says where it came from: the block, the
log's index in it, the transaction and the emitting contract. Events sort in chain order.

Reading them: :meth:`fedledger.chain.client.ChainClient.get_events` (a block range, with
filters on indexed parameters) or :class:`fedledger.chain.client.EventStream` (follow the
chain from a block on, as an oracle does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from fedledger.chain.codes import SkipReason


@dataclass(frozen=True, order=True)
class ChainEvent:
    """Where an event was emitted. Subclasses add the event's own parameters."""

    #: Solidity event name -> dataclass, filled by ``__init_subclass__``.
    registry: ClassVar[dict[str, type[ChainEvent]]] = {}

    block_number: int
    log_index: int
    tx_hash: str = field(compare=False)
    address: str = field(compare=False)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        ChainEvent.registry[cls.__name__] = cls


# ---- FedLedgerCoordinator: oracles ----------------------------------------------------


@dataclass(frozen=True)
class OracleAdded(ChainEvent):
    oracle: str = field(compare=False)
    index: int = field(compare=False)
    size: int = field(compare=False)
    quorum: int = field(compare=False)


@dataclass(frozen=True)
class OracleRemoved(ChainEvent):
    oracle: str = field(compare=False)
    index: int = field(compare=False)
    size: int = field(compare=False)
    quorum: int = field(compare=False)


@dataclass(frozen=True)
class QuorumChanged(ChainEvent):
    quorum: int = field(compare=False)
    size: int = field(compare=False)


# ---- FedLedgerCoordinator: participants -----------------------------------------------


@dataclass(frozen=True)
class ParticipantRegistered(ChainEvent):
    participant: str = field(compare=False)


@dataclass(frozen=True)
class ParticipantRemoved(ChainEvent):
    participant: str = field(compare=False)


@dataclass(frozen=True)
class ParticipantBanned(ChainEvent):
    participant: str = field(compare=False)
    strikes: int = field(compare=False)


@dataclass(frozen=True)
class ParticipantPardoned(ChainEvent):
    participant: str = field(compare=False)


@dataclass(frozen=True)
class OpenEnrolmentChanged(ChainEvent):
    open: bool = field(compare=False)


@dataclass(frozen=True)
class RejectionLimitChanged(ChainEvent):
    limit: int = field(compare=False)


# ---- FedLedgerCoordinator: rounds -----------------------------------------------------


@dataclass(frozen=True)
class RoundOpened(ChainEvent):
    round: int = field(compare=False)
    global_model: bytes = field(compare=False)
    deadline: int = field(compare=False)


@dataclass(frozen=True)
class UpdateSubmitted(ChainEvent):
    round: int = field(compare=False)
    participant: str = field(compare=False)
    content_hash: bytes = field(compare=False)
    num_samples: int = field(compare=False)


@dataclass(frozen=True)
class VoteCast(ChainEvent):
    round: int = field(compare=False)
    participant: str = field(compare=False)
    oracle: str = field(compare=False)
    accept: bool = field(compare=False)
    score: int = field(compare=False)
    reason: int = field(compare=False)


@dataclass(frozen=True)
class UpdateAccepted(ChainEvent):
    round: int = field(compare=False)
    participant: str = field(compare=False)
    score: int = field(compare=False)
    reward: int = field(compare=False)


@dataclass(frozen=True)
class UpdateRejected(ChainEvent):
    round: int = field(compare=False)
    participant: str = field(compare=False)
    score: int = field(compare=False)
    reason: int = field(compare=False)


@dataclass(frozen=True)
class UpdateDisputed(ChainEvent):
    round: int = field(compare=False)
    participant: str = field(compare=False)
    accept_votes: int = field(compare=False)
    reject_votes: int = field(compare=False)


@dataclass(frozen=True)
class RoundClosed(ChainEvent):
    round: int = field(compare=False)
    accepted_updates: int = field(compare=False)


@dataclass(frozen=True)
class AggregateProposed(ChainEvent):
    round: int = field(compare=False)
    oracle: str = field(compare=False)
    content_hash: bytes = field(compare=False)
    votes: int = field(compare=False)


@dataclass(frozen=True)
class RoundFinalized(ChainEvent):
    round: int = field(compare=False)
    global_model: bytes = field(compare=False)


@dataclass(frozen=True)
class RoundSkipped(ChainEvent):
    round: int = field(compare=False)
    reason: SkipReason = field(compare=False)


@dataclass(frozen=True)
class RoundRulesChanged(ChainEvent):
    duration: int = field(compare=False)
    aggregation_timeout: int = field(compare=False)
    contribution_target: int = field(compare=False)


@dataclass(frozen=True)
class RewardRuleChanged(ChainEvent):
    base: int = field(compare=False)
    per_score_point: int = field(compare=False)


# ---- ownership (coordinator and vault) ------------------------------------------------


@dataclass(frozen=True)
class OwnershipTransferStarted(ChainEvent):
    previous_owner: str = field(compare=False)
    new_owner: str = field(compare=False)


@dataclass(frozen=True)
class OwnershipTransferred(ChainEvent):
    previous_owner: str = field(compare=False)
    new_owner: str = field(compare=False)


# ---- RewardToken (ERC-20) -------------------------------------------------------------


@dataclass(frozen=True)
class Transfer(ChainEvent):
    from_: str = field(compare=False)
    to: str = field(compare=False)
    value: int = field(compare=False)


@dataclass(frozen=True)
class Approval(ChainEvent):
    owner: str = field(compare=False)
    spender: str = field(compare=False)
    value: int = field(compare=False)


# ---- RedemptionVault ------------------------------------------------------------------


@dataclass(frozen=True)
class Deposited(ChainEvent):
    sponsor: str = field(compare=False)
    amount: int = field(compare=False)


@dataclass(frozen=True)
class Redeemed(ChainEvent):
    holder: str = field(compare=False)
    tokens: int = field(compare=False)
    payout: int = field(compare=False)


@dataclass(frozen=True)
class Withdrawn(ChainEvent):
    holder: str = field(compare=False)
    amount: int = field(compare=False)


@dataclass(frozen=True)
class AccessPriceSet(ChainEvent):
    resource: bytes = field(compare=False)
    price: int = field(compare=False)


@dataclass(frozen=True)
class AccessPurchased(ChainEvent):
    buyer: str = field(compare=False)
    resource: bytes = field(compare=False)
    price: int = field(compare=False)

"""The base of the decoded contract events (one frozen dataclass per Solidity event,
generated from the compiled ABI into :mod:`fedledger.chain.events`).

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

"""How an oracle node polls, fetches and retries (:class:`Backoff` after a failure), and
what one of its steps did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedledger.config import ProjectConfig
from oracle.verification import VerifierParams


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: ``initial`` seconds, doubling per failure, at most ``maximum``."""

    initial: float = 0.5
    maximum: float = 10.0

    def delay(self, failures: int) -> float:
        """The pause after the ``failures``-th failure in a row (1 for the first)."""
        # The exponent is capped: an outage of days must not overflow the float.
        doublings = min(max(failures - 1, 0), 64)
        return min(self.initial * 2**doublings, self.maximum)


@dataclass(frozen=True)
class NodeSettings:
    """How a node polls, fetches and retries. Every oracle may choose its own: none of these
    changes a verdict on a blob that arrived."""

    #: Seconds between polls of the chain while work is under way, or while the node's
    #: chain pushes nothing (no WebSocket subscription).
    poll_interval: float = 0.5
    #: With a live subscription (``eth_subscribe``, :mod:`fedledger.chain.heads`), a node
    #: with nothing under way sleeps until the chain announces a block with one of its
    #: events, the chain's clock reaches the round's next deadline, or this many seconds
    #: (a safety net for anything announced in no event it follows).
    idle_interval: float = 5.0
    #: Seconds a blob may stay unreachable (the store answering "not found") before the
    #: update is rejected with UNREACHABLE_BLOB. A store that does not answer never counts.
    unreachable_after: float = 30.0
    #: The size cap on every blob read (the project's storage.max_blob_bytes).
    max_blob_bytes: int = 16 * 1024 * 1024
    #: Pause between attempts after a failure: doubling from ``retry.initial`` seconds.
    retry: Backoff = field(default_factory=Backoff)
    #: Close the open round once the chain's clock is this many seconds past its deadline
    #: and this node has no verification left in it, so the next round opens by itself
    #: (a round without accepted updates is skipped); None: leave closing to others.
    close_after: float | None = 10.0
    #: Threads fetching blobs at once.
    fetch_workers: int = 4
    #: The verification rule's constants; ``contributors`` is the default for rounds whose
    #: rules set no contribution target (see :func:`oracle.rounds.contribution_target`).
    verifier_params: VerifierParams = field(default_factory=VerifierParams)
    #: Blocks an event (and this node's own transaction) must be buried under before the
    #: node acts on it or counts it as done: the network's ``confirmations``.
    confirmations: int = 0

    @classmethod
    def from_config(
        cls, config: ProjectConfig, network: str | None = None, **overrides: Any
    ) -> NodeSettings:
        """The settings for a project: its blob size cap, the network's confirmations,
        and ``overrides``."""
        defaults = {
            "max_blob_bytes": config.storage.max_blob_bytes,
            "confirmations": config.network(network).confirmations,
        }
        return cls(**{**defaults, **overrides})


@dataclass
class StepReport:
    """What one step did and what is left.

    ``waiting``: work is under way that will finish by itself (a fetch, a retry of a blob not
    found yet). ``blocked``: work cannot go on until an outage ends (store, chain, this
    account not being a registered oracle).
    """

    votes: int = 0
    proposals: int = 0
    waiting: bool = False
    blocked: bool = False

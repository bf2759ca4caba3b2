"""The FedLedger oracle node: watches the chain, verifies updates, votes and proposes aggregates.

The public API is what this package exports: :class:`OracleNode` with its
:class:`NodeSettings` and :class:`NodeLog`, :func:`oracle_status`, and the verification
rule's constants :class:`VerifierParams` (the rule itself is :mod:`oracle.verification`)
and :func:`reward_per_score_point`, which turns a reward per logit into the contract's unit.
Its command line is :mod:`fedledger.cli.oracle` (``fedledger oracle run``); operators read
docs/oracle.md.

The names are loaded on first use, so that ``fedledger --help`` does not load web3 or numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oracle.logs import NodeLog
    from oracle.node import NodeSettings, OracleNode
    from oracle.status import oracle_status
    from oracle.verification import VerifierParams

#: Public name -> the module that defines it.
_EXPORTS = {
    "NodeLog": "oracle.logs",
    "NodeSettings": "oracle.node",
    "OracleNode": "oracle.node",
    "VerifierParams": "oracle.verification",
    "oracle_status": "oracle.status",
}

__all__ = [
    "NodeLog",
    "NodeSettings",
    "OracleNode",
    "VerifierParams",
    "oracle_status",
    "reward_per_score_point",
]


def reward_per_score_point(per_logit: int) -> int:
    """A reward per logit of score (token base units) as the contract's reward per score
    point: the oracles' score is in units of ``2**-score_frac_bits`` logits (floored)."""
    from oracle.verification import VerifierParams

    return per_logit >> VerifierParams().score_frac_bits


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'oracle' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""Behaviour of the contracts' enums, mixed into the generated classes of
:mod:`fedledger.chain.enums` (the generator adds ``<Enum>Rules`` as a base when it is here)."""

from __future__ import annotations


class RoundStateRules:
    """Rules about a round's state that callers ask for by name."""

    name: str

    @property
    def ended(self) -> bool:
        """Finalized or skipped: the next round is open."""
        return self.name in ("FINALIZED", "SKIPPED")

"""Solidity names as Python names (one rule, used by the ABI codec and the code generator)."""

from __future__ import annotations

import keyword
import re


def snake_case(name: str) -> str:
    """``contentHash`` -> ``content_hash``, ``MAX_ORACLES`` -> ``max_oracles``,
    ``from`` -> ``from_`` (Python keywords get a trailing underscore)."""
    if name.isupper():
        return name.lower()
    converted = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return converted + "_" if keyword.iskeyword(converted) else converted

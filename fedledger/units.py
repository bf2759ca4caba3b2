"""Human units: how every face (the command, the demo, the dashboard) shows chain values.

The one place that turns base units into what a person reads:

- scores: the oracles' integer score is a mean validation-margin gain in units of
  ``2**-SCORE_FRAC_BITS`` logits; people read logits (``0.546 logits``);
- token and ETH amounts: 18-decimal base units (wei) as whole units (``10.5 FLR``);
- times: epoch seconds as local time, and relative to the *chain's* clock (``now`` is
  always passed in: the wall clock of this machine is not the chain's);
- enum members and error names as words (``SUBMISSION_DEADLINE_PASSED`` ->
  ``submission deadline passed``, ``RoundNotClosed`` -> ``round not closed``).

It imports nothing of the project, so every tier may use it.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from enum import Enum
from typing import Any

#: Decimals of the reward token (an OpenZeppelin ERC-20) and of ETH.
TOKEN_DECIMALS = 18
TOKEN_UNIT = 10**TOKEN_DECIMALS
WEI_PER_ETH = 10**18

#: The oracles' score is in units of 2**-SCORE_FRAC_BITS logits of mean margin gain.
SCORE_FRAC_BITS = 24
SCORE_UNIT = 1 << SCORE_FRAC_BITS


def score_logits(score: int, frac_bits: int = SCORE_FRAC_BITS) -> float:
    """An on-chain score in logits: ``9_164_194`` -> ``0.546...``."""
    return score / (1 << frac_bits)


def format_score(score: int, frac_bits: int = SCORE_FRAC_BITS) -> str:
    """``9_164_194`` -> ``"0.546 logits"``."""
    return f"{score_logits(score, frac_bits):.3f} logits"


def per_logit(per_score_point: int, frac_bits: int = SCORE_FRAC_BITS) -> int:
    """A reward per score point (base units) as the reward per whole logit of score."""
    return per_score_point << frac_bits


def _decimal(amount: int, decimals: int, places: int) -> str:
    value = Decimal(amount) / (Decimal(10) ** decimals)
    text = f"{value:,.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    if text in ("0", "-0") and amount != 0:
        # Never show a non-zero amount as 0: say it is below the shown precision.
        return f"{'-' if amount < 0 else ''}<{Decimal(1).scaleb(-places)}"
    return text


def format_tokens(amount: int, symbol: str = "FLR", places: int = 4) -> str:
    """``10_500_000_000_000_000_000`` -> ``"10.5 FLR"``."""
    return f"{_decimal(amount, TOKEN_DECIMALS, places)} {symbol}"


def format_eth(wei: int, places: int = 6) -> str:
    """``1_500_000_000_000_000_000`` -> ``"1.5 ETH"``."""
    return f"{_decimal(wei, 18, places)} ETH"


def format_duration(seconds: float) -> str:
    """``45`` -> ``"45 s"``, ``300`` -> ``"5 min"``, ``7300`` -> ``"2 h 1 min"``."""
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def format_relative(timestamp: float, now: float) -> str:
    """``"in 45 s"`` or ``"3 min ago"``: ``timestamp`` against ``now`` (the chain's clock)."""
    delta = timestamp - now
    return f"in {format_duration(delta)}" if delta >= 0 else f"{format_duration(-delta)} ago"


def format_local_time(timestamp: float) -> str:
    """Epoch seconds as this machine's local time: ``"2026-12-01 21:03:05 CET"``."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(timestamp)).rstrip()


def format_deadline(timestamp: float, now: float) -> str:
    """Local time and how far from the chain's clock ``now``:
    ``"2026-12-01 21:03:05 CET (in 45 s)"``."""
    return f"{format_local_time(timestamp)} ({format_relative(timestamp, now)})"


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(value: Enum | str) -> str:
    """An enum member or a name as words: ``RoundState.OPEN`` -> ``"open"``,
    ``"FAILED_VERIFICATION"`` -> ``"failed verification"``, ``"RoundNotClosed"`` ->
    ``"round not closed"``, ``"stalledAfter"`` -> ``"stalled after"``."""
    name = value.name if isinstance(value, Enum) else str(value)
    if "_" not in name and not name.isupper():
        name = _CAMEL_BOUNDARY.sub("_", name)
    return name.replace("_", " ").lower().strip()


#: Names of contract-error and event arguments, by the unit of their value.
TOKEN_FIELDS = frozenset({"balance", "requested", "needed", "tokens", "price", "amount", "reward"})
WEI_FIELDS = frozenset({"pool", "wei", "deposit", "value"})
TIME_FIELDS = frozenset({"deadline", "stalledAfter", "stalled_after", "closedAt", "closed_at"})
SCORE_FIELDS = frozenset({"score"})


def format_field(name: str, value: Any, now: float | None = None, symbol: str = "FLR") -> str:
    """One named value in human units, chosen by its name: token amounts, wei, times
    (relative to ``now`` when the chain's clock is known), scores, enum members as words,
    bytes as 0x-hex."""
    if isinstance(value, Enum):
        return words(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int):
        if name in TOKEN_FIELDS:
            return format_tokens(value, symbol)
        if name in WEI_FIELDS:
            return format_eth(value)
        if name in TIME_FIELDS:
            return format_local_time(value) if now is None else format_deadline(value, now)
        if name in SCORE_FIELDS:
            return format_score(value)
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)

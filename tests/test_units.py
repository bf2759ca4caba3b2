"""Human units: the one module every face formats chain values with."""

from __future__ import annotations

import time

import pytest

from fedledger import units
from fedledger.chain.codes import ReasonCode, RoundState
from fedledger.chain.errors import InsufficientTokens, RoundNotClosed, SubmissionDeadlinePassed


def test_scores_are_logits() -> None:
    assert units.score_logits(1 << 24) == 1.0
    assert units.format_score(9_164_194) == "0.546 logits"
    assert units.per_logit(3) == 3 << 24


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (10_500_000_000_000_000_000, "10.5 FLR"),
        (63_536_841_480_000_000_000, "63.5368 FLR"),
        (0, "0 FLR"),
        (1, "<0.0001 FLR"),
        (1234 * units.TOKEN_UNIT, "1,234 FLR"),
    ],
)
def test_tokens_in_whole_units(amount: int, text: str) -> None:
    assert units.format_tokens(amount) == text


def test_eth_in_whole_units() -> None:
    assert units.format_eth(1_500_000_000_000_000_000) == "1.5 ETH"


def test_deadlines_are_local_time_relative_to_the_given_clock() -> None:
    chain_now = 2_000_000_000
    text = units.format_deadline(chain_now + 45, chain_now)
    assert text.endswith("(in 45 s)")
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(chain_now + 45)) in text
    assert units.format_deadline(chain_now - 600, chain_now).endswith("(10 min ago)")
    assert units.format_relative(chain_now + 7300, chain_now) == "in 2 h 1 min"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (RoundState.OPEN, "open"),
        (ReasonCode.FAILED_VERIFICATION, "failed verification"),
        ("RoundNotClosed", "round not closed"),
        ("stalledAfter", "stalled after"),
        ("ERC20InsufficientBalance", "erc20 insufficient balance"),
    ],
)
def test_names_as_words(value: object, text: str) -> None:
    assert units.words(value) == text  # type: ignore[arg-type]


def test_contract_errors_speak_human_units() -> None:
    not_closed = RoundNotClosed({"round": 5, "state": RoundState.OPEN})
    assert "state=open" in str(not_closed) and "state=1" not in str(not_closed)
    tokens = InsufficientTokens({"balance": 63_536_841_480_000_000_000, "requested": 10**20})
    assert "balance=63.5368 FLR" in str(tokens) and "requested=100 FLR" in str(tokens)
    late = SubmissionDeadlinePassed({"round": 1, "deadline": 2_000_000_000})
    assert "2000000000" not in str(late)
    assert "ago)" in str(late.at_chain_time(2_000_000_060))

"""What the node retries and what it does not: something not on the chain yet is waited out
(logged as an ``error`` of stage ``chain``, the step blocked); a bug, such as a KeyError,
stops the node with a ``crash`` record instead of being retried forever as an outage."""

from __future__ import annotations

import pytest

from oracle.errors import NotYetOnChain
from oracle.rounds import contribution_target, round_opened_block
from oracle.settings import StepReport
from tests.oracle.conftest import NodeBed


def test_not_yet_on_chain_is_its_own_type_not_a_lookup_error(node_bed: NodeBed) -> None:
    ledger = node_bed.bed.admin
    assert not issubclass(NotYetOnChain, LookupError)
    assert round_opened_block(ledger, 1) >= ledger.deployment.block_number
    with pytest.raises(NotYetOnChain, match="no RoundOpened event for round 99"):
        round_opened_block(ledger, 99)
    with pytest.raises(NotYetOnChain, match="no RoundRulesChanged event before block"):
        contribution_target(ledger, (ledger.deployment.block_number, -1))


def test_what_is_not_on_the_chain_yet_blocks_the_step_and_is_retried(
    node_bed: NodeBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_bed.node(0)

    def look_too_early(report: StepReport) -> None:
        round_opened_block(node.ledger, 99)

    monkeypatch.setattr(node, "_work_on_current_round", look_too_early)
    first, second = node.step(), node.step()
    assert first.blocked and second.blocked
    (error,) = node_bed.logged("error", 0)  # one line per problem, not one per retry
    assert error["stage"] == "chain" and error["retrying"] is True
    assert "no RoundOpened event for round 99" in error.message
    monkeypatch.undo()
    assert not node.step().blocked  # the real work goes on once the chain shows it
    (recovered,) = node_bed.logged("recovered", 0)
    assert recovered["failures"] == 2


def test_a_key_error_is_a_bug_that_stops_the_node(
    node_bed: NodeBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_bed.node(0)

    def buggy(report: StepReport) -> None:
        raise KeyError("0x00")

    monkeypatch.setattr(node, "_work_on_current_round", buggy)
    with pytest.raises(KeyError):
        node.step()
    with pytest.raises(KeyError):
        node.run()
    assert not node_bed.logged("error", 0)  # never reported as an outage
    (crash,) = node_bed.logged("crash", 0)
    assert crash["stage"] == "bug" and "KeyError" in crash.message
    assert node_bed.logged("stopped", 0)

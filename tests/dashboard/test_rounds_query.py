"""The round history read model (fedledger.queries.rounds) on a real chain: followed
incrementally it counts every event once, agrees with a fresh read, and tells finalized
from skipped rounds; `fedledger rounds` prints it."""

from __future__ import annotations

from click.testing import CliRunner

from fedledger.chain import ReasonCode, RoundState
from fedledger.chain.codes import SkipReason
from fedledger.chain.events import UpdateAccepted
from fedledger.cli import main
from fedledger.queries import RoundIndex, read_round_history, round_progress
from tests.cli.conftest import Cli
from tests.fixtures.chain import TEST_ROUND_RULES


def test_followed_or_read_at_once_the_history_is_the_same(cli: Cli) -> None:
    bed = cli.bed
    index = RoundIndex(bed.admin)
    gas = 0

    def step(result: object) -> None:
        nonlocal gas
        gas += result.gas_used  # type: ignore[attr-defined]
        for _ in range(2):  # refreshing twice per block must not count anything twice
            index.refresh()

    first, second = bed.participants[:2]
    step(first.coordinator.submit_update(1, bed.hash("one"), 600))
    step(second.coordinator.submit_update(1, bed.hash("two"), 600))
    for oracle in bed.oracles[:2]:
        step(oracle.coordinator.vote(1, first.address, True, 1 << 24, 0))
        step(oracle.coordinator.vote(1, second.address, False, 0, ReasonCode.MALFORMED))
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    step(bed.admin.coordinator.close_round())
    for oracle in bed.oracles[:2]:
        step(oracle.coordinator.propose_aggregate(1, bed.hash("aggregate")))
    # Round 2: nothing accepted, skipped when it closes.
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    closing = bed.admin.coordinator.close_round()
    step(closing)

    followed = index.rounds
    fresh = read_round_history(bed.admin)
    assert [vars(r) for r in followed] == [vars(r) for r in fresh]
    one, two, three = fresh
    (accepted,) = bed.admin.events(UpdateAccepted, bed.deployment.block_number)
    assert (one.state, one.accepted, one.rejected, one.submitted) == (RoundState.FINALIZED, 1, 1, 2)
    assert one.tokens_minted == accepted.reward
    assert one.produced_model == bed.hash("aggregate")
    assert two.state == RoundState.SKIPPED
    assert two.skip_reason == SkipReason.NO_ACCEPTED_UPDATES
    assert two.closed_at == two.ended_at is not None
    assert two.gas_used == closing.gas_used
    assert one.gas_used + two.gas_used == gas
    assert (three.state, three.global_model) == (RoundState.OPEN, bed.hash("aggregate"))

    table = CliRunner().invoke(main, ["rounds"], env={"FEDLEDGER_ROOT": str(cli.project.root)})
    assert table.exit_code == 0, table.output
    assert f"round 1 produced 0x{bed.hash('aggregate').hex()}" in table.output
    assert "round 2 skipped: no update was accepted" in table.output


def test_the_progress_line_counts_settled_updates_votes_and_the_deadline(cli: Cli) -> None:
    """What `fedledger demo` and `participant run` print while a round runs."""
    bed = cli.bed
    first, second, third = bed.participants[:3]
    for index, participant in enumerate((first, second, third)):
        participant.coordinator.submit_update(1, bed.hash(f"progress {index}"), 600)
    assert (
        round_progress(bed.admin, 1)
        .summary()
        .startswith("round 1 open: 0 of 3 update(s) settled, 0 vote(s) seen, deadline in ")
    )
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, first.address, True, 1 << 24, 0)
    bed.oracles[0].coordinator.vote(1, second.address, False, 0, ReasonCode.MALFORMED)
    progress = round_progress(bed.admin, 1)
    assert (progress.submitted, progress.settled, progress.votes) == (3, 1, 3)
    left = progress.seconds_to_deadline
    assert 0 < left <= TEST_ROUND_RULES.duration
    assert progress.summary(with_deadline=False) == (
        "round 1 open: 1 of 3 update(s) settled, 3 vote(s) seen"
    )
    bed.dev.increase_time(left + 30)
    bed.dev.mine()
    late = round_progress(bed.admin, 1)
    assert late.seconds_to_deadline < -29
    assert late.summary().endswith(f", deadline passed {-late.seconds_to_deadline} s ago")

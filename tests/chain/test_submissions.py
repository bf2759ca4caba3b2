"""submitUpdate and the global-model view, against a real anvil."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fedledger.chain import RoundState, UpdateStatus
from fedledger.chain.errors import (
    AlreadySubmitted,
    Banned,
    EmptyContentHash,
    NotParticipant,
    RoundNotOpen,
    SubmissionDeadlinePassed,
    TrainingNotStarted,
    WrongRound,
    ZeroSamples,
)
from fedledger.chain.events import ParticipantRegistered, UpdateSubmitted
from tests.fixtures.chain import TEST_ROUND_RULES, Testbed, TestbedFactory, content_hash


def test_latest_model_reports_round_state_deadline_and_genesis(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    model = bed.outsider.coordinator.latest_model()
    opened = bed.admin.coordinator.get_round(1)
    assert model.round == 1
    assert model.state is RoundState.OPEN
    assert model.content_hash == content_hash("genesis")
    assert model.deadline == opened.deadline
    assert opened.global_model == content_hash("genesis")


def test_submit_records_the_update_and_emits_what_an_oracle_needs(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    participant = bed.participants[0]
    result = participant.coordinator.submit_update(1, bed.hash("u0"), 600)

    event = result.event(UpdateSubmitted)
    assert (event.round, event.participant) == (1, participant.address)
    assert (event.content_hash, event.num_samples) == (bed.hash("u0"), 600)
    update = bed.admin.coordinator.get_update(1, participant.address)
    assert update.status is UpdateStatus.PENDING
    assert (update.content_hash, update.num_samples) == (bed.hash("u0"), 600)
    assert (update.accept_votes, update.reject_votes, update.voters) == (0, 0, 0)
    assert bed.admin.coordinator.get_participant(participant.address).last_submitted_round == 1


def test_submit_accepts_a_hex_string_hash(chain_testbed: Testbed) -> None:
    participant = chain_testbed.participants[0]
    participant.coordinator.submit_update(1, "0x" + "ab" * 32, 1)
    assert participant.coordinator.get_update(1, participant.address).content_hash == bytes.fromhex(
        "ab" * 32
    )


def test_double_submit_in_one_round_is_refused(chain_testbed: Testbed) -> None:
    participant = chain_testbed.participants[0].coordinator
    participant.submit_update(1, content_hash("first"), 10)
    with pytest.raises(AlreadySubmitted) as caught:
        participant.submit_update(1, content_hash("second"), 10)
    assert caught.value.round == 1
    assert caught.value.participant == chain_testbed.participants[0].address
    assert participant.get_update(
        1, chain_testbed.participants[0].address
    ).content_hash == content_hash("first")


def test_submit_for_another_round_is_refused(chain_testbed: Testbed) -> None:
    with pytest.raises(WrongRound) as caught:
        chain_testbed.participants[0].coordinator.submit_update(2, content_hash("u"), 10)
    assert (caught.value.current, caught.value.given) == (1, 2)


def test_unregistered_account_cannot_submit(chain_testbed: Testbed) -> None:
    with pytest.raises(NotParticipant) as caught:
        chain_testbed.outsider.coordinator.submit_update(1, content_hash("u"), 10)
    assert caught.value.account == chain_testbed.outsider.address


def test_open_enrolment_registers_on_first_submission(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_open_enrolment(True)
    result = bed.outsider.coordinator.submit_update(1, content_hash("u"), 10)
    assert result.event(ParticipantRegistered).participant == bed.outsider.address
    assert bed.admin.coordinator.get_participant(bed.outsider.address).registered


def test_banned_participant_cannot_submit_even_with_open_enrolment(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_open_enrolment(True)
    bed.admin.coordinator.ban_participant(bed.participants[0].address)
    with pytest.raises(Banned):
        bed.participants[0].coordinator.submit_update(1, content_hash("u"), 10)


def test_submit_after_the_deadline_is_refused(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    deadline = bed.admin.coordinator.latest_model().deadline
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    with pytest.raises(SubmissionDeadlinePassed) as caught:
        bed.participants[0].coordinator.submit_update(1, content_hash("late"), 10)
    assert caught.value.deadline == deadline


def test_submit_to_a_closed_round_is_refused(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_round_rules(replace(TEST_ROUND_RULES, contribution_target=1))
    p0, p1 = bed.participants[:2]
    p0.coordinator.submit_update(1, content_hash("u0"), 10)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, p0.address, True, 1)
    bed.admin.coordinator.close_round()
    with pytest.raises(RoundNotOpen) as caught:
        p1.coordinator.submit_update(1, content_hash("u1"), 10)
    assert caught.value.state is RoundState.CLOSED


@pytest.mark.parametrize(
    ("digest", "samples", "error"),
    [(bytes(32), 10, EmptyContentHash), (content_hash("u"), 0, ZeroSamples)],
)
def test_submit_validates_hash_and_samples(
    chain_testbed: Testbed, digest: bytes, samples: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        chain_testbed.participants[0].coordinator.submit_update(1, digest, samples)


def test_nothing_happens_before_training_starts(chain_testbed_factory: TestbedFactory) -> None:
    bed = chain_testbed_factory(start=False)
    assert bed.admin.coordinator.latest_model().state is RoundState.NONE
    with pytest.raises(TrainingNotStarted):
        bed.participants[0].coordinator.submit_update(1, content_hash("u"), 10)
    with pytest.raises(TrainingNotStarted):
        bed.admin.coordinator.close_round()
    with pytest.raises(TrainingNotStarted):
        bed.oracles[0].coordinator.vote(1, bed.participants[0].address, True, 1)

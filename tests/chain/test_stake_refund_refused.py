"""withdrawStake to a participant that refuses ETH: the send fails, the whole withdrawal
reverts with FailedCall, and the credit stays for a later withdrawal (nothing is lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedledger.chain import ArtifactSet, compile_contracts
from fedledger.chain.abi import ContractInterface
from fedledger.chain.contract import deploy_contract
from fedledger.chain.errors import FailedCall
from fedledger.config import ProjectConfig
from tests.fixtures.chain import TestbedFactory, content_hash

STAKE = 10**16


@pytest.fixture(scope="module")
def refuser_artifacts(chain_config: ProjectConfig) -> ArtifactSet:
    return compile_contracts(chain_config, extra_sources=[Path(__file__).parent / "contracts"])


def test_a_refund_the_participant_refuses_reverts_and_keeps_the_credit(
    chain_testbed_factory: TestbedFactory, refuser_artifacts: ArtifactSet
) -> None:
    bed = chain_testbed_factory(participants=2, open_enrolment=True, enrolment_stake=STAKE)
    deployed = deploy_contract(
        bed.client,
        bed.outsider.signer,
        refuser_artifacts["StakeRefuser"],
        [bed.deployment.coordinator],
    )
    refuser = deployed.contract_address
    assert refuser is not None
    interface = ContractInterface("StakeRefuser", refuser_artifacts.abi("StakeRefuser"))
    bed.client.transact(
        bed.outsider.signer,
        refuser,
        interface.encode_call("submit", [1, content_hash("refuser")]),
        value=STAKE,
    )
    for oracle in bed.oracles[: bed.quorum]:
        oracle.coordinator.vote(1, refuser, True, 1)
    assert bed.admin.coordinator.returned_stake(refuser) == STAKE
    held = bed.client.balance(bed.deployment.coordinator)

    with pytest.raises(FailedCall):
        bed.client.transact(bed.outsider.signer, refuser, interface.encode_call("withdraw", []))

    assert bed.admin.coordinator.returned_stake(refuser) == STAKE
    assert bed.client.balance(bed.deployment.coordinator) == held
    assert bed.client.balance(refuser) == 0

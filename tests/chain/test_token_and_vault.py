"""RewardToken (mint guard, ERC-20) and RedemptionVault (pro-rata ETH, pull payments,
reentrancy, access rights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedledger.chain import ArtifactSet, ChainClient, FedLedger, compile_contracts
from fedledger.chain.abi import ContractInterface
from fedledger.chain.contract import deploy_contract
from fedledger.chain.errors import (
    AccessAlreadyGranted,
    ERC20InsufficientAllowance,
    ERC20InsufficientBalance,
    InsufficientTokens,
    NothingToRedeem,
    NothingToWithdraw,
    NotMinter,
    OwnableUnauthorizedAccount,
    ReentrancyGuardReentrantCall,
    ResourceNotForSale,
    ZeroAmount,
)
from fedledger.chain.events import (
    AccessPriceSet,
    AccessPurchased,
    Approval,
    Deposited,
    Redeemed,
    Transfer,
    Withdrawn,
)
from fedledger.config import ProjectConfig
from tests.fixtures.chain import TEST_REWARD_RULE, ZERO_ADDRESS, Testbed, content_hash

ETHER = 10**18
REWARD = TEST_REWARD_RULE.reward_for(1_000)


def earn(bed: Testbed, index: int) -> FedLedger:
    """Have participant ``index`` earn REWARD tokens through an accepted update, and claim
    them (acceptance credits them; claimRewards mints)."""
    participant = bed.participants[index]
    participant.coordinator.submit_update(1, content_hash(f"earn{index}"), 1)
    for oracle in bed.oracles[: bed.quorum]:
        oracle.coordinator.vote(1, participant.address, True, 1_000)
    participant.coordinator.claim_rewards()
    return participant


# ---- token --------------------------------------------------------------------------


def test_token_metadata_and_minter(chain_testbed: Testbed) -> None:
    token = chain_testbed.outsider.token
    assert (token.name(), token.symbol(), token.decimals()) == ("FedLedger Reward", "FLR", 18)
    assert token.minter() == chain_testbed.deployment.coordinator
    assert chain_testbed.admin.coordinator.reward_token() == token.address


def test_nobody_but_the_coordinator_mints(chain_testbed: Testbed) -> None:
    for caller in (chain_testbed.admin, chain_testbed.oracles[0], chain_testbed.outsider):
        with pytest.raises(NotMinter) as caught:
            caller.token.mint(caller.address, 1)
        assert caught.value.account == caller.address
    assert chain_testbed.admin.token.total_supply() == 0


def test_rewards_transfer_approve_and_burn_like_any_erc20(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    holder = earn(bed, 0)
    friend = bed.participants[1]
    sent = holder.token.transfer(friend.address, 3).event(Transfer)
    assert (sent.from_, sent.to, sent.value) == (holder.address, friend.address, 3)
    approval = holder.token.approve(friend.address, 5).event(Approval)
    assert (approval.owner, approval.spender, approval.value) == (
        holder.address,
        friend.address,
        5,
    )
    friend.token.transfer_from(holder.address, friend.address, 2)
    assert holder.token.allowance(holder.address, friend.address) == 3
    with pytest.raises(ERC20InsufficientAllowance):
        friend.token.transfer_from(holder.address, friend.address, 4)
    friend.token.burn_from(holder.address, 3)
    burned = holder.token.burn(10).event(Transfer)
    assert (burned.to, burned.value) == (ZERO_ADDRESS, 10)
    assert holder.token.balance_of(holder.address) == REWARD - 3 - 2 - 3 - 10
    assert holder.token.balance_of(friend.address) == 5
    assert holder.token.total_supply() == REWARD - 13
    with pytest.raises(ERC20InsufficientBalance):
        friend.token.transfer(holder.address, 6)


# ---- redemption for ETH -------------------------------------------------------------


def test_deposits_fill_the_pool(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    event = bed.admin.vault.deposit(2 * ETHER).event(Deposited)
    assert (event.sponsor, event.amount) == (bed.admin.address, 2 * ETHER)
    # A plain ETH transfer is a deposit too (receive()).
    plain = bed.client.transact(bed.outsider.signer, bed.deployment.vault, b"", value=ETHER)
    assert plain.event(Deposited).amount == ETHER
    assert bed.admin.vault.pooled_balance() == 3 * ETHER
    with pytest.raises(ZeroAmount):
        bed.admin.vault.deposit(0)


def test_redeem_burns_for_a_pro_rata_share_paid_on_withdraw(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    first, second = earn(bed, 0), earn(bed, 1)
    bed.admin.vault.deposit(3 * ETHER)
    supply = 2 * REWARD
    redeemed_tokens = REWARD // 4
    expected = redeemed_tokens * 3 * ETHER // supply
    assert first.vault.quote_redemption(redeemed_tokens) == expected

    result = first.redeem(redeemed_tokens)  # approves, then redeems
    event = result.event(Redeemed)
    assert (event.holder, event.tokens, event.payout) == (
        first.address,
        redeemed_tokens,
        expected,
    )
    assert first.token.total_supply() == supply - redeemed_tokens
    assert first.vault.owed(first.address) == expected
    assert first.vault.total_owed() == expected
    assert first.vault.pooled_balance() == 3 * ETHER - expected
    # The other holder's share is unchanged by the first redemption.
    assert second.vault.quote_redemption(REWARD) == REWARD * (3 * ETHER - expected) // (
        supply - redeemed_tokens
    )

    before = bed.client.balance(first.address)
    withdrawal = first.vault.withdraw()
    assert withdrawal.event(Withdrawn).amount == expected
    fee = withdrawal.gas_used * _effective_gas_price(bed.client, withdrawal.tx_hash)
    assert bed.client.balance(first.address) == before + expected - fee
    assert (first.vault.owed(first.address), first.vault.total_owed()) == (0, 0)
    with pytest.raises(NothingToWithdraw):
        first.vault.withdraw()


def test_redeeming_more_than_the_balance_is_refused(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    holder = earn(bed, 0)
    bed.admin.vault.deposit(ETHER)
    holder.token.approve(bed.deployment.vault, 2 * REWARD)
    with pytest.raises(InsufficientTokens) as caught:
        holder.vault.redeem(REWARD + 1)
    assert (caught.value.balance, caught.value.requested) == (REWARD, REWARD + 1)
    assert holder.token.balance_of(holder.address) == REWARD


def test_redeem_needs_an_allowance_a_pool_and_an_amount(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    holder = earn(bed, 0)
    with pytest.raises(NothingToRedeem):
        holder.redeem(REWARD)  # no deposit yet
    bed.admin.vault.deposit(ETHER)
    holder.token.approve(bed.deployment.vault, 0)
    with pytest.raises(ERC20InsufficientAllowance):
        holder.vault.redeem(REWARD)
    with pytest.raises(NothingToRedeem):
        holder.vault.redeem(1)  # worth less than one wei
    with pytest.raises(ZeroAmount):
        holder.vault.redeem(0)


# ---- reentrancy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def attacker_artifacts(chain_config: ProjectConfig) -> ArtifactSet:
    return compile_contracts(chain_config, extra_sources=[Path(__file__).parent / "contracts"])


@pytest.mark.parametrize("mode", [0, 1], ids=["reenter-withdraw", "reenter-redeem"])
def test_a_reentrant_holder_is_paid_at_most_once(
    chain_testbed: Testbed, attacker_artifacts: ArtifactSet, mode: int
) -> None:
    bed = chain_testbed
    holder = earn(bed, 0)
    bed.admin.vault.deposit(4 * ETHER)
    attacker_address = _deploy_attacker(bed.client, bed, attacker_artifacts)
    holder.token.transfer(attacker_address, REWARD)
    interface = ContractInterface("ReentrantRedeemer", attacker_artifacts.abi("ReentrantRedeemer"))

    with pytest.raises(ReentrancyGuardReentrantCall):
        bed.client.transact(
            holder.signer, attacker_address, interface.encode_call("attack", [REWARD, mode])
        )
    # The whole attack reverted: nothing burned, nothing credited, no ETH left the vault.
    assert bed.admin.token.balance_of(attacker_address) == REWARD
    assert bed.client.balance(bed.deployment.vault) == 4 * ETHER
    assert bed.admin.vault.total_owed() == 0
    assert bed.client.balance(attacker_address) == 0


def _deploy_attacker(client: ChainClient, bed: Testbed, artifacts: ArtifactSet) -> str:
    result = deploy_contract(
        client,
        bed.admin.signer,
        artifacts["ReentrantRedeemer"],
        [bed.deployment.vault, bed.deployment.token],
    )
    assert result.contract_address is not None
    return result.contract_address


def _effective_gas_price(client: ChainClient, tx_hash: str) -> int:
    return int(client.rpc("eth_getTransactionReceipt", [tx_hash])["effectiveGasPrice"], 16)


# ---- access rights ------------------------------------------------------------------


def test_access_rights_are_bought_with_tokens_and_recorded(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("supplementary-model")
    buyer = earn(bed, 0)
    with pytest.raises(ResourceNotForSale):
        buyer.purchase_access(resource)
    priced = bed.admin.vault.set_access_price(resource, REWARD // 2).event(AccessPriceSet)
    assert (priced.resource, priced.price) == (resource, REWARD // 2)
    assert buyer.vault.access_price(resource) == REWARD // 2

    bought = buyer.purchase_access(resource).event(AccessPurchased)
    assert (bought.buyer, bought.resource, bought.price) == (
        buyer.address,
        resource,
        REWARD // 2,
    )
    assert buyer.vault.has_access(resource, buyer.address)
    assert not buyer.vault.has_access(resource, bed.outsider.address)
    assert buyer.token.balance_of(buyer.address) == REWARD - REWARD // 2
    assert buyer.token.total_supply() == REWARD - REWARD // 2
    with pytest.raises(AccessAlreadyGranted):
        buyer.purchase_access(resource)


def test_access_needs_enough_tokens_and_only_the_admin_sets_prices(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("premium")
    bed.admin.vault.set_access_price(resource, 1)
    with pytest.raises(InsufficientTokens):
        bed.outsider.purchase_access(resource)
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.outsider.vault.set_access_price(resource, 0)
    assert bed.outsider.vault.token() == bed.deployment.token
    assert bed.outsider.vault.owner() == bed.admin.address

"""RedemptionVault resources (registration, access that expires at the chain's time) and
GatewayRegistry (gateways and their keys, members, the global-model policy), on anvil."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from fedledger.chain import ACCESS_FOREVER, GlobalModelPolicy
from fedledger.chain.errors import (
    AccessAlreadyGranted,
    EmptyGatewayKey,
    EmptyGatewayUrl,
    EmptyResourceContent,
    OwnableUnauthorizedAccount,
    ResourceNotForSale,
    TooManyGateways,
    UnknownGateway,
    ZeroAddress,
)
from fedledger.chain.events import (
    AccessPurchased,
    GatewayRemoved,
    GatewaySet,
    ResourceRegistered,
)
from tests.chain.test_token_and_vault import REWARD, earn
from tests.fixtures.chain import ZERO_ADDRESS, Testbed, TestbedFactory, content_hash

DAY = 86_400
KEY_A = b"\x0a" * 32
KEY_B = b"\x0b" * 32


# ---- resources ----------------------------------------------------------------------


def test_a_registered_resource_records_price_content_and_duration(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("model")
    event = bed.admin.vault.register_resource(
        resource, 5, content_hash("bytes"), content_hash("sealed"), DAY
    ).event(ResourceRegistered)
    assert (event.resource, event.price, event.content_hash, event.sealed_blob) == (
        resource,
        5,
        content_hash("bytes"),
        content_hash("sealed"),
    )
    assert event.access_duration == DAY
    info = bed.outsider.vault.resource_of(resource)
    assert (info.price, info.content_hash, info.sealed_blob, info.access_duration) == (
        5,
        content_hash("bytes"),
        content_hash("sealed"),
        DAY,
    )
    assert info.servable
    assert bed.outsider.vault.access_price(resource) == 5
    # Re-registering replaces everything; setAccessPrice changes only the price.
    bed.admin.vault.register_resource(resource, 7, content_hash("v2"), content_hash("s2"), 0)
    bed.admin.vault.set_access_price(resource, 9)
    info = bed.outsider.vault.resource_of(resource)
    assert (info.price, info.content_hash, info.access_duration) == (9, content_hash("v2"), 0)
    assert not bed.outsider.vault.resource_of(content_hash("unknown")).servable


def test_registering_a_resource_needs_content_and_the_admin(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("model")
    for content, sealed in ((bytes(32), content_hash("s")), (content_hash("c"), bytes(32))):
        with pytest.raises(EmptyResourceContent) as caught:
            bed.admin.vault.register_resource(resource, 1, content, sealed, 0)
        assert caught.value.resource == resource
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.outsider.vault.register_resource(resource, 1, content_hash("c"), content_hash("s"), 0)


def test_timed_access_expires_at_the_chain_time_and_can_be_bought_again(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    resource = content_hash("timed")
    buyer = earn(bed, 0)
    bed.admin.vault.register_resource(resource, 1, content_hash("c"), content_hash("s"), DAY)
    bought = buyer.purchase_access(resource)
    event = bought.event(AccessPurchased)
    stamp = int(
        bed.client.rpc("eth_getBlockByNumber", [hex(bought.block_number), False])["timestamp"], 16
    )
    assert event.expires_at == stamp + DAY
    assert buyer.vault.access_expiry(resource, buyer.address) == stamp + DAY
    assert buyer.vault.has_access(resource, buyer.address)
    with pytest.raises(AccessAlreadyGranted) as caught:
        buyer.purchase_access(resource)
    assert caught.value.expires_at == stamp + DAY

    bed.dev.increase_time(DAY - (bed.dev.timestamp() - stamp) - 1)
    assert bed.dev.timestamp() == stamp + DAY - 1
    assert buyer.vault.has_access(resource, buyer.address)
    bed.dev.increase_time(1)
    assert not buyer.vault.has_access(resource, buyer.address)
    again = buyer.purchase_access(resource).event(AccessPurchased)
    assert again.expires_at > stamp + DAY
    assert buyer.token.balance_of(buyer.address) == REWARD - 2


def test_access_without_a_duration_never_expires(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("forever")
    buyer = earn(bed, 0)
    bed.admin.vault.set_access_price(resource, 1)
    assert buyer.vault.access_expiry(resource, buyer.address) == 0
    assert buyer.purchase_access(resource).event(AccessPurchased).expires_at == ACCESS_FOREVER
    bed.dev.increase_time(3650 * DAY)
    assert buyer.vault.has_access(resource, buyer.address)


def test_a_resource_taken_off_sale_cannot_be_bought(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    resource = content_hash("off")
    buyer = earn(bed, 0)
    bed.admin.vault.register_resource(resource, 0, content_hash("c"), content_hash("s"), 0)
    with pytest.raises(ResourceNotForSale):
        buyer.purchase_access(resource)


# ---- gateways -----------------------------------------------------------------------


def test_the_admin_registers_updates_and_removes_gateways(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    registry = bed.admin.gateways
    a, b = bed.oracles[0].address, bed.participants[0].address
    event = registry.set_gateway(a, KEY_A, "http://127.0.0.1:8060").event(GatewaySet)
    assert (event.gateway, event.encryption_key, event.url) == (a, KEY_A, "http://127.0.0.1:8060")
    registry.set_gateway(b, KEY_B, "http://b")
    registry.set_gateway(a, KEY_B, "http://a2")  # an update keeps its place
    listed = bed.outsider.gateways.gateways()
    assert [(g.address, g.encryption_key, g.url) for g in listed] == [
        (a, KEY_B, "http://a2"),
        (b, KEY_B, "http://b"),
    ]
    assert bed.outsider.gateways.gateway_of(b).registered
    removed = registry.remove_gateway(a).event(GatewayRemoved)
    assert removed.gateway == a
    assert [g.address for g in registry.gateways()] == [b]
    assert not registry.gateway_of(a).registered
    with pytest.raises(UnknownGateway) as caught:
        registry.remove_gateway(a)
    assert caught.value.gateway == a
    registry.remove_gateway(b)
    assert registry.gateways() == []


def test_gateway_registration_is_checked_and_admin_only(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    registry = bed.admin.gateways
    gateway = bed.oracles[0].address
    with pytest.raises(ZeroAddress):
        registry.set_gateway(ZERO_ADDRESS, KEY_A, "http://x")
    with pytest.raises(EmptyGatewayKey):
        registry.set_gateway(gateway, bytes(32), "http://x")
    with pytest.raises(EmptyGatewayUrl):
        registry.set_gateway(gateway, KEY_A, "")
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.outsider.gateways.set_gateway(gateway, KEY_A, "http://x")
    registry.set_gateway(gateway, KEY_A, "http://x")
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.outsider.gateways.remove_gateway(gateway)


def test_the_registry_holds_at_most_max_gateways(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    registry = bed.admin.gateways
    limit = registry.max_gateways()
    assert limit == 16
    for index in range(limit):
        registry.set_gateway("0x" + f"{index + 1:040x}", KEY_A, f"http://g{index}")
    with pytest.raises(TooManyGateways) as caught:
        registry.set_gateway("0x" + "ff" * 20, KEY_A, "http://one-too-many")
    assert caught.value.max == limit
    registry.set_gateway("0x" + f"{1:040x}", KEY_B, "http://updated")  # updates still work


# ---- members and the global-model policy --------------------------------------------


def test_the_registry_reads_its_coordinator_and_vault(chain_testbed: Testbed) -> None:
    registry = chain_testbed.outsider.gateways
    assert registry.coordinator() == chain_testbed.deployment.coordinator
    assert registry.vault() == chain_testbed.deployment.vault
    assert registry.global_model_resource() == keccak(text="fedledger/global-model")
    assert registry.global_model_policy() is GlobalModelPolicy.PUBLIC


def test_members_are_participants_oracles_and_the_admin(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    registry = bed.outsider.gateways
    assert registry.is_member(bed.admin.address)
    assert registry.is_member(bed.oracles[0].address)
    participant = bed.participants[0].address
    assert registry.is_member(participant)
    assert not registry.is_member(bed.outsider.address)
    bed.admin.coordinator.ban_participant(participant)
    assert not registry.is_member(participant)
    bed.admin.coordinator.remove_oracle(bed.oracles[2].address, 2)
    assert not registry.is_member(bed.oracles[2].address)


@pytest.mark.parametrize("policy", list(GlobalModelPolicy), ids=lambda p: p.name.lower())
def test_the_global_model_policy_decides_who_reads_the_models(
    chain_testbed_factory: TestbedFactory, policy: GlobalModelPolicy
) -> None:
    bed = chain_testbed_factory(global_model_policy=policy)
    registry = bed.outsider.gateways
    assert registry.global_model_policy() is policy
    outsider = bed.outsider.address
    for member in (bed.admin.address, bed.oracles[0].address, bed.participants[0].address):
        assert registry.may_read_global_model(member)
    assert registry.may_read_global_model(outsider) == (policy is GlobalModelPolicy.PUBLIC)

    # An outsider holding access to the global-model resource reads it only under Holders.
    resource = registry.global_model_resource()
    bed.admin.vault.set_access_price(resource, 1)
    holder = earn(bed, 0)
    holder.token.transfer(outsider, 1)
    bed.outsider.purchase_access(resource)
    assert registry.may_read_global_model(outsider) == (policy is not GlobalModelPolicy.MEMBERS)


def test_global_models_are_sealed_for_the_oracles_and_gateways_keys(
    chain_testbed_factory: TestbedFactory,
) -> None:
    from fedledger.chain.exceptions import DeploymentError

    public = chain_testbed_factory()
    assert public.admin.global_model_recipients() is None
    bed = chain_testbed_factory(global_model_policy=GlobalModelPolicy.MEMBERS)
    with pytest.raises(DeploymentError, match="none has registered an encryption key"):
        bed.admin.global_model_recipients()
    bed.oracles[0].coordinator.register_encryption_key(KEY_B)
    bed.admin.gateways.set_gateway(bed.oracles[1].address, KEY_A, "http://g")
    bed.admin.gateways.set_gateway(bed.oracles[2].address, KEY_B, "http://h")  # same key once
    assert bed.outsider.global_model_recipients() == [KEY_A, KEY_B]

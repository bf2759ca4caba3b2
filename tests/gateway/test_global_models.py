"""Global models under a non-public policy, through the real gateway on the test anvil:
the genesis the admin stores is sealed for the oracles and the gateway; a member fetches
it with `fedledger participant model --key`, checked against the sealed blob; an outsider
is refused (members), or served once it holds access to the global-model resource
(holders); nobody reads it from the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fedledger.chain import GlobalModelPolicy
from fedledger.cli.rounds import sealed_model_opener
from fedledger.crypto import (
    GlobalModelBinding,
    NotARecipient,
    generate_key_pair,
    is_envelope,
    open_envelope,
)
from fedledger.ml import MNIST_MLP, decode, encode, initial_weights, load_dataset
from fedledger.ml.evaluation import ExactEvaluator
from fedledger.queries.accuracy import ModelAccuracy
from fedledger.storage import cid_from_content_hash
from tests.chain.test_token_and_vault import earn
from tests.cli.conftest import Cli, CliFactory
from tests.gateway.conftest import Gateway, register_gateway

PARTICIPANT = "dev:8"
OUTSIDER = "dev:39"


def started(
    cli_factory: CliFactory, start_gateway: Callable[..., Gateway], policy: GlobalModelPolicy
) -> tuple[Cli, Gateway]:
    bed = cli_factory(start=False, global_model_policy=policy)
    gateway = start_gateway()
    register_gateway(bed, gateway, bed.bed.oracles[0].address)
    bed.ok("admin", "start", "--arch", MNIST_MLP.id, "--seed", "0", "--key", "dev:0")
    return bed, gateway


def test_under_members_the_genesis_is_sealed_and_served_to_members_only(
    cli_factory: CliFactory, start_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    cli, _ = started(cli_factory, start_gateway, GlobalModelPolicy.MEMBERS)
    expected = encode(initial_weights(MNIST_MLP.id, 0))
    digest = cli.admin.coordinator.latest_model().content_hash
    sealed = cli.store.get(cid_from_content_hash(digest))
    assert is_envelope(sealed) and expected not in sealed
    binding = GlobalModelBinding(cli.bed.client.chain_id, cli.admin.coordinator.address)
    with pytest.raises(NotARecipient):
        open_envelope(sealed, binding, [generate_key_pair().private_key])

    out = tmp_path / "global.flmw"
    cli.ok("participant", "model", "--out", str(out), "--key", PARTICIPANT)
    assert out.read_bytes() == expected
    assert decode(out.read_bytes()).architecture == MNIST_MLP.id

    line = cli.fails("participant", "model", "--out", str(out), "--key", OUTSIDER)
    assert "(403)" in line and "under the members policy" in line
    assert "give --key" in cli.fails("participant", "model", "--out", str(out))
    # A banned participant is no member any more.
    cli.admin.coordinator.ban_participant(cli.bed.participants[0].address)
    assert "under the members policy" in cli.fails(
        "participant", "model", "--out", str(out), "--key", PARTICIPANT
    )


def test_under_holders_access_to_the_global_model_resource_opens_it(
    cli_factory: CliFactory, start_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    cli, _ = started(cli_factory, start_gateway, GlobalModelPolicy.HOLDERS)
    out = tmp_path / "global.flmw"
    line = cli.fails("participant", "model", "--out", str(out), "--key", OUTSIDER)
    assert "holders of access to 0x" in line
    resource = "0x" + cli.admin.gateways.global_model_resource().hex()
    cli.ok("admin", "set-access-price", resource, "1", "--key", "dev:0")
    earn(cli.bed, 0).token.transfer(cli.bed.outsider.address, 10**18)
    cli.ok("rewards", "access", resource, "--key", OUTSIDER)
    cli.ok("participant", "model", "--out", str(out), "--key", OUTSIDER)
    assert out.read_bytes() == encode(initial_weights(MNIST_MLP.id, 0))


def test_under_public_the_genesis_is_stored_in_plain(
    cli_factory: CliFactory, start_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    cli, _ = started(cli_factory, start_gateway, GlobalModelPolicy.PUBLIC)
    digest = cli.admin.coordinator.latest_model().content_hash
    assert cli.store.get(cid_from_content_hash(digest)) == encode(initial_weights(MNIST_MLP.id, 0))
    out = tmp_path / "global.flmw"
    cli.ok("participant", "model", "--out", str(out))  # no key needed


def test_accuracy_of_a_sealed_global_model_needs_an_oracles_or_a_gateways_key_file(
    cli_factory: CliFactory, start_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    cli, gateway = started(cli_factory, start_gateway, GlobalModelPolicy.MEMBERS)
    digest = cli.admin.coordinator.latest_model().content_hash
    rng = np.random.default_rng(0)
    evaluation = tmp_path / "eval.npz"
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=64, dtype=np.uint8)
    np.savez(evaluation, images=images, labels=labels)
    dataset = load_dataset(evaluation)
    expected = ExactEvaluator(dataset, MNIST_MLP.id).evaluate(initial_weights(MNIST_MLP.id, 0))

    keyless = ModelAccuracy.from_file(cli.store, evaluation)
    assert keyless(digest) is None
    assert "give --key-file" in keyless.failures[digest]

    with_key = ModelAccuracy.from_file(
        cli.store, evaluation, opener=sealed_model_opener(cli.admin, gateway.key_file)
    )
    assert with_key(digest) == expected.accuracy

    stranger = tmp_path / "stranger.json"
    cli.ok("gateway", "key", "--key-file", str(stranger))
    refused = ModelAccuracy.from_file(
        cli.store, evaluation, opener=sealed_model_opener(cli.admin, stranger)
    )
    assert refused(digest) is None and digest in refused.failures

    line = cli.fails("rounds", "--key-file", str(gateway.key_file))
    assert "give --eval too" in line

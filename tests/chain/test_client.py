"""The JSON-RPC client: connections, nonces, failures, revert decoding, logs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_abi import encode
from web3.middleware import ExtraDataToPOAMiddleware

from fedledger.chain import ChainClient, connect_web3
from fedledger.chain.abi import AbiRegistry
from fedledger.chain.client import EventStream, TxResult
from fedledger.chain.errors import (
    ChainError,
    ContractRevert,
    EmptyRevert,
    NotOracle,
    Panic,
    RevertWithReason,
    TransactionFailed,
    WrongRound,
)
from fedledger.chain.events import (
    RejectionLimitChanged,
    RoundOpened,
    UpdateAccepted,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.config import NetworkSettings
from tests.fixtures.chain import Testbed, content_hash


def test_poa_networks_get_the_extradata_middleware(chain_network: NetworkSettings) -> None:
    plain = connect_web3(chain_network)
    poa = connect_web3(NetworkSettings(**{**chain_network.__dict__, "poa": True}))
    layers = lambda w3: [middleware for middleware, _ in w3.middleware_onion.middleware]  # noqa: E731
    assert ExtraDataToPOAMiddleware not in layers(plain)
    assert ExtraDataToPOAMiddleware in layers(poa)
    assert poa.eth.get_block("latest")["number"] >= 0  # still works against a non-PoA chain


def test_a_network_without_url_or_node_is_explained(chain_client: ChainClient) -> None:
    with pytest.raises(ChainError, match="no RPC URL"):
        connect_web3(NetworkSettings(name="external", rpc_url="", chain_id=None))
    nowhere = ChainClient(
        connect_web3(NetworkSettings(name="x", rpc_url="http://127.0.0.1:9", chain_id=None)),
        chain_client.registry,
    )
    with pytest.raises(ChainError, match="cannot reach the chain"):
        nowhere.block_number()


def test_concurrent_senders_share_one_nonce_sequence(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(coordinator.set_rejection_limit, range(1, 21)))
    assert len({result.tx_hash for result in results}) == 20
    limits = sorted(result.event(RejectionLimitChanged).limit for result in results)
    assert limits == list(range(1, 21))


def test_a_transaction_that_runs_out_of_gas_is_reported(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    data = bed.client.registry["FedLedgerCoordinator"].encode_call("setRejectionLimit", [9])
    with pytest.raises(TransactionFailed, match="ran out of gas"):
        bed.client.transact(bed.admin.signer, bed.deployment.coordinator, data, gas=22_000)
    assert bed.admin.coordinator.rejection_limit() != 9


def test_a_mined_revert_is_decoded_by_replaying_it(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    data = bed.client.registry["FedLedgerCoordinator"].encode_call(
        "vote", [1, bed.participants[0].address, True, 1, 0]
    )
    # An explicit gas limit skips the estimate, so the revert happens on chain.
    with pytest.raises(NotOracle) as caught:
        bed.client.transact(bed.outsider.signer, bed.deployment.coordinator, data, gas=200_000)
    assert caught.value.account == bed.outsider.address
    assert caught.value.context == ""


def test_views_raise_decoded_errors_too(chain_testbed: Testbed) -> None:
    with pytest.raises(NotOracle):
        chain_testbed.admin.coordinator.oracle_index(chain_testbed.outsider.address)


def test_revert_data_decodes_to_the_right_exception(chain_client: ChainClient) -> None:
    registry: AbiRegistry = chain_client.registry
    reason = registry.decode_revert(bytes.fromhex("08c379a0") + encode(["string"], ["nope"]))
    assert isinstance(reason, RevertWithReason) and reason.reason == "nope"
    panic = registry.decode_revert(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert isinstance(panic, Panic) and panic.code == "0x11"
    assert isinstance(registry.decode_revert(b""), EmptyRevert)
    unknown = registry.decode_revert(bytes.fromhex("deadbeef"))
    assert type(unknown) is ContractRevert and unknown.error_name == "UnknownError"
    selector = registry["FedLedgerCoordinator"].errors
    wrong_round = next(spec for spec in selector.values() if spec.name == "WrongRound")
    decoded = registry.decode_revert(
        wrong_round.selector + encode(["uint64", "uint64"], [3, 4]), "ctx"
    )
    assert isinstance(decoded, WrongRound) and (decoded.current, decoded.given) == (3, 4)
    assert str(decoded).startswith("ctx reverted: WrongRound(current=3, given=4): The call names")


def test_contract_reverts_survive_pickling(chain_client: ChainClient) -> None:
    import pickle

    spec = next(
        s
        for s in chain_client.registry["FedLedgerCoordinator"].errors.values()
        if s.name == "WrongRound"
    )
    error = chain_client.registry.decode_revert(
        spec.selector + encode(["uint64", "uint64"], [1, 2])
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (
        type(copy) is WrongRound and copy.arguments == error.arguments and str(copy) == str(error)
    )


def test_tx_result_event_lookup() -> None:
    result = TxResult(tx_hash="0x", block_number=1, gas_used=1, events=())
    with pytest.raises(LookupError, match="expected one VoteCast"):
        result.event(VoteCast)
    assert result.events_of(VoteCast) == []


def test_events_by_type_block_range_and_indexed_filter(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    start = bed.client.block_number() + 1
    for participant in bed.participants[:3]:
        participant.coordinator.submit_update(1, content_hash(participant.address), 7)
    target = bed.participants[1].address

    everything = bed.admin.coordinator.events(UpdateSubmitted, from_block=start)
    assert [event.participant for event in everything] == [p.address for p in bed.participants[:3]]
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    only = bed.admin.events(UpdateSubmitted, start, participant=target, round=1)
    assert [event.participant for event in only] == [target]
    assert bed.admin.events(UpdateSubmitted, start, round=2) == []
    either = bed.admin.events(
        UpdateSubmitted, start, participant=[target, bed.participants[2].address]
    )
    assert len(either) == 2
    # The round-1 opening lies before `start`; the whole history still has it.
    assert [event.round for event in bed.admin.events(RoundOpened)] == [1]
    with pytest.raises(ValueError, match="no indexed parameter"):
        bed.admin.events(UpdateSubmitted, start, content_hash=b"x")


def test_large_ranges_are_fetched_in_chunks(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    first = bed.client.block_number() + 1
    for participant in bed.participants[:4]:
        participant.coordinator.submit_update(1, content_hash(participant.address), 7)
    chunked = ChainClient(bed.client.w3, bed.client.registry, max_log_range=2)
    events = chunked.get_events(UpdateSubmitted, bed.deployment.coordinator, first)
    assert len(events) == 4


def test_an_event_stream_delivers_each_event_once_in_chain_order(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    stream = bed.admin.event_stream(
        [UpdateSubmitted, UpdateAccepted], from_block=bed.client.block_number() + 1
    )
    assert stream.poll() == []
    participant = bed.participants[0]
    participant.coordinator.submit_update(1, content_hash("s"), 1)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, participant.address, True, 3)
    events = stream.poll()
    assert [type(event) for event in events] == [UpdateSubmitted, UpdateAccepted]
    assert stream.poll() == []
    resumed = EventStream(bed.client, list(bed.admin.addresses), [UpdateAccepted], from_block=0)
    assert [type(event) for event in resumed.poll()] == [UpdateAccepted]

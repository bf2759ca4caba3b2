"""Faults on the real consortium: 3 organisations, each a geth Clique signer, a Kubo node
and an oracle that talks only to its own organisation's nodes (confirmations = 2).

- an organisation's geth and Kubo are killed mid-round: the other two signers keep
  sealing, their two oracles (quorum 2) judge every update at close and finalize the round; the
  dead organisation's participant gets an error naming the endpoint and switches to
  another organisation's node; restarted, the organisation syncs and its oracle votes on
  the next round's update, no vote cast twice;
- an organisation is cut off from the others and its signer seals on its own (competing
  blocks) while the others move on: once it is back, its fork is gone, the submission it
  carried is not lost, no vote is lost or cast twice, and every oracle proposes the same
  aggregate.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from fedledger.chain import (
    ChainClient,
    DeployParams,
    FedLedger,
    RoundRules,
    UpdateStatus,
    abi_registry,
    compile_contracts,
    connect_web3,
    deploy,
    dev_accounts,
)
from fedledger.chain.errors import ChainError, RoundCloseTooEarly, RoundNotOpen
from fedledger.chain.events import AggregateProposed, RoundFinalized, VoteCast
from fedledger.config import NetworkSettings, ProjectConfig
from fedledger.consortium.network import Consortium, Organisation, block_number
from fedledger.crypto import Binding, OracleKeyFile, seal
from fedledger.ml import Dataset, ModelWeights, encode
from fedledger.storage import IpfsStore, cid_from_content_hash, content_hash_from_cid
from oracle.logs import LogRecord, NodeLog
from oracle.node import NodeSettings, OracleNode
from oracle.settings import Backoff
from tests.fixtures.consortium import org_network
from tests.oracle.conftest import NODE_BLOB_CAP, SAMPLES

CONFIRMATIONS = 2
#: Real 1-second blocks, 2 confirmations, 3 geth and 3 Kubo on 2 shared cores: minutes.
pytestmark = pytest.mark.timeout(1_500)
WAIT = 180.0  # generous: 2 shared cores, 1-second blocks, 2 confirmations
#: The oracles vote at close, so a round's updates settle only after its deadline (real
#: seconds here): long enough for the submissions and faults of a round, short enough to
#: wait for. The grace covers the judgement and its votes, 2 blocks deep.
ROUND_SECONDS = 150
GRACE_SECONDS = 60


def _rpc(url: str, method: str, params: list[object]) -> object:
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    ).json()
    if "error" in answer:
        raise AssertionError(f"{method} at {url}: {answer['error']}")
    return answer["result"]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.3)


@dataclass
class ConsortiumBed:
    """A fresh deployment on the session's consortium, and one oracle per organisation."""

    group: Consortium
    network: NetworkSettings
    registry: object
    ledger: FedLedger  # read-only, through organisation 1
    oracles: list[LocalAccount]
    participants: list[LocalAccount]
    validation: list[Dataset]
    records: list[LogRecord] = field(default_factory=list)
    nodes: list[OracleNode] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    key_files: list[OracleKeyFile] = field(default_factory=list)  # one per oracle, on chain

    def org(self, index: int) -> Organisation:
        return self.group.orgs[index]

    def ledger_at(self, org: int, account: LocalAccount | None = None) -> FedLedger:
        """``account`` acting through organisation ``org``'s geth only."""
        url = self.org(org).geth.rpc_url
        client = ChainClient(
            connect_web3(org_network(self.network, url), timeout=10),
            self.registry,  # type: ignore[arg-type]
            receipt_timeout=WAIT,
        )
        return FedLedger(client, self.ledger.deployment, account)

    def store_at(self, org: int) -> IpfsStore:
        return IpfsStore(
            self.org(org).kubo.api_url, max_blob_bytes=NODE_BLOB_CAP, timeout_seconds=10
        )

    def start_oracles(self) -> None:
        for index, account in enumerate(self.oracles):
            node = OracleNode(
                self.ledger_at(index, account),
                self.store_at(index),
                self.validation[index],
                self.key_files[index],
                NodeSettings(
                    poll_interval=0.3,
                    unreachable_after=120.0,
                    max_blob_bytes=NODE_BLOB_CAP,
                    retry=Backoff(initial=0.3, maximum=2.0),
                    confirmations=CONFIRMATIONS,
                ),
                log=NodeLog(account.address, [self.records.append]),
            )
            thread = threading.Thread(target=node.run, name=f"oracle-org{index + 1}", daemon=True)
            thread.start()
            self.nodes.append(node)
            self.threads.append(thread)

    def stop_oracle(self, index: int) -> None:
        self.nodes[index].request_stop()
        self.threads[index].join(60)
        assert not self.threads[index].is_alive(), f"oracle {index} did not stop"

    def stop_oracles(self) -> None:
        for node in self.nodes:
            node.request_stop()
        for thread in self.threads:
            thread.join(60)

    def submit(self, participant: int, org: int, weights: ModelWeights) -> str:
        """Upload to organisation ``org``'s Kubo and submit through its geth."""
        account = self.participants[participant]
        ledger = self.ledger_at(org, account)
        round_ = ledger.coordinator.current_round()
        # Sealed for the live oracles' keys, read from the chain, as the participant client does.
        binding = Binding(
            ledger.deployment.chain_id, ledger.coordinator.address, round_, account.address
        )
        keys = [key for key in ledger.coordinator.encryption_keys().values() if any(key)]
        with self.store_at(org) as store:
            digest = content_hash_from_cid(store.put(bytes(seal(encode(weights), binding, keys))))
        ledger.coordinator.submit_update(round_, digest, SAMPLES)
        return account.address

    def status(self, address: str, round_: int) -> UpdateStatus:
        return self.ledger.coordinator.get_update(round_, address).status

    def votes_per_update(self) -> Counter[tuple[int, str, str]]:
        votes = self.ledger.events(VoteCast, self.ledger.deployment.block_number)
        return Counter((vote.round, vote.oracle, vote.participant) for vote in votes)

    def admitted(self, participant: str, round_: int, oracles: range = range(2)) -> bool:
        """Whether the ``oracles`` have checked the update on arrival: it waits for the close."""
        addresses = {self.oracles[i].address for i in oracles}
        found = {
            record.oracle
            for record in list(self.records)
            if record.event == "admitted"
            and record.fields.get("round") == round_
            and record.fields.get("participant") == participant
        }
        return addresses <= found

    def close_and_finalize(self, round_: int) -> list[AggregateProposed]:
        wait_for(
            self.ledger.coordinator.can_close_round,
            f"round {round_} may close",
            timeout=ROUND_SECONDS + WAIT,
        )
        # canCloseRound is judged on the pending block, a close estimated on the latest:
        # a second later both agree. The oracles close overdue rounds themselves too.
        time.sleep(2)
        with contextlib.suppress(RoundNotOpen, RoundCloseTooEarly):
            self.ledger_at(0, self.participants[-1]).coordinator.close_round()
        start = self.ledger.deployment.block_number
        wait_for(
            lambda: bool(self.ledger.events(RoundFinalized, start, round=round_)),
            f"round {round_} finalized",
        )
        return self.ledger.events(
            AggregateProposed, self.ledger.deployment.block_number, round=round_
        )


@pytest.fixture
def consortium_bed(
    consortium: Consortium,
    consortium_network: NetworkSettings,
    chain_config: ProjectConfig,
    node_genesis: ModelWeights,
    node_validation: list[Dataset],
    tmp_path: Path,
) -> Iterator[ConsortiumBed]:
    artifacts = compile_contracts(chain_config, "consortium")  # paris: no PUSH0
    registry = abi_registry(artifacts)
    first = consortium.orgs[0].geth.rpc_url
    client = ChainClient(connect_web3(org_network(consortium_network, first)), registry)
    accounts = dev_accounts(12)
    admin, oracles, participants = accounts[0], accounts[1:4], accounts[4:12]
    with IpfsStore(
        consortium.orgs[0].kubo.api_url, max_blob_bytes=NODE_BLOB_CAP, timeout_seconds=30
    ) as store:
        genesis = content_hash_from_cid(store.put(encode(node_genesis)))
    params = DeployParams(
        round_rules=RoundRules(
            duration=ROUND_SECONDS,
            aggregation_timeout=1_800,
            contribution_target=0,
            verification_grace=GRACE_SECONDS,
        ),
        oracles=tuple(account.address for account in oracles),
        quorum=2,
        participants=tuple(account.address for account in participants),
        genesis_model=genesis,
    )
    deployment = deploy(client, admin, artifacts, params, network="consortium")
    bed = ConsortiumBed(
        consortium,
        consortium_network,
        registry,
        FedLedger(client, deployment),
        list(oracles),
        list(participants),
        node_validation,
    )
    for index, account in enumerate(oracles):
        keys = OracleKeyFile.create(tmp_path / "encryption-keys" / f"{account.address}.json")
        bed.ledger_at(index, account).coordinator.register_encryption_key(keys.current.public_key)
        bed.key_files.append(keys)
    bed.start_oracles()
    try:
        yield bed
    finally:
        bed.stop_oracles()
        for org in consortium.orgs:  # a failed test must not leave an organisation down
            if not org.kubo.running:
                org.kubo.start()
            if not org.geth.running:
                org.geth.start()
        consortium.wait_until_connected(timeout=WAIT)


def test_an_organisation_dies_mid_round_and_comes_back(
    consortium_bed: ConsortiumBed, node_honest: list[ModelWeights]
):
    bed = consortium_bed
    dead = bed.org(2)
    first = bed.submit(0, org=0, weights=node_honest[0])
    second = bed.submit(1, org=1, weights=node_honest[1])
    dead.geth.kill()
    dead.kubo.kill()
    height = block_number(bed.org(0).geth.rpc_url)

    # Its participant's node is gone: one clear error naming the endpoint ...
    stranded = bed.ledger_at(2, bed.participants[2])
    with pytest.raises(ChainError, match=dead.geth.rpc_url.replace(".", r"\.")):
        stranded.coordinator.current_round()
    # ... and the same account carries on through organisation 2's node.
    third = bed.submit(2, org=1, weights=node_honest[2])

    wait_for(
        lambda: all(bed.admitted(p, 1) for p in (first, second, third)),
        "the two remaining oracles check every update",
    )
    assert block_number(bed.org(1).geth.rpc_url) > height + 2  # two signers keep sealing
    proposals = bed.close_and_finalize(1)
    for participant in (first, second, third):  # judged at close, settled by the two
        assert bed.status(participant, 1) == UpdateStatus.ACCEPTED
    assert {proposal.oracle for proposal in proposals} <= {o.address for o in bed.oracles[:2]}
    assert len({proposal.content_hash for proposal in proposals}) == 1
    assert bed.ledger.coordinator.latest_model().round == 2

    # Back: it syncs to the same chain, and its oracle votes on the next round's update.
    dead.kubo.start()
    dead.geth.start()
    bed.group.wait_until_connected(timeout=WAIT)
    wait_for(
        lambda: block_number(dead.geth.rpc_url) >= block_number(bed.org(0).geth.rpc_url) - 1,
        "the restarted geth catches up",
    )
    # Organisation 1's oracle leaves, so quorum 2 needs the restarted one: with all three
    # up, the two that never left could settle the update before the late one's vote.
    bed.stop_oracle(0)
    fourth = bed.submit(3, org=2, weights=node_honest[3])
    late_oracle = bed.oracles[2].address
    wait_for(
        lambda: bed.admitted(fourth, 2, range(1, 3)),
        "the restarted organisation's oracle catches up with round 2",
    )
    proposals = bed.close_and_finalize(2)
    assert bed.status(fourth, 2) == UpdateStatus.ACCEPTED
    assert (2, late_oracle, fourth) in bed.votes_per_update()
    assert late_oracle in {proposal.oracle for proposal in proposals}
    assert max(bed.votes_per_update().values()) == 1  # no oracle voted twice on anything
    common = block_number(bed.org(0).geth.rpc_url) - CONFIRMATIONS
    hashes = {
        _rpc(org.geth.rpc_url, "eth_getBlockByNumber", [hex(common), False])["hash"]  # type: ignore[index]
        for org in bed.group.orgs
    }
    assert len(hashes) == 1


def _isolate(org: Organisation, others: list[Organisation]) -> None:
    for other in others:
        for a, b in ((org, other), (other, org)):
            _rpc(a.geth.rpc_url, "admin_removeTrustedPeer", [b.geth.enode])
            _rpc(a.geth.rpc_url, "admin_removePeer", [b.geth.enode])


def _reconnect(org: Organisation, others: list[Organisation]) -> None:
    for other in others:
        for a, b in ((org, other), (other, org)):
            _rpc(a.geth.rpc_url, "admin_addTrustedPeer", [b.geth.enode])
            _rpc(a.geth.rpc_url, "admin_addPeer", [b.geth.enode])


def _peer_count(org: Organisation) -> int:
    return int(str(_rpc(org.geth.rpc_url, "net_peerCount", [])), 16)


def _head_signer(org: Organisation) -> str:
    head = hex(block_number(org.geth.rpc_url))
    return str(_rpc(org.geth.rpc_url, "clique_getSigner", [head])).lower()


def _cut_off_after_a_foreign_block(alone: Organisation, others: list[Organisation]) -> int:
    """Partition ``alone``'s geth from the others while the newest block is another
    signer's, then let it seal: its next block competes with the others' block at that
    height. (It stops sealing first, so that the partition is not a race with its slot.)
    Returns its head when cut off."""
    signer = alone.geth.signer.address.lower()
    _rpc(alone.geth.rpc_url, "miner_stop", [])
    # miner_stop does not cancel a seal already scheduled (clique's out-of-turn delay): a
    # block of its own landing after the partition would head its fork, and clique lets it
    # seal nothing after its own block (seen in CI: "signed recently", no competing block).
    # So cut off, check the head once the partition holds, and start again if it is its own.
    for _ in range(3):
        wait_for(lambda: _head_signer(alone) != signer, "a block sealed by another organisation")
        _isolate(alone, others)
        wait_for(lambda: _peer_count(alone) == 0, "the partition")
        time.sleep(2.0)  # longer than the out-of-turn delay of a seal still in flight
        if _head_signer(alone) != signer:
            break
        _reconnect(alone, others)
        wait_for(lambda: _peer_count(alone) > 0, "the reconnection")
    else:
        raise AssertionError("the cut-off signer's own block headed its fork three times")
    head = block_number(alone.geth.rpc_url)
    _rpc(alone.geth.rpc_url, "miner_start", [])
    return head


def test_a_signer_cut_off_seals_competing_blocks_and_loses_nothing(
    consortium_bed: ConsortiumBed, node_honest: list[ModelWeights]
):
    bed = consortium_bed
    alone, others = bed.org(2), [bed.org(0), bed.org(1)]
    fork_start = _cut_off_after_a_foreign_block(alone, others)
    # Kubo stays connected: only the chain is partitioned. The submission goes to the
    # cut-off node's pool (and its own fork, if it seals one); its receipt comes later.
    carried_result: list[str] = []
    carrier = threading.Thread(
        target=lambda: carried_result.append(bed.submit(4, org=2, weights=node_honest[0])),
        daemon=True,
    )
    carrier.start()
    first = bed.submit(0, org=0, weights=node_honest[1])
    wait_for(lambda: bed.admitted(first, 1), "the majority checks the update")
    own_blocks = {
        number: _rpc(alone.geth.rpc_url, "eth_getBlockByNumber", [hex(number), False])["hash"]  # type: ignore[index]
        for number in range(fork_start + 1, block_number(alone.geth.rpc_url) + 1)
    }
    assert block_number(bed.org(0).geth.rpc_url) > max(own_blocks, default=fork_start) + 2
    late_oracle = bed.oracles[2].address
    carried = bed.participants[4].address
    assert bed.votes_per_update()[(1, late_oracle, carried)] == 0  # never 2 deep on its fork

    _reconnect(alone, others)
    carrier.join(WAIT)
    assert carried_result == [carried]
    wait_for(
        lambda: all(
            _rpc(alone.geth.rpc_url, "eth_getBlockByNumber", [hex(n), False])["hash"]  # type: ignore[index]
            == _rpc(others[0].geth.rpc_url, "eth_getBlockByNumber", [hex(n), False])["hash"]  # type: ignore[index]
            for n in own_blocks
        ),
        "the cut-off signer follows the others' chain again",
    )
    competing = [
        n
        for n, own in own_blocks.items()
        if own != _rpc(others[0].geth.rpc_url, "eth_getBlockByNumber", [hex(n), False])["hash"]  # type: ignore[index]
    ]
    assert competing, "the cut-off signer sealed no block of its own: nothing competed"

    third = bed.submit(1, org=1, weights=node_honest[2])
    wait_for(
        lambda: all(bed.admitted(p, 1) for p in (carried, first, third)),
        "the carried submission is on the chain and checked",
    )
    proposals = bed.close_and_finalize(1)
    for participant in (carried, first, third):
        assert bed.status(participant, 1) == UpdateStatus.ACCEPTED
    assert max(bed.votes_per_update().values()) == 1  # no vote cast twice
    wait_for(
        lambda: len(bed.ledger.events(AggregateProposed, bed.ledger.deployment.block_number)) >= 2,
        "proposals",
    )
    assert len({proposal.content_hash for proposal in proposals}) == 1  # one aggregate hash
    model = bed.ledger.coordinator.latest_model()
    assert model.round == 2 and model.content_hash == proposals[0].content_hash
    # Every organisation keeps the accepted updates and the aggregate.
    kept = [bed.ledger.coordinator.get_update(1, p).content_hash for p in (carried, first, third)]
    for org in bed.group.orgs:
        for digest in [*kept, model.content_hash]:
            cid = cid_from_content_hash(digest)
            api = org.kubo.api_url
            wait_for(lambda api=api, cid=cid: _pinned(api, cid), f"{org.name} pins {cid}")


def _pinned(api: str, cid: str) -> bool:
    answer = httpx.post(
        f"{api}/api/v0/pin/ls", params={"arg": cid, "type": "recursive"}, timeout=30
    )
    return answer.status_code == 200 and cid in answer.text

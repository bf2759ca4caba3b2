"""The consortium itself: every signer seals, the chain is one, blobs cross organisations."""

from __future__ import annotations

import os
import time

import httpx

from fedledger.consortium.network import Consortium, block_number
from fedledger.storage import IpfsStore, content_hash_from_cid, content_hash_of_blob


def _rpc(url: str, method: str, params: list[object]) -> object:
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    ).json()
    return answer["result"]


def test_every_organisation_seals_blocks_of_one_chain(consortium: Consortium):
    first = consortium.orgs[0].geth.rpc_url
    signers = _rpc(first, "clique_getSigners", ["latest"])
    assert sorted(s.lower() for s in signers) == sorted(  # type: ignore[union-attr]
        org.geth.signer.address.lower() for org in consortium.orgs
    )
    start = block_number(first)
    deadline = time.monotonic() + 120
    sealers: set[str] = set()
    number = start
    while len(sealers) < len(consortium.orgs) and time.monotonic() < deadline:
        if block_number(first) > number:
            number += 1
            snapshot = _rpc(first, "clique_getSigner", [hex(number)])
            sealers.add(str(snapshot).lower())
        else:
            time.sleep(0.3)
    assert len(sealers) == len(consortium.orgs), f"only {sealers} sealed since block {start}"
    # Every node agrees on the block hash at a common height.
    height = min(block_number(org.geth.rpc_url) for org in consortium.orgs) - 1
    hashes = {
        _rpc(org.geth.rpc_url, "eth_getBlockByNumber", [hex(height), False])["hash"]  # type: ignore[index]
        for org in consortium.orgs
    }
    assert len(hashes) == 1
    # The genesis stops before Shanghai: a PoA chain with several signers keeps sealing.
    genesis = _rpc(first, "eth_getBlockByNumber", ["0x0", False])
    assert "withdrawalsRoot" not in genesis  # type: ignore[operator]


def test_a_blob_put_at_one_organisation_reaches_the_others_by_bitswap(consortium: Consortium):
    blob = os.urandom(700_000)  # three chunks: a dag-pb tree crosses, not one block
    first, *others = consortium.orgs
    with IpfsStore(first.kubo.api_url, max_blob_bytes=2**24, timeout_seconds=30) as store:
        cid = store.put(blob)
    for org in others:
        with IpfsStore(org.kubo.api_url, max_blob_bytes=2**24, timeout_seconds=30) as store:
            assert not store.has(cid)
            assert store.get(cid) == blob  # verified against the CID on arrival
            store.pin(cid)
            assert store.has(cid)
    assert content_hash_from_cid(cid) == content_hash_of_blob(blob)

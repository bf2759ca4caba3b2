"""Authorized downloads through the gateway: requests per second and latency.

    .venv/bin/python scripts/bench_gateway.py [--json PATH] [--requests N] [--concurrency C]

Starts its own anvil, deploys, registers a gateway and sells the MLP genesis model
(mnist-mlp-784-128-10/v1, 407 KB encoded) as a resource; a holder buys access. The
gateway (fedledger.access.ResourceGate under fedledger.gateway's Starlette app, served by
uvicorn on loopback) runs in this process; a second process signs and sends the
requests, each with a fresh nonce, over keep-alive connections, and checks every
answer's bytes against the content hash on chain. Every request is fully checked by the
gateway (signature, domain, expiry and nonce, then ``hasAccess`` and ``resourceOf`` read
from the chain at that moment); the decrypted bytes are cached after the first request.
Latency is the HTTP round trip of one request (signing, ~2 ms, measured apart). Prints
a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def client_process(spec: dict[str, Any]) -> dict[str, Any]:
    """The second process: sign and send ``requests`` requests from ``concurrency`` threads."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from eth_account import Account

    from fedledger.chain.access import GatewayDomain, sign_download
    from fedledger.storage import content_hash_of_blob, resource_path

    account = Account.from_key(spec["key"])
    domain = GatewayDomain(spec["chain_id"], spec["registry"])
    resource = bytes.fromhex(spec["resource"])
    expected = bytes.fromhex(spec["content_hash"])
    url = spec["url"].rstrip("/") + resource_path(resource)
    per_thread = spec["requests"] // spec["concurrency"]

    started = time.perf_counter()
    signing = [sign_download(account, domain, resource, spec["expiry"]) for _ in range(50)]
    sign_ms = (time.perf_counter() - started) / len(signing) * 1000

    def run(_: int) -> list[float]:
        times = []
        with httpx.Client(timeout=60) as http:
            for _ in range(per_thread):
                body = sign_download(account, domain, resource, spec["expiry"]).to_json()
                begin = time.perf_counter()
                response = http.post(url, json=body)
                elapsed = time.perf_counter() - begin
                if (
                    response.status_code != 200
                    or content_hash_of_blob(response.content) != expected
                ):
                    raise SystemExit(
                        f"refused or wrong bytes: {response.status_code} {response.text[:200]}"
                    )
                times.append(elapsed)
        return times

    wall = time.perf_counter()
    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        latencies = [t for chunk in pool.map(run, range(spec["concurrency"])) for t in chunk]
    wall = time.perf_counter() - wall
    latencies.sort()
    return {
        "requests": len(latencies),
        "concurrency": spec["concurrency"],
        "seconds": wall,
        "requests_per_second": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "megabytes_per_second": len(latencies) * spec["bytes"] / wall / 1e6,
        "sign_ms": sign_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    from fedledger.access import ResourceGate, seal_resource
    from fedledger.chain import (
        Anvil,
        ChainClient,
        DeployParams,
        FedLedger,
        abi_registry,
        compile_contracts,
        connect_web3,
        deploy,
        dev_accounts,
    )
    from fedledger.chain.anvil import free_port
    from fedledger.config import NetworkSettings, load_config
    from fedledger.crypto import OracleKeyFile
    from fedledger.dashboard.server import DashboardServer
    from fedledger.gateway import create_app
    from fedledger.ml import MNIST_MLP, encode, initial_weights
    from fedledger.storage import LocalStore, content_hash_of_blob, store_blob

    config = load_config()
    artifacts = compile_contracts(config)
    model = encode(initial_weights(MNIST_MLP.id, 0))
    results: list[dict[str, Any]] = []
    with (
        Anvil.from_config(config, port=free_port(), accounts=4) as anvil,
        tempfile.TemporaryDirectory() as tmp,
    ):
        network = NetworkSettings(
            name="bench", rpc_url=anvil.rpc_url, chain_id=anvil.chain_id, embedded=True
        )
        client = ChainClient(connect_web3(network), abi_registry(artifacts))
        admin, oracle, buyer, _ = dev_accounts(anvil.accounts)
        deployment = deploy(
            client,
            admin,
            artifacts,
            DeployParams(
                oracles=(oracle.address,), participants=(buyer.address,), genesis_model=b"\x01" * 32
            ),
        )
        ledger = FedLedger(client, deployment, admin)
        keys = OracleKeyFile.create(Path(tmp) / "gateway.json")
        ledger.gateways.set_gateway(oracle.address, keys.current.public_key, "http://127.0.0.1")
        store = LocalStore(Path(tmp) / "store", max_blob_bytes=config.storage.max_blob_bytes)
        resource = content_hash_of_blob(model)
        sealed = store_blob(
            store, bytes(seal_resource(ledger, resource, model, [keys.current.public_key]))
        )
        ledger.vault.register_resource(resource, 1, resource, sealed.content_hash, 0)
        # The buyer earns tokens with one accepted update, then buys access.
        holder = ledger.with_account(buyer)
        holder.coordinator.submit_update(1, b"\x02" * 32, 1)
        ledger.with_account(oracle).coordinator.vote(1, buyer.address, True, 1_000)
        holder.purchase_access(resource)

        gate = ResourceGate(
            ledger.with_account(admin), store, keys, max_bytes=config.storage.max_blob_bytes
        )
        server = DashboardServer(create_app(gate, {}), "127.0.0.1", 0)
        server.start()
        try:
            for concurrency in args.concurrency:
                spec = {
                    "key": "0x" + bytes(buyer.key).hex(),
                    "chain_id": client.chain_id,
                    "registry": deployment.gateways,
                    "resource": resource.hex(),
                    "content_hash": resource.hex(),
                    "url": server.url,
                    "requests": args.requests - args.requests % concurrency,
                    "concurrency": concurrency,
                    "expiry": client.chain_time() + 550,
                    "bytes": len(model),
                }
                completed = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(spec)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results.append(json.loads(completed.stdout))
        finally:
            server.stop()
            store.close()

    print(
        f"authorized downloads of {len(model):,} bytes (the MLP model) through the gateway "
        "on loopback"
    )
    print(f"{'clients':>8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'MB/s':>7}")
    for row in results:
        print(
            f"{row['concurrency']:>8} {row['requests']:>9} {row['requests_per_second']:>8.1f} "
            f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['megabytes_per_second']:>7.1f}"
        )
    print(f"signing one request: {results[0]['sign_ms']:.2f} ms (client side, not in the latency)")
    if args.json:
        payload = {
            "benchmark": "gateway",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["scripts/bench_gateway.py", *sys.argv[1:]]),
            "environment": {"python": platform.python_version(), "cpus": _cpus()},
            "resource_bytes": len(model),
            "runs": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        json.dump(client_process(json.loads(sys.argv[2])), sys.stdout)
        sys.exit(0)
    sys.exit(main())

"""``fedledger gateway``: serve the vault's resources to those who hold access to them.

Any organisation can run one: the admin registers it (`fedledger admin set-gateway
ADDRESS --encryption-key KEY --url URL`) and the resources registered from then on are
sealed for its key (fedledger.access; docs/security.md, "Gateways").
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import (
    encryption_key_file_option,
    network_option,
    project_config,
    serve_options,
    store_options,
    user_errors,
)

#: ``--key-file``: the gateway's X25519 key file.
gateway_key_file_option = encryption_key_file_option(
    "The gateway's", ".fedledger/gateway-keys/gateway.json"
)


@click.group(invoke_without_command=True)
@network_option
@serve_options(8060, "to serve other machines")
@gateway_key_file_option
@store_options
@click.pass_context
def gateway(
    ctx: click.Context,
    network: str | None,
    port: int,
    host: str,
    key_file: Path | None,
    store_kind: str | None,
    ipfs_api: str | None,
) -> None:
    """Serve resources to addresses that sign a request and hold access, until Ctrl-C.

    A client POSTs an EIP-712 signed download request (resource, requester, nonce, expiry;
    domain: this chain and the deployment's GatewayRegistry) to /v1/resources/0x<id>; the
    gateway checks the signature, the expiry on the chain's clock and the nonce, asks the
    chain whether the requester holds access now, opens the resource's sealed blob with
    its key and sends the bytes. Used nonces are kept in .fedledger/gateway-nonces/, so a
    restart does not let a request be replayed. Every refusal is HTTP 401 or 403 (404, 503) with a
    one-line JSON reason. `fedledger rewards download` is the client.
    """
    if ctx.invoked_subcommand is not None:
        return
    from fedledger.access import (
        NonceBookError,
        ResourceGate,
        default_gateway_key_file,
        default_nonce_book,
    )
    from fedledger.crypto import OracleKeyFile
    from fedledger.dashboard.server import DashboardServer
    from fedledger.gateway import create_app
    from fedledger.storage import open_store

    config, ledger = open_ledger(network, sign=False)
    with user_errors():
        keys = OracleKeyFile.load(key_file or default_gateway_key_file(config))
        registry = ledger.gateways
        public = keys.current.public_key
        mine = [g for g in registry.gateways() if g.encryption_key == public]
        policy = registry.global_model_policy()
        store = open_store(config, kind=store_kind, ipfs_api=ipfs_api)
    book = default_nonce_book(config, ledger.client.chain_id, registry.address)
    try:
        gate = ResourceGate(
            ledger, store, keys, max_bytes=config.storage.max_blob_bytes, nonce_book=book
        )
    except NonceBookError as exc:
        store.close()
        raise click.ClickException(str(exc)) from exc
    info = {
        "chain_id": ledger.client.chain_id,
        "registry": registry.address,
        "vault": ledger.vault.address,
        "global_model_policy": policy.name.lower(),
        "encryption_key": "0x" + public.hex(),
        "registered_as": mine[0].address if mine else None,
    }
    try:
        server = DashboardServer(create_app(gate, info), host, port)
    except OSError as exc:
        store.close()
        gate.nonces.close()
        raise click.ClickException(str(exc)) from exc
    out = render.console()
    if not mine:
        out.print(
            f"[yellow]this gateway's key 0x{public.hex()} is not registered: the admin runs "
            "`fedledger admin set-gateway ADDRESS --encryption-key "
            f"0x{public.hex()} --url {server.url.rstrip('/')}`[/yellow]",
            highlight=False,
        )
    out.print(
        f"FedLedger gateway of {ledger.deployment.network} at {server.url} "
        f"(key 0x{public.hex()[:8]}.., global models {policy.name.lower()}); Ctrl-C stops it",
        highlight=False,
    )
    sys.stdout.flush()  # the URL line, before serving (a script may be waiting for it)
    try:
        server.run()
    finally:
        store.close()
        gate.nonces.close()


@gateway.command()
@gateway_key_file_option
def key(key_file: Path | None) -> None:
    """Show the gateway's encryption key, creating the key file (mode 0600) if missing.

    Give the public key to the admin, who registers the gateway with it."""
    from fedledger.access import default_gateway_key_file
    from fedledger.crypto import OracleKeyFile

    config = project_config()
    path = key_file or default_gateway_key_file(config)
    with user_errors():
        created = not path.exists()
        keys = OracleKeyFile.create(path) if created else OracleKeyFile.load(path)
    state = "written to" if created else "in"
    render.console().print(
        f"gateway encryption key 0x{keys.current.public_key.hex()} {state} {path}",
        highlight=False,
    )

"""``fedledger dashboard``: serve the live web page of a deployment (fedledger.dashboard)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import network_option, serve_options, store_options, user_errors
from fedledger.cli.rounds import eval_option, open_accuracy


@click.command()
@network_option
@eval_option
@serve_options(8050, "to let other machines see it; it has no login")
@click.option(
    "--refresh",
    type=click.FloatRange(0.2, 60),
    default=1.0,
    show_default=True,
    help="Seconds between the page's reads of the chain.",
)
@store_options
def dashboard(
    network: str | None,
    eval_path: Path | None,
    eval_key_file: Path | None,
    port: int,
    host: str,
    refresh: float,
    store_kind: str | None,
    ipfs_api: str | None,
) -> None:
    """Serve a live web page of the deployment on NETWORK, until Ctrl-C.

    The page updates itself as the chain moves: the current round and its deadline on the
    chain's clock, the submissions with their votes so far and the verdicts with their
    reasons, the round history (accepted and rejected updates, tokens minted, gas,
    duration), every participant's standing and each oracle's liveness. With --eval it
    also charts the test accuracy of the global model every finalized round produced
    (fetched from the store, evaluated exactly).

    It only reads the chain (and the store for --eval): anyone can run it, no key needed
    (where the policy seals the global models, --key-file of an oracle or a gateway opens
    them for --eval).
    A JSON API serves the same data: /api/state (everything), /api/rounds (as `fedledger
    rounds --json`), /api/rounds/N, /api/participants, /api/oracles.
    """
    from fedledger.dashboard import DashboardServer, create_app
    from fedledger.queries import LiveLedger

    config, ledger = open_ledger(network, sign=False)
    accuracy = open_accuracy(config, ledger, eval_path, eval_key_file, store_kind, ipfs_api)
    with user_errors():
        source = LiveLedger(ledger, accuracy=accuracy, refresh_seconds=refresh)
    try:
        server = DashboardServer(create_app(source), host, port)
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
    out = render.console()
    out.print(
        f"FedLedger dashboard of {ledger.deployment.network} at {server.url} "
        f"(JSON: {server.url}api/state); Ctrl-C stops it",
        highlight=False,
    )
    sys.stdout.flush()  # the URL line, before serving (a script may be waiting for it)
    server.run()

"""The ``fedledger`` command.

Subcommands live in their own modules and are imported only when used, so that
``fedledger --help`` answers at once instead of loading TensorFlow and web3.
"""

from __future__ import annotations

import importlib

import click

from fedledger.config import ENVIRONMENT

#: name -> (module, attribute, one-line help).
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": (
        "fedledger.cli.demo",
        "demo",
        "Run an end-to-end federated learning demo on the chain.",
    ),
    "status": (
        "fedledger.cli.status",
        "status",
        "Show the round, submissions, oracles and balances.",
    ),
    "rounds": (
        "fedledger.cli.rounds",
        "rounds",
        "Every round: state, verdict counts, tokens, gas, time, model.",
    ),
    "dashboard": (
        "fedledger.cli.dashboard",
        "dashboard",
        "Serve a live web page of the rounds, verdicts and oracles.",
    ),
    "gateway": (
        "fedledger.cli.gateway",
        "gateway",
        "Serve resources to addresses that hold access (signed requests).",
    ),
    "participant": (
        "fedledger.cli.participant",
        "participant",
        "Fetch, train, submit and follow updates.",
    ),
    "oracle": (
        "fedledger.cli.oracle",
        "oracle",
        "Run an oracle node that verifies updates and votes.",
    ),
    "round": ("fedledger.cli.round", "round_", "Close the current round, or skip a stalled one."),
    "rewards": (
        "fedledger.cli.rewards",
        "rewards",
        "Token balances, redemption and access rights.",
    ),
    "admin": (
        "fedledger.cli.admin",
        "admin",
        "Register oracles and participants, set quorum and rules.",
    ),
    "keys": ("fedledger.cli.keys", "keys", "Create, import and list encrypted keystores."),
    "deploy": ("fedledger.cli.deploy", "deploy", "Compile and deploy the contracts."),
    "chain": ("fedledger.cli.chain", "chain", "Start, stop and inspect the embedded anvil chain."),
    "store": ("fedledger.cli.store", "store", "Put, get and compute CIDs of blobs."),
    "consortium": (
        "fedledger.cli.consortium",
        "consortium",
        "Start, stop and inspect a local geth + Kubo + oracle consortium.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Environment"):
            formatter.write_dl(list(ENVIRONMENT.items()))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fedledger")
def main() -> None:
    """FedLedger: federated learning coordinated by an Ethereum smart contract.

    Participants submit signed model updates, oracle nodes verify each one on private
    validation data and must agree k-of-n before the contract accepts it or finalizes
    a round, and accepted work earns ERC-20 reward tokens.

    Settings come from brownie-config.yaml (compiler, networks, storage); the
    environment variables below override them.
    """

"""The demo's accounts in their roles: an admin, n oracles and N participants, and the
``--key`` each child process is started with."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount

from fedledger.chain import dev_accounts, open_client
from fedledger.chain.keys import KEYSTORE_PASSWORD_ENV, write_keystore
from fedledger.config import ProjectConfig
from fedledger.demo.config import DemoConfig
from fedledger.demo.workspace import NETWORK, Workspace


@dataclass(frozen=True)
class Cast:
    """The accounts in their roles, and the ``--key`` each child is started with."""

    admin: LocalAccount
    oracles: tuple[LocalAccount, ...]
    participants: tuple[LocalAccount, ...]
    keys: dict[str, str]  # address -> --key value
    child_env: dict[str, str] = field(default_factory=dict)


def make_cast(
    config: DemoConfig,
    workspace: Workspace,
    project: ProjectConfig,
    admin: LocalAccount | None,
    stage: Callable[[str], None],
) -> Cast:
    """The dev accounts on the embedded chain; on a real chain, fresh accounts funded by
    ``admin``, with keystores in the run directory for the children."""
    roles = config.oracles + config.participants
    if config.embedded:
        accounts = dev_accounts(1 + roles)
        keys = {str(account.address): f"dev:{index}" for index, account in enumerate(accounts)}
        return Cast(
            admin=accounts[0],
            oracles=tuple(accounts[1 : 1 + config.oracles]),
            participants=tuple(accounts[1 + config.oracles :]),
            keys=keys,
        )
    assert admin is not None
    password = secrets.token_hex(16)
    workspace.keys_dir.mkdir(mode=0o700)
    fresh = [Account.create() for _ in range(roles)]
    keys = {
        str(account.address): str(
            write_keystore(account, workspace.keys_dir / f"{index + 1:02d}.json", password)
        )
        for index, account in enumerate(fresh)
    }
    client = open_client(project, NETWORK)
    amount = int(config.fund_eth * 10**18)
    stage(f"funding {roles} demo accounts with {config.fund_eth:g} ETH each")
    for account in fresh:
        client.transact(admin, account.address, b"", value=amount)
    return Cast(
        admin=admin,
        oracles=tuple(fresh[: config.oracles]),
        participants=tuple(fresh[config.oracles :]),
        keys=keys,
        child_env={KEYSTORE_PASSWORD_ENV: password},
    )

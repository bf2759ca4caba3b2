"""The anvil process classes, the dev controls, and where signing keys come from."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from fedledger.chain import Anvil, ChainClient, DevControls, EmbeddedChain
from fedledger.chain.anvil import free_port, rpc_answers
from fedledger.chain.client import RpcError
from fedledger.chain.errors import AccountError, AnvilError
from fedledger.chain.keys import (
    KEYSTORE_ENV,
    KEYSTORE_PASSWORD_ENV,
    PRIVATE_KEY_ENV,
    dev_accounts,
    load_keystore,
    resolve_account,
    write_keystore,
)
from fedledger.config import NetworkSettings, ProjectConfig
from tests.fixtures.chain import write_project

EMBEDDED = NetworkSettings(
    name="anvil", rpc_url="http://127.0.0.1:1", chain_id=31337, embedded=True, accounts=5
)
REMOTE = NetworkSettings(name="external", rpc_url="http://127.0.0.1:1", chain_id=None, poa=True)


def test_anvil_starts_answers_and_stops(chain_config: ProjectConfig) -> None:
    anvil = Anvil.from_config(chain_config, port=free_port())
    assert anvil.hardfork == chain_config.compiler.evm_version
    with anvil:
        assert anvil.running and rpc_answers(anvil.rpc_url)
    assert not anvil.running
    assert not rpc_answers(anvil.rpc_url)


def test_anvil_refuses_a_port_another_chain_answers_on(
    chain_config: ProjectConfig, chain_anvil: Anvil
) -> None:
    with pytest.raises(AnvilError, match="already answers"):
        Anvil.from_config(chain_config, port=chain_anvil.port).start()


def test_only_embedded_networks_get_an_anvil(chain_config: ProjectConfig) -> None:
    with pytest.raises(AnvilError, match="not an embedded chain"):
        Anvil.from_config(chain_config, "external")


def test_the_chain_runs_the_compilers_hardfork(
    chain_client: ChainClient, chain_config: ProjectConfig
) -> None:
    # TLOAD (cancun) must not exist on a shanghai chain: initcode PUSH1 0, TLOAD, STOP.
    assert chain_config.compiler.evm_version == "shanghai"
    with pytest.raises(RpcError, match="NotActivated"):
        chain_client.rpc("eth_call", [{"data": "0x60005c00"}, "latest"])


def test_dev_controls_move_the_clock_and_revert(chain_client: ChainClient) -> None:
    dev = DevControls(chain_client.rpc)
    snapshot = dev.snapshot()
    start, height = dev.timestamp(), chain_client.block_number()
    dev.increase_time(1_000)
    assert dev.timestamp() >= start + 1_000
    dev.mine(3)
    assert chain_client.block_number() == height + 4
    dev.revert(snapshot)
    assert chain_client.block_number() == height
    assert dev.timestamp() == start
    with pytest.raises(AnvilError):
        dev.revert(snapshot)  # a snapshot is used up by reverting to it


def test_embedded_chain_up_status_down(tmp_path: Path, chain_config: ProjectConfig) -> None:
    config = write_project(tmp_path, chain_config, anvil={"port": free_port()})
    embedded = EmbeddedChain(config)
    assert embedded.status() is None
    info = embedded.up()
    try:
        assert rpc_answers(info.rpc_url)
        assert embedded.status() == info
        assert embedded.up() == info  # idempotent: the running chain is reported
        assert embedded.state_file.is_file() and Path(info.log_path).is_file()
    finally:
        assert embedded.down()
    assert not rpc_answers(info.rpc_url)
    assert embedded.status() is None and not embedded.state_file.exists()
    assert not embedded.down()


def test_a_stale_state_file_is_ignored(tmp_path: Path, chain_config: ProjectConfig) -> None:
    config = write_project(tmp_path, chain_config, anvil={"port": free_port()})
    embedded = EmbeddedChain(config)
    embedded.state_file.parent.mkdir(parents=True)
    embedded.state_file.write_text(
        '{"network": "anvil", "pid": 1, "rpc_url": "http://127.0.0.1:1", "chain_id": 1, '
        '"log_path": "x", "started_at": 0}'
    )
    assert embedded.status() is None  # pid 1 is not anvil
    assert not embedded.state_file.exists()


# ---- keys ---------------------------------------------------------------------------


def test_dev_accounts_are_anvils_accounts(chain_client: ChainClient, chain_anvil: Anvil) -> None:
    expected = chain_client.rpc("eth_accounts")
    derived = [account.address.lower() for account in dev_accounts(chain_anvil.accounts)]
    assert derived == [address.lower() for address in expected]


def test_the_embedded_chain_falls_back_to_dev_accounts() -> None:
    assert resolve_account(EMBEDDED, environ={}).address == dev_accounts(1)[0].address
    assert resolve_account(EMBEDDED, dev_index=4, environ={}).address == dev_accounts(5)[4].address
    with pytest.raises(AccountError, match="has 5 accounts"):
        resolve_account(EMBEDDED, dev_index=5, environ={})


def test_other_networks_never_get_dev_accounts() -> None:
    with pytest.raises(AccountError, match="needs a signing key"):
        resolve_account(REMOTE, environ={})


def test_a_private_key_from_the_environment() -> None:
    account = Account.create()
    chosen = resolve_account(REMOTE, environ={PRIVATE_KEY_ENV: account.key.hex()})
    assert chosen.address == account.address
    with pytest.raises(AccountError, match="not a valid private key"):
        resolve_account(REMOTE, environ={PRIVATE_KEY_ENV: "0x1234"})


def test_an_encrypted_keystore_wins_over_everything(tmp_path: Path) -> None:
    account, other = Account.create(), Account.create()
    path = write_keystore(account, tmp_path / "key.json", "s3cret")
    assert path.stat().st_mode & 0o777 == 0o600
    env = {
        KEYSTORE_ENV: str(path),
        KEYSTORE_PASSWORD_ENV: "s3cret",
        PRIVATE_KEY_ENV: other.key.hex(),
    }
    assert resolve_account(REMOTE, environ=env).address == account.address
    prompted = resolve_account(REMOTE, keystore=path, password_prompt=lambda: "s3cret", environ={})
    assert prompted.address == account.address
    with pytest.raises(AccountError, match="needs a password"):
        resolve_account(REMOTE, keystore=path, environ={})
    with pytest.raises(AccountError, match="wrong password"):
        load_keystore(path, "nope")

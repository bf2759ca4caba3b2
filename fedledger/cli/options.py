"""Options and error handling shared by every ``fedledger`` subcommand.

One definition per option, so that ``--network``, ``--key``, ``--store`` and ``--json`` mean
the same thing in every command, and one place that turns the library's exceptions into
a single line for the user.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fedledger.config import ConfigError, NetworkSettings, ProjectConfig, load_config

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

F = TypeVar("F", bound=Callable[..., Any])

DEV_KEY_PREFIX = "dev:"

#: The library's exception families a user can act on (module, class).
_ERROR_FAMILIES = (
    ("fedledger.chain.errors", "ChainError"),
    ("fedledger.storage.errors", "StorageError"),
    ("fedledger.ml.errors", "InvalidWeights"),
    ("fedledger.ml.datasets", "DatasetError"),
    ("fedledger.participant.client", "ParticipantError"),
    ("fedledger.queries.errors", "QueryError"),
    ("fedledger.demo.errors", "DemoError"),
)


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConfigError]
    for module_name, attribute in _ERROR_FAMILIES:
        # Only a family whose module was imported can have been raised; importing the
        # others (web3 behind fedledger.chain) just to catch nothing would cost seconds.
        error_type = getattr(sys.modules.get(module_name), attribute, None)
        if isinstance(error_type, type) and issubclass(error_type, BaseException):
            types.append(error_type)
    return tuple(types)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show configuration, chain, storage and model failures as one line that says what to
    do, not as a traceback."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, _user_error_types()):
            raise click.ClickException(str(exc)) from exc
        raise


def project_config() -> ProjectConfig:
    with user_errors():
        return load_config()


network_option = click.option(
    "--network",
    default=None,
    metavar="NAME",
    help="Network from brownie-config.yaml [default: networks.default or FEDLEDGER_NETWORK].",
)


def key_option(command: F) -> F:
    """``--key``: who signs. A keystore path, or ``dev:N`` on the embedded chain."""
    return click.option(
        "--key",
        "key",
        default=None,
        metavar="PATH|dev:N",
        help="Signing key: an encrypted keystore file (password from "
        "FEDLEDGER_KEYSTORE_PASSWORD or a prompt), or dev:N for dev account N of the "
        "embedded chain [default: FEDLEDGER_KEYSTORE, else FEDLEDGER_PRIVATE_KEY, else dev:0 "
        "on the embedded chain].",
    )(command)


def resolve_key(network: NetworkSettings, key: str | None) -> LocalAccount:
    """The account a ``--key`` value names (see :func:`key_option`)."""
    from fedledger.chain.errors import AccountError
    from fedledger.chain.keys import resolve_account

    with user_errors():
        if key is not None and key.startswith(DEV_KEY_PREFIX):
            index_text = key.removeprefix(DEV_KEY_PREFIX)
            if not index_text.isdigit():
                raise AccountError(f"--key {key!r}: expected dev:N with N a dev account number")
            if not network.embedded:
                raise AccountError(
                    f"--key {key}: dev accounts exist only on the embedded chain, not on "
                    f"{network.name!r}; pass a keystore file or set FEDLEDGER_PRIVATE_KEY"
                )
            return resolve_account(network, dev_index=int(index_text), environ={})
        keystore = Path(key) if key is not None else None
        if keystore is not None and not keystore.is_file():
            raise AccountError(f"--key {key}: no such keystore file")
        return resolve_account(
            network,
            keystore=keystore,
            password_prompt=lambda: click.prompt("Keystore password", hide_input=True),
        )


def store_options(command: F) -> F:
    """``--store`` and ``--ipfs-api``: which blob store a command talks to."""
    from fedledger.storage.factory import STORE_KINDS

    command = click.option(
        "--ipfs-api",
        metavar="URL",
        default=None,
        help="Kubo RPC API of the IPFS node [default: storage.ipfs_api or FEDLEDGER_IPFS_API].",
    )(command)
    return click.option(
        "--store",
        "store_kind",
        type=click.Choice(STORE_KINDS),
        default=None,
        help="Which blob store to use [default: storage.default or FEDLEDGER_STORE].",
    )(command)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables."
)

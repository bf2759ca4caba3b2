"""Options and error handling shared by every ``fedledger`` subcommand.

One definition per option, so that ``--network``, ``--key``, ``--store`` and ``--json`` mean
the same thing in every command, and one place that turns the library's exceptions into
a single line for the user.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
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
    ("fedledger.crypto.errors", "EnvelopeError"),
    ("fedledger.crypto.keys", "KeyFileError"),
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
            if not network.has_dev_accounts:
                raise AccountError(
                    f"--key {key}: dev accounts exist only on the embedded chain and the "
                    f"local consortium, not on {network.name!r}; pass a keystore file or set "
                    "FEDLEDGER_PRIVATE_KEY"
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


# ---- round and reward rules (deploy, admin, demo) -----------------------------------------


def encryption_key_file_option(whose: str, default: str) -> Callable[[F], F]:
    """``--key-file``: ``whose`` X25519 key file (an oracle's or a gateway's), ``default``
    naming where it is looked for without the option."""
    return click.option(
        "--key-file",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"{whose} encryption key file [default: {default} in the project].",
    )


def serve_options(default_port: int, exposure: str) -> Callable[[F], F]:
    """``--port`` and ``--host`` of a command that serves HTTP (dashboard, gateway);
    ``exposure`` says what listening on all addresses means for it."""

    def decorate(command: F) -> F:
        command = click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            help=f"Address to listen on (0.0.0.0 {exposure}).",
        )(command)
        return click.option(  # type: ignore[no-any-return]
            "--port",
            type=click.IntRange(0, 65535),
            default=default_port,
            show_default=True,
            help="Port to serve on (0: any free port; the URL is printed).",
        )(command)

    return decorate


def _with_default(default: object | None) -> dict[str, Any]:
    """A default shown in --help, or none (the command then keeps the current value)."""
    return {"default": default, "show_default": default is not None}


def round_duration_option(
    default: int | None, help: str = "Seconds a round takes submissions."
) -> Callable[[F], F]:
    """``--round-duration``: seconds a round takes submissions (``default`` None: the
    command picks one and its ``help`` says which)."""
    return click.option(
        "--round-duration",
        type=click.IntRange(min=1),
        metavar="SECONDS",
        help=help,
        **_with_default(default),
    )


def contribution_target_option(
    default: int | None,
    help: str = "Updates in play (submitted and not rejected) that allow closing a round "
    "early (0: only the deadline).",
) -> Callable[[F], F]:
    """``--contribution-target``: updates in play (accepted or pending) that let a round
    close before its deadline; ``default`` None means "keep the current rule" (admin), or
    that the command picks one and its ``help`` says which (demo)."""
    return click.option(
        "--contribution-target",
        type=click.IntRange(min=0),
        metavar="N",
        help=help,
        **_with_default(default),
    )


def rejection_limit_option(default: int | None) -> Callable[[F], F]:
    """``--rejection-limit``: rejected updates after which a participant is banned."""
    return click.option(
        "--rejection-limit",
        type=click.IntRange(min=0),
        metavar="N",
        help="Rejected updates after which a participant is banned (0: never).",
        **_with_default(default),
    )


def whole_tokens(amount: int) -> str:
    """Token base units as the whole tokens a user types (``10``, ``0.5``)."""
    from fedledger.units import TOKEN_UNIT

    return f"{(Decimal(amount) / TOKEN_UNIT).normalize():f}"


def reward_base_option(default: int | None) -> Callable[[F], F]:
    """``--reward-base``: whole tokens (decimals allowed) per accepted update, given to the
    command in base units; ``default`` is in base units too."""
    from fedledger.cli.params import TokenAmount

    return click.option(
        "--reward-base",
        type=TokenAmount(),
        help="Tokens per accepted update.",
        **_with_default(None if default is None else whole_tokens(default)),
    )


_PER_SCORE_DEPRECATED = (
    "warning: --reward-per-score is deprecated and will be removed; use --reward-per-logit "
    "(tokens per logit of score: --reward-per-score X is --reward-per-logit X*2^24)"
)


def _deprecated_reward_per_score(
    ctx: click.Context, param: click.Parameter, value: int | None
) -> int | None:
    if value is not None:
        click.echo(_PER_SCORE_DEPRECATED, err=True)
    return value


def reward_per_logit_option(
    default: int | None, *, deprecated_per_score: bool = False
) -> Callable[[F], F]:
    """``--reward-per-logit``: whole tokens per logit of the update's score (the oracles'
    mean validation-margin gain), in base units; turn it into the contract's reward per
    score point with :func:`reward_per_score_point`.

    With ``deprecated_per_score`` (deploy, where it was the name) also declares the old
    spelling ``--reward-per-score`` (tokens per score point, hidden from --help), which
    still works with a deprecation note on stderr; it reaches the command as
    ``reward_per_score``.
    """
    from fedledger.cli.params import TokenAmount

    def decorate(command: F) -> F:
        if deprecated_per_score:
            command = _reward_per_score_option(command)
        return click.option(
            "--reward-per-logit",
            type=TokenAmount(),
            help="Extra tokens per logit of the update's score (its mean validation-margin gain).",
            **_with_default(None if default is None else whole_tokens(default)),
        )(command)

    return decorate


def _reward_per_score_option(command: F) -> F:
    """The old spelling of ``--reward-per-logit`` in deploy, in tokens per score point."""
    from fedledger.cli.params import TokenAmount

    return click.option(
        "--reward-per-score",
        "reward_per_score",
        type=TokenAmount(),
        default=None,
        hidden=True,
        callback=_deprecated_reward_per_score,
    )(command)


def reward_per_score_point(per_logit: int, per_score: int | None = None) -> int:
    """The contract's reward per score point (base units) from ``--reward-per-logit``, or
    from the deprecated ``--reward-per-score`` when that was given instead."""
    if per_score is not None:
        source = click.get_current_context().get_parameter_source("reward_per_logit")
        if source not in (None, click.core.ParameterSource.DEFAULT):
            raise click.UsageError(
                "give --reward-per-logit or the deprecated --reward-per-score, not both"
            )
        return per_score
    import oracle

    return oracle.reward_per_score_point(per_logit)

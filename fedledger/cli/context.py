"""What a command acts on: the deployment on a network, as the ``--key`` account or
read-only, and the blob store. Every failure comes out as one line (``user_errors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedledger.cli.options import project_config, resolve_key, user_errors

if TYPE_CHECKING:
    from fedledger.chain import FedLedger
    from fedledger.config import ProjectConfig
    from fedledger.participant import ParticipantClient


def open_ledger(
    network: str | None, key: str | None = None, *, sign: bool = True
) -> tuple[ProjectConfig, FedLedger]:
    """The project configuration and the deployment on ``network``; acting as the
    ``--key`` account when ``sign``, read-only otherwise."""
    from fedledger.chain import FedLedger

    config = project_config()
    with user_errors():
        settings = config.network(network)
        account = resolve_key(settings, key) if sign else None
        return config, FedLedger.connect(config, settings.name, account=account)


def open_participant(
    network: str | None,
    key: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    *,
    sign: bool = True,
    poll_interval: float = 0.5,
) -> ParticipantClient:
    """A participant client for the ``--key`` account (read-only unless ``sign``) and
    the chosen store."""
    from fedledger.participant import ParticipantClient
    from fedledger.storage import open_store

    config, ledger = open_ledger(network, key, sign=sign)
    with user_errors():
        store = open_store(config, kind=store_kind, ipfs_api=ipfs_api)
    return ParticipantClient(
        ledger,
        store,
        max_blob_bytes=config.storage.max_blob_bytes,
        poll_interval=poll_interval,
    )

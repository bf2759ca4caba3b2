"""Checking a signed download request against the chain, and serving the bytes."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedledger import units
from fedledger.chain import FedLedger
from fedledger.chain.access import (
    MAX_REQUEST_LIFETIME,
    GatewayDomain,
    MalformedRequest,
    SignedDownload,
    recover_requester,
)
from fedledger.chain.exceptions import ChainError
from fedledger.config import ProjectConfig
from fedledger.crypto import (
    EnvelopeError,
    GlobalModelBinding,
    NotARecipient,
    OracleKeyFile,
    ResourceBinding,
    is_envelope,
    open_envelope,
    seal,
)
from fedledger.storage import (
    BlobStore,
    StorageError,
    cid_from_content_hash,
    content_hash_of_blob,
)


def default_gateway_key_file(config: ProjectConfig) -> Path:
    """Where ``fedledger gateway key create`` writes the gateway's X25519 key by default."""
    return config.state_dir / "gateway-keys" / "gateway.json"


def seal_resource(
    ledger: FedLedger, resource: bytes, data: bytes, gateway_keys: Sequence[bytes]
) -> bytearray:
    """``data`` sealed for the gateways' keys, bound to this chain, vault and resource."""
    binding = ResourceBinding(ledger.client.chain_id, ledger.vault.address, resource)
    return seal(data, binding, gateway_keys)


class Refusal(Exception):
    """Why a request is not served: an HTTP status and one line for the requester."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Served:
    """What a granted request gets: the resource's bytes and their content hash."""

    resource: bytes
    requester: str
    data: bytes
    content_hash: bytes


class NonceBook:
    """The nonces seen, per requester, until their request expires (thread-safe).

    With a ``path`` the book is a SQLite file, so a restarted gateway still refuses the
    requests it served before (``fedledger gateway`` keeps one per deployment); without,
    it lives in memory for as long as the object. Requests live at most
    MAX_REQUEST_LIFETIME seconds, so entries past their expiry are dropped.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._claims = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(path) if path is not None else ":memory:", check_same_thread=False
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS nonces (requester TEXT NOT NULL, nonce TEXT NOT NULL,"
                " expiry INTEGER NOT NULL, PRIMARY KEY (requester, nonce))"
            )
            self._db.commit()
        except sqlite3.Error as error:
            raise NonceBookError(
                f"cannot open the gateway's nonce book {path}: {error} (give it a writable "
                "file, or move the broken one away)"
            ) from error

    def claim(self, requester: str, nonce: int, expiry: int, now: int) -> bool:
        """Record ``nonce``; False if it was seen already (a replay)."""
        with self._lock:
            self._claims += 1
            if self._claims % 1024 == 0:
                self._db.execute("DELETE FROM nonces WHERE expiry < ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO nonces (requester, nonce, expiry) VALUES (?, ?, ?)",
                (requester.lower(), str(nonce), expiry),
            )
            self._db.commit()
            return cursor.rowcount == 1

    def close(self) -> None:
        """Close the file (the claims made are kept in it)."""
        with self._lock:
            self._db.close()


class NonceBookError(Exception):
    """The nonce book's file cannot be opened or written."""


def default_nonce_book(config: ProjectConfig, chain_id: int, registry: str) -> Path:
    """Where ``fedledger gateway`` keeps the nonces of one deployment's requests."""
    return config.state_dir / "gateway-nonces" / f"{chain_id}-{registry.lower()}.sqlite"


class ResourceGate:
    """Serves the vault's resources to requesters who hold access, as the chain says now."""

    def __init__(
        self,
        ledger: FedLedger,
        store: BlobStore,
        keys: OracleKeyFile,
        *,
        max_bytes: int,
        cache_entries: int = 8,
        nonce_book: Path | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.keys = keys
        self.max_bytes = max_bytes
        self.domain = GatewayDomain(ledger.client.chain_id, ledger.gateways.address)
        self.nonces = NonceBook(nonce_book)
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_entries = cache_entries
        self._cache_lock = threading.Lock()
        self._global_models: set[bytes] = set()
        self._rounds_scanned = 0

    def serve(self, resource: bytes, body: Any) -> Served:
        """Check the request in ``body`` for ``resource`` (the URL's); Refusal if denied."""
        signed = self._parse(body)
        request = signed.request
        self._check_domain(signed.domain)
        if request.resource != resource:
            raise Refusal(
                401,
                f"the signed request names resource 0x{request.resource.hex()}, not the "
                f"requested 0x{resource.hex()}",
            )
        if recover_requester(self.domain, request, signed.signature) != request.requester:
            raise Refusal(
                401,
                f"the signature is not {request.requester}'s over this request (altered, or "
                "signed with another key)",
            )
        try:
            now = self.ledger.client.chain_time()
            self._check_expiry(request.expiry, now)
            if not self.nonces.claim(request.requester, request.nonce, request.expiry, now):
                raise Refusal(401, f"nonce {request.nonce} was used already: sign a new request")
            info = self.ledger.vault.resource_of(resource)
            if info.servable:
                self._check_access(resource, request.requester, now)
            elif self._is_global_model(resource):
                self._check_global_model_reader(request.requester)
            else:
                raise Refusal(404, f"0x{resource.hex()} is not a resource the gateways serve")
        except ChainError as error:
            raise Refusal(503, f"the gateway cannot read the chain: {error}") from error
        if not info.servable:
            # The chain names the stored (sealed) blob; the requester checks the bytes
            # against it by sealing them again (fedledger.crypto.matches_convergent).
            return Served(resource, request.requester, self._global_model(resource), resource)
        data = self._plaintext(resource, info.sealed_blob, info.content_hash)
        return Served(resource, request.requester, data, info.content_hash)

    # ---- the checks, in order ---------------------------------------------------------

    @staticmethod
    def _parse(body: Any) -> SignedDownload:
        try:
            return SignedDownload.from_json(body)
        except MalformedRequest as error:
            raise Refusal(401, str(error)) from error

    def _check_domain(self, domain: GatewayDomain) -> None:
        if domain.chain_id != self.domain.chain_id:
            raise Refusal(
                401,
                f"signed for chain {domain.chain_id}; this gateway serves chain "
                f"{self.domain.chain_id}",
            )
        if domain.registry != self.domain.registry:
            raise Refusal(
                401,
                f"signed for the deployment whose registry is {domain.registry}; this gateway "
                f"serves {self.domain.registry}",
            )

    @staticmethod
    def _check_expiry(expiry: int, now: int) -> None:
        if expiry < now:
            raise Refusal(
                401,
                f"the request expired at {expiry} ({now - expiry} s ago on the chain's clock): "
                "sign a new one",
            )
        if expiry > now + MAX_REQUEST_LIFETIME:
            raise Refusal(
                401,
                f"the request is valid until {expiry}, more than {MAX_REQUEST_LIFETIME} s "
                "ahead of the chain's clock: sign one that expires sooner",
            )

    def _check_access(self, resource: bytes, requester: str, now: int) -> None:
        vault = self.ledger.vault
        if vault.has_access(resource, requester, block="pending"):
            return
        resource_hex = "0x" + resource.hex()
        expiry = vault.access_expiry(resource, requester)
        if expiry:
            raise Refusal(
                403,
                f"{requester}'s access to {resource_hex} expired "
                f"{units.format_duration(max(now - expiry, 0))} ago: buy it again with "
                f"`fedledger rewards access {resource_hex}`",
            )
        raise Refusal(
            403,
            f"{requester} holds no access to {resource_hex}: buy it with "
            f"`fedledger rewards access {resource_hex}`",
        )

    def _is_global_model(self, content_hash: bytes) -> bool:
        """Whether ``content_hash`` is the global model of some round (they never change:
        the rounds seen are remembered)."""
        if content_hash in self._global_models:
            return True
        coordinator = self.ledger.coordinator
        current = coordinator.current_round()
        for round_ in range(self._rounds_scanned + 1, current + 1):
            self._global_models.add(coordinator.get_round(round_).global_model)
        self._rounds_scanned = max(self._rounds_scanned, current)  # a round's model is fixed
        return content_hash in self._global_models

    def _check_global_model_reader(self, requester: str) -> None:
        gateways = self.ledger.gateways
        if gateways.may_read_global_model(requester, block="pending"):
            return
        policy = gateways.global_model_policy().name.lower()
        who = "registered participants, oracles and the admin"
        if policy == "holders":
            resource = "0x" + gateways.global_model_resource().hex()
            who += f", and holders of access to {resource} (`fedledger rewards access {resource}`)"
        raise Refusal(
            403, f"under the {policy} policy only {who} read the global models; {requester} is none"
        )

    # ---- the bytes ----------------------------------------------------------------------

    def _global_model(self, content_hash: bytes) -> bytes:
        key = b"global-model" + content_hash
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        cid = cid_from_content_hash(content_hash)
        try:
            blob = self.store.get(cid, max_bytes=self.max_bytes)
        except StorageError as error:
            raise Refusal(
                503, f"the gateway cannot fetch the global model {cid}: {error}"
            ) from error
        if is_envelope(blob):
            binding = GlobalModelBinding(
                self.ledger.client.chain_id, self.ledger.coordinator.address
            )
            try:
                blob = open_envelope(blob, binding, [pair.private_key for pair in self.keys.keys])
            except NotARecipient as error:
                raise Refusal(
                    503, f"the global model {cid} is not sealed for this gateway's key"
                ) from error
            except EnvelopeError as error:
                raise Refusal(503, f"the global model {cid} does not open: {error}") from error
        with self._cache_lock:
            self._cache[key] = blob
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return blob

    def _plaintext(self, resource: bytes, sealed_blob: bytes, content_hash: bytes) -> bytes:
        key = resource + sealed_blob + content_hash
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        data = self._open(resource, sealed_blob, content_hash)
        with self._cache_lock:
            self._cache[key] = data
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return data

    def _open(self, resource: bytes, sealed_blob: bytes, content_hash: bytes) -> bytes:
        cid = cid_from_content_hash(sealed_blob)
        try:
            sealed = self.store.get(cid, max_bytes=self.max_bytes)
        except StorageError as error:
            raise Refusal(
                503, f"the gateway cannot fetch the sealed blob {cid}: {error}"
            ) from error
        binding = ResourceBinding(self.ledger.client.chain_id, self.ledger.vault.address, resource)
        try:
            data = open_envelope(sealed, binding, [pair.private_key for pair in self.keys.keys])
        except NotARecipient as error:
            raise Refusal(
                503,
                "the resource is not sealed for this gateway's key: the admin registers it "
                "again (`fedledger admin add-resource`) once the gateway is registered",
            ) from error
        except EnvelopeError as error:
            raise Refusal(503, f"the sealed blob {cid} does not open: {error}") from error
        if content_hash_of_blob(data) != content_hash:
            raise Refusal(
                503, f"the sealed blob {cid} holds bytes other than the resource's content hash"
            )
        return data

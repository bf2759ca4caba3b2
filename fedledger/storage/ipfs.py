"""The IPFS backend: any node that speaks the Kubo RPC HTTP API (tested against Kubo 0.43).

We talk to ``/api/v0`` with httpx instead of ``ipfshttpclient``: its last release
(0.7.0, 2021) refuses every current daemon in ``connect()`` (``VersionMismatch``) and is
unmaintained. What this module relies on (docs/storage.md has the details):

- every call is a POST; upload parts carry a Content-Type;
- ``add`` is told the profile explicitly (chunker, CID version, raw leaves, base32 for
  CIDv1), and the CID it answers must equal the one computed locally, so that what the
  chain records is what any node serves;
- a daemon waits forever for a block nobody has, so every call that may need one passes
  the daemon's own ``timeout=`` and is also bounded on our side;
- ``get`` asks ``files/stat`` for the size first (a hostile CID announcing 10 GB is
  refused before any byte moves), streams ``cat`` with a byte cap, and verifies the
  bytes against the CID.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any, Self

import httpx

from fedledger.storage.base import check_put_size, too_large, verify
from fedledger.storage.cid import CHUNK_SIZE, Cid, CidProfile, compute_cid
from fedledger.storage.errors import (
    BlobCorrupted,
    BlobNotFound,
    InvalidCid,
    StorageError,
    StoreUnavailable,
)

#: How much longer than the daemon's own timeout the client waits, so that the daemon's
#: clear "timed out" answer normally arrives before our connection gives up.
CLIENT_GRACE_SECONDS = 2.0
# Substrings of daemon error messages that mean "this block is not to be had" (Kubo says
# "context deadline exceeded" when its own timeout= passes while it looks for a block).
_MISSING_MARKERS = ("timed out", "not found", "could not find", "context deadline exceeded")


class IpfsStore:
    """A :class:`~fedledger.storage.base.BlobStore` on an IPFS node's RPC API."""

    def __init__(
        self,
        api_url: str,
        *,
        max_blob_bytes: int,
        timeout_seconds: float,
        profile: CidProfile = CidProfile.V0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.max_blob_bytes = max_blob_bytes
        self.timeout_seconds = timeout_seconds
        self.profile = profile
        self._client = httpx.Client(
            base_url=f"{self.api_url}/api/v0",
            timeout=timeout_seconds + CLIENT_GRACE_SECONDS,
        )

    def __repr__(self) -> str:
        return f"IpfsStore({self.api_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def version(self) -> str:
        """The daemon's version string; raises StoreUnavailable if none answers."""
        answer = self._call("version", {})
        return str(answer.get("Version", "unknown"))

    def put(self, data: bytes) -> str:
        check_put_size(len(data), self.max_blob_bytes)
        expected = compute_cid(data, self.profile)
        v1 = self.profile is CidProfile.V1_RAW_LEAVES
        params = {
            "chunker": f"size-{CHUNK_SIZE}",
            "cid-version": "1" if v1 else "0",
            "raw-leaves": "true" if v1 else "false",
            "pin": "true",
        }
        if v1:
            params["cid-base"] = "base32"  # else CIDv1 comes back in base58 (z...)
        answer = self._call(
            "add", params, files={"file": ("blob", data, "application/octet-stream")}
        )
        try:
            returned = Cid.parse(str(answer.get("Hash", "")))
        except InvalidCid:
            raise StorageError(
                f"the IPFS daemon at {self.api_url} answered add with {answer!r}, not a CID"
            ) from None
        if not returned.same_dag(expected):
            raise StorageError(
                f"the IPFS daemon at {self.api_url} named the blob {returned}, but ipfs add "
                f"with Kubo's defaults gives {expected}; its import settings (chunker, "
                "layout, links per node) differ, so other nodes could not verify the blob"
            )
        return str(expected)

    def get(self, cid: str, *, max_bytes: int | None = None, timeout: float | None = None) -> bytes:
        parsed = Cid.parse(cid)
        limit = self.max_blob_bytes if max_bytes is None else max_bytes
        budget = self.timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + budget

        stat = self._call("files/stat", {"arg": f"/ipfs/{parsed}"}, cid=parsed, deadline=deadline)
        if stat.get("Type") != "file":
            raise BlobCorrupted(
                f"{cid} names a UnixFS {stat.get('Type')}, not a file blob", cid=cid
            )
        size = stat.get("Size")
        if not isinstance(size, int):
            raise StorageError(
                f"the IPFS daemon at {self.api_url} answered files/stat with {stat!r}"
            )
        if size > limit:
            raise too_large(parsed, limit, size)

        data = self._cat(parsed, limit, deadline)
        if len(data) < size:
            raise BlobNotFound(
                f"only {len(data):,} of the {size:,} bytes of {cid} arrived within "
                f"{budget:g} s: some of its blocks are not available to {self.api_url}",
                cid=cid,
            )
        return verify(parsed, data, source=f"the IPFS daemon at {self.api_url}")

    def has(self, cid: str) -> bool:
        """True if the node holds the blob's root block. Kubo answers from its own
        blockstore at once (``offline=true``); js-ipfs ignores that flag and looks for
        a missing block until ``storage.timeout_seconds`` have passed."""
        parsed = Cid.parse(cid)
        try:
            self._call(
                "block/stat",
                {"arg": str(parsed), "offline": "true"},
                cid=parsed,
                deadline=time.monotonic() + self.timeout_seconds,
            )
        except BlobNotFound:
            return False
        return True

    def pin(self, cid: str) -> None:
        parsed = Cid.parse(cid)
        self._call(
            "pin/add",
            {"arg": str(parsed)},
            cid=parsed,
            deadline=time.monotonic() + self.timeout_seconds,
        )

    # -- RPC plumbing ------------------------------------------------------------------

    def _call(
        self,
        command: str,
        params: dict[str, str],
        *,
        files: dict[str, Any] | None = None,
        cid: Cid | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """POST one command and return its (last) JSON object."""
        timeout = None
        if deadline is not None:
            remaining = self._remaining(deadline, command, cid)
            params = {**params, "timeout": _duration(remaining)}
            timeout = remaining + CLIENT_GRACE_SECONDS
        with self._errors(command, cid):
            response = self._client.post(
                f"/{command}",
                params=params,
                files=files,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        self._check(response, command, cid)
        # add may stream several JSON objects, one a line; the last describes the result.
        lines = [line for line in response.text.splitlines() if line.strip()]
        try:
            answer = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise StoreUnavailable(
                f"{self.api_url} answered {command} with something that is not JSON; "
                "is it a Kubo RPC API endpoint?"
            ) from None
        return answer if isinstance(answer, dict) else {}

    def _cat(self, cid: Cid, limit: int, deadline: float) -> bytes:
        remaining = self._remaining(deadline, "cat", cid)
        params = {"arg": str(cid), "length": str(limit + 1), "timeout": _duration(remaining)}
        chunks: list[bytes] = []
        received = 0
        with (
            self._errors("cat", cid),
            self._client.stream(
                "POST", "/cat", params=params, timeout=remaining + CLIENT_GRACE_SECONDS
            ) as response,
        ):
            if response.status_code != httpx.codes.OK:
                response.read()
                self._check(response, "cat", cid)
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > limit:
                    raise too_large(cid, limit)
                chunks.append(chunk)
                if time.monotonic() > deadline + CLIENT_GRACE_SECONDS:
                    raise self._timed_out("cat", cid)
        return b"".join(chunks)

    def _remaining(self, deadline: float, command: str, cid: Cid | None) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(command, cid)
        return remaining

    def _timed_out(self, command: str, cid: Cid | None) -> StorageError:
        if cid is None:
            return StoreUnavailable(
                f"the IPFS daemon at {self.api_url} did not answer {command} within "
                f"{self.timeout_seconds:g} s; is it overloaded? (storage.timeout_seconds)"
            )
        return BlobNotFound(
            f"{cid} could not be fetched from {self.api_url} in time: no node it reaches "
            "has the blob (or the timeout is too short: storage.timeout_seconds)",
            cid=str(cid),
        )

    @contextlib.contextmanager
    def _errors(self, command: str, cid: Cid | None) -> Iterator[None]:
        """Turn transport failures into StorageErrors that say what to do."""
        try:
            yield
        except httpx.ConnectError as exc:
            raise StoreUnavailable(
                f"no IPFS daemon answers at {self.api_url} ({exc}); start one (`ipfs daemon`), "
                "point --ipfs-api or FEDLEDGER_IPFS_API at a running one, or use the "
                "embedded store (--store local)"
            ) from exc
        except httpx.TimeoutException as exc:
            raise self._timed_out(command, cid) from exc
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"the connection to the IPFS daemon at {self.api_url} failed during "
                f"{command}: {exc}"
            ) from exc

    def _check(self, response: httpx.Response, command: str, cid: Cid | None) -> None:
        if response.status_code == httpx.codes.OK:
            return
        if response.status_code in (httpx.codes.NOT_FOUND, httpx.codes.METHOD_NOT_ALLOWED):
            raise StoreUnavailable(
                f"{self.api_url} answered HTTP {response.status_code} to /api/v0/{command}: "
                "it is not a Kubo RPC API endpoint (check --ipfs-api / storage.ipfs_api; "
                "the gateway port will not do)"
            )
        try:
            message = str(response.json().get("Message", response.text))
        except (json.JSONDecodeError, AttributeError):
            message = response.text.strip()
        if cid is not None and any(marker in message.lower() for marker in _MISSING_MARKERS):
            raise BlobNotFound(
                f"{cid} is not available from {self.api_url}: {message}", cid=str(cid)
            )
        raise StorageError(
            f"the IPFS daemon at {self.api_url} refused {command} "
            f"(HTTP {response.status_code}): {message}"
        )


def _duration(seconds: float) -> str:
    """A Go-style duration, as the RPC API's ``timeout`` parameter takes it."""
    return f"{max(1, round(seconds * 1000))}ms"

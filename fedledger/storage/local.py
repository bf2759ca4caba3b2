"""The embedded store: a content-addressed directory, no daemon needed.

Blobs get exactly the CIDs ``ipfs add`` would give them (fedledger.storage.cid), so a
blob written here can later be added to any IPFS node and keeps its name.

Layout: ``<root>/<xx>/<digest>``, where ``digest`` is the hex sha2-256 digest inside a
CID and ``xx`` its first two characters. Each blob is filed under the digest of its
CIDv0 and, as a hard link to the same file, under the digest of its CIDv1 raw-leaves
CID, so that any of its CIDs finds it. Files are written to a temporary name, fsynced
and renamed into place: after a crash a blob is either whole or absent. Every read is
checked against the CID asked for, so a damaged or edited file is reported, never
returned. Nothing is ever deleted, so :meth:`LocalStore.pin` only checks presence.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from fedledger.storage.base import check_put_size, too_large, verify
from fedledger.storage.cid import Cid, CidProfile, compute_cid
from fedledger.storage.errors import BlobNotFound, StoreUnavailable


class LocalStore:
    """A :class:`~fedledger.storage.base.BlobStore` in a local directory."""

    def __init__(
        self,
        root: Path,
        *,
        max_blob_bytes: int,
        profile: CidProfile = CidProfile.V0,
    ) -> None:
        self.root = Path(root)
        self.max_blob_bytes = max_blob_bytes
        self.profile = profile

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present so that every store is used the same way."""

    def put(self, data: bytes) -> str:
        check_put_size(len(data), self.max_blob_bytes)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # The CIDs are hashed while the bytes go to disk: hashing and writing both
            # release the GIL, so with a spare core a put costs little more than the write.
            with ThreadPoolExecutor(max_workers=1) as pool:
                hashing = pool.submit(_cids_of, data)
                temporary = _write_temporary(self.root, data)
            try:
                cids = hashing.result()
                primary = self.path_for(cids[self.profile])
                _move_into_place(temporary, primary)
            except BaseException:
                _remove(temporary)
                raise
            for profile, cid in cids.items():
                if profile is not self.profile:
                    _link_atomically(primary, self.path_for(cid))
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write to the local store {self.root}: {exc.strerror or exc}; "
                "check that the directory is writable (storage.local_root)"
            ) from exc
        return str(cids[self.profile])

    def get(self, cid: str, *, max_bytes: int | None = None, timeout: float | None = None) -> bytes:
        """The verified bytes of ``cid``. ``timeout`` is accepted for the interface's sake:
        a local read does not wait on anyone."""
        parsed = Cid.parse(cid)
        limit = self.max_blob_bytes if max_bytes is None else max_bytes
        path = self.path_for(parsed)
        try:
            with path.open("rb") as blob:
                size = os.fstat(blob.fileno()).st_size
                if size > limit:
                    raise too_large(parsed, limit, size)
                data = blob.read(limit + 1)  # +1: notices a file that grew since fstat
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {cid} is not in the local store {self.root}; put it there first, "
                "or fetch it from IPFS (--store ipfs)",
                cid=cid,
            ) from None
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot read {path} from the local store: {exc.strerror or exc}"
            ) from exc
        if len(data) > limit:
            raise too_large(parsed, limit)
        return verify(parsed, data, source=f"the local store file {path}")

    def has(self, cid: str) -> bool:
        return self.path_for(Cid.parse(cid)).is_file()

    def pin(self, cid: str) -> None:
        if not self.has(cid):
            raise BlobNotFound(
                f"cannot pin {cid}: it is not in the local store {self.root}", cid=cid
            )

    def path_for(self, cid: Cid) -> Path:
        """Where the blob named by ``cid`` lives (whether or not it is there)."""
        name = cid.digest.hex()
        return self.root / name[:2] / name


def _cids_of(data: bytes) -> dict[CidProfile, Cid]:
    return {profile: compute_cid(data, profile) for profile in CidProfile}


def _write_temporary(directory: Path, data: bytes) -> Path:
    """Write ``data`` to a new hidden file in ``directory`` and fsync it."""
    handle, name = tempfile.mkstemp(dir=directory, prefix=".incoming.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def _move_into_place(temporary: Path, path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _link_atomically(target: Path, alias: Path) -> None:
    """Make ``alias`` a hard link to ``target``, replacing whatever was there."""
    alias.parent.mkdir(parents=True, exist_ok=True)
    temporary = alias.with_name(f".{alias.name}.{os.urandom(6).hex()}.link")
    os.link(target, temporary)
    try:
        os.replace(temporary, alias)
    except BaseException:
        _remove(temporary)
        raise
    _fsync_directory(alias.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

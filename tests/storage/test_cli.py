"""`fedledger store put|get|cid`: results on stdout, errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fedledger.chain.anvil import free_port
from fedledger.cli import main
from fedledger.config import ProjectConfig
from fedledger.storage import CidProfile, compute_cid
from fedledger.storage.cid import CHUNK_SIZE
from tests.fixtures.ipfs import KuboDaemon
from tests.storage.support import blob


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["store", *args])


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert message in lines[0]


@pytest.fixture
def blob_file(tmp_path: Path) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(blob(CHUNK_SIZE + 7, seed=9))
    return path


def test_cid_prints_both_cids_and_the_content_hash(project: ProjectConfig, blob_file: Path):
    data = blob_file.read_bytes()
    v0 = compute_cid(data, CidProfile.V0)
    result = run("cid", str(blob_file))
    assert result.exit_code == 0, result.output
    assert str(v0) in result.output
    assert "0x" + v0.digest.hex() in result.output
    assert str(compute_cid(data, CidProfile.V1_RAW_LEAVES)) in result.output
    assert not project.storage.local_root.exists()  # compute only


def test_put_then_get_through_the_local_store(
    project: ProjectConfig, blob_file: Path, tmp_path: Path
):
    put = run("put", "--quiet", str(blob_file))
    assert put.exit_code == 0, put.output
    cid = put.output.strip()
    assert cid == str(compute_cid(blob_file.read_bytes()))
    assert any(project.storage.local_root.rglob("*"))
    out = tmp_path / "out.bin"
    got = run("get", cid, "-o", str(out))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == blob_file.read_bytes()


def test_put_shows_cid_content_hash_and_store(project: ProjectConfig, blob_file: Path):
    result = run("put", str(blob_file))
    assert result.exit_code == 0, result.output
    cid = compute_cid(blob_file.read_bytes())
    assert str(cid) in result.output
    assert "0x" + cid.digest.hex() in result.output
    assert str(project.storage.local_root) in result.output


def test_put_then_get_through_ipfs(
    project: ProjectConfig, ipfs_daemon: KuboDaemon, blob_file: Path, tmp_path: Path
):
    api = ["--store", "ipfs", "--ipfs-api", ipfs_daemon.api_url]
    put = run("put", "-q", str(blob_file), *api)
    assert put.exit_code == 0, put.output
    out = tmp_path / "from-ipfs.bin"
    got = run("get", put.output.strip(), "-o", str(out), *api)
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == blob_file.read_bytes()
    assert not project.storage.local_root.exists()  # the local store was not touched


def test_get_to_stdout(project: ProjectConfig):
    cid = run("put", "-q", str(_write(project.root / "small", b"to stdout"))).output.strip()
    result = run("get", cid, "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes == b"to stdout"


def test_missing_blob_is_one_line(project: ProjectConfig, tmp_path: Path):
    missing = str(compute_cid(b"absent"))
    assert_one_line_error(run("get", missing, "-o", str(tmp_path / "x")), "not in the local store")
    assert not (tmp_path / "x").exists()


def test_invalid_cid_is_one_line(project: ProjectConfig, tmp_path: Path):
    assert_one_line_error(run("get", "Qm-not-a-cid", "-o", str(tmp_path / "x")), "is not a CID")


def test_daemon_down_is_one_line(project: ProjectConfig, blob_file: Path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run("put", str(blob_file), "--store", "ipfs", "--ipfs-api", url)
    assert_one_line_error(result, "no IPFS daemon answers")


def test_oversized_file_is_refused_before_reading(project: ProjectConfig, tmp_path: Path):
    sparse = tmp_path / "huge.bin"
    with sparse.open("wb") as handle:
        handle.truncate(64 << 30)  # reading 64 GiB would not end well
    assert_one_line_error(run("put", str(sparse)), "over the 16,777,216-byte cap")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

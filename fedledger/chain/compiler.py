"""Compile the Solidity sources with py-solc-x over the npm ``solc`` (solcjs).

No native solc installs offline, so py-solc-x drives ``solc.js`` next to this module, a
small Node program that answers ``--version`` and ``--standard-json`` like the native
binary (see TOOLCHAIN.md). Compilation goes through standard JSON only, with the
settings of ``brownie-config.yaml``. The result is cached in the build directory under a
key that hashes the sources, the settings and the compiler and library versions, so a
second call with unchanged inputs reads one JSON file instead of running the compiler.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from fedledger.chain.artifacts import ArtifactSet
from fedledger.chain.exceptions import CompilerError
from fedledger.config import CONFIG_FILE, CompilerSettings, ProjectConfig

SOLC_WRAPPER = Path(__file__).with_name("solc.js")

#: What the compiler writes for each contract; the AST only to read enum definitions.
_OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "userdoc", "devdoc"],
        "": ["ast"],
    }
}


def compile_contracts(
    config: ProjectConfig,
    network: str | None = None,
    *,
    extra_sources: Sequence[Path] = (),
    force: bool = False,
) -> ArtifactSet:
    """Compile every ``.sol`` file under the contracts directory (plus ``extra_sources``,
    e.g. test-only contracts) with the compiler settings of ``network`` (the default
    network's if None), or return the cached result for identical inputs."""
    sources = _read_sources(config, extra_sources)
    standard_input = _standard_input(config, sources, config.compiler_for(network))
    key = _cache_key(config, standard_input)
    cache_file = artifact_path(config, key)
    if cache_file.is_file() and not force:
        return ArtifactSet.load(cache_file)

    try:
        output = solcx.compile_standard(
            standard_input,
            base_path=str(config.root),
            solc_binary=_wrapper_executable(config),
        )
    except SolcError as exc:
        raise CompilerError(f"compilation failed:\n{exc.message or exc}") from exc
    except OSError as exc:
        raise CompilerError(f"cannot run the solc wrapper {SOLC_WRAPPER}: {exc}") from exc
    artifacts = ArtifactSet.from_compiler_output(output, key, set(sources))
    artifacts.save(cache_file)
    return artifacts


def load_artifacts(config: ProjectConfig, key: str) -> ArtifactSet | None:
    """The cached artifacts of an earlier compilation, if still in the build directory."""
    path = artifact_path(config, key)
    return ArtifactSet.load(path) if path.is_file() else None


def artifact_path(config: ProjectConfig, key: str) -> Path:
    return config.build_dir / "artifacts" / f"{key}.json"


def npm_package_version(config: ProjectConfig, package: str) -> str:
    """Version of an npm package installed in the project's node_modules."""
    manifest = config.node_modules / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError) as exc:
        raise CompilerError(
            f"npm package {package} is not installed in {config.node_modules}: run `npm ci` "
            "(or `make setup`) in the project directory"
        ) from exc


def _read_sources(config: ProjectConfig, extra: Sequence[Path]) -> dict[str, str]:
    """Source unit name (path relative to the project root) -> source text."""
    paths = sorted(config.contracts_dir.rglob("*.sol"))
    for item in extra:
        item = item if item.is_absolute() else config.root / item
        paths.extend(sorted(item.rglob("*.sol")) if item.is_dir() else [item])
    if not paths:
        raise CompilerError(f"no Solidity sources under {config.contracts_dir}")
    sources: dict[str, str] = {}
    for path in paths:
        # Unit names are paths under the project root, which is also the import base path.
        # Symlinks are kept as they are (a project may link its contracts directory in).
        absolute = Path(os.path.abspath(path))
        try:
            unit = absolute.relative_to(config.root).as_posix()
        except ValueError:
            raise CompilerError(f"{path} is outside the project directory {config.root}") from None
        sources[unit] = absolute.read_text()
    return sources


def _standard_input(
    config: ProjectConfig, sources: dict[str, str], compiler: CompilerSettings
) -> dict[str, Any]:
    installed = npm_package_version(config, "solc")
    if installed != compiler.solc_version:
        raise CompilerError(
            f"{CONFIG_FILE} asks for solc {compiler.solc_version} but node_modules has "
            f"{installed}: align package.json and the config, then run `npm ci`"
        )
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sorted(sources.items())},
        "settings": {
            "evmVersion": compiler.evm_version,
            "optimizer": {"enabled": compiler.optimizer_enabled, "runs": compiler.optimizer_runs},
            "viaIR": compiler.via_ir,
            "remappings": list(compiler.remappings),
            "outputSelection": _OUTPUT_SELECTION,
        },
    }


def _cache_key(config: ProjectConfig, standard_input: dict[str, Any]) -> str:
    """Hash of everything that determines the output. Imported library sources are covered
    by the pinned version of their npm package."""
    digest = hashlib.sha256()
    digest.update(json.dumps(standard_input, sort_keys=True).encode())
    digest.update(npm_package_version(config, "@openzeppelin/contracts").encode())
    digest.update(SOLC_WRAPPER.read_bytes())
    return digest.hexdigest()[:24]


def _wrapper_executable(config: ProjectConfig) -> Path:
    """The wrapper must be executable for py-solc-x to run it. An install that dropped the
    mode bit (some wheel tools do) gets an executable copy in the build directory."""
    if os.access(SOLC_WRAPPER, os.X_OK):
        return SOLC_WRAPPER
    copy = config.build_dir / "solc.js"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOLC_WRAPPER, copy)
    copy.chmod(copy.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return copy

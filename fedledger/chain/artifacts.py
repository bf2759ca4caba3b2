"""Compiled contracts: ABI, bytecode, NatSpec and enum definitions, as one cached set.

This module is the one place that reads compiler output or an artifact file; everything
else asks an :class:`ArtifactSet` for a contract's ABI or bytecode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedledger.chain.exceptions import CompilerError

ARTIFACT_FORMAT = 1


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract."""

    name: str
    source: str  # source unit name, relative to the project root
    abi: tuple[dict[str, Any], ...]
    bytecode: str  # creation code, 0x-prefixed hex
    deployed_bytecode: str
    userdoc: dict[str, Any] = field(default_factory=dict, compare=False)
    devdoc: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def deployable(self) -> bool:
        """False for interfaces and abstract contracts, which have no creation code."""
        return len(self.bytecode) > 2


@dataclass(frozen=True)
class ArtifactSet:
    """All contracts of one compilation, keyed by contract name.

    ``key`` is the cache key of the compilation (a hash of sources and settings), which a
    deployment records so that it can later be matched with the ABI it was made from.
    ``enums`` maps ``"Contract.Enum"`` to its member names in declaration order, so the
    Python mirrors of the contracts' enums can be checked against the source.
    """

    key: str
    contracts: Mapping[str, ContractArtifact]
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> ContractArtifact:
        try:
            return self.contracts[name]
        except KeyError:
            known = ", ".join(sorted(self.contracts))
            raise CompilerError(
                f"no compiled contract named {name!r} (compiled: {known})"
            ) from None

    def __iter__(self) -> Iterator[ContractArtifact]:
        return iter(self.contracts.values())

    def __contains__(self, name: object) -> bool:
        return name in self.contracts

    def abi(self, name: str) -> tuple[dict[str, Any], ...]:
        return self[name].abi

    @classmethod
    def from_compiler_output(
        cls, output: Mapping[str, Any], key: str, own_sources: set[str]
    ) -> ArtifactSet:
        """Keep the contracts defined in ``own_sources`` (not those of imported libraries)."""
        contracts: dict[str, ContractArtifact] = {}
        for source, units in output.get("contracts", {}).items():
            if source not in own_sources:
                continue
            for name, unit in units.items():
                if name in contracts:
                    raise CompilerError(
                        f"contract name {name} is defined in both {contracts[name].source} "
                        f"and {source}; contract names must be unique"
                    )
                evm = unit.get("evm", {})
                contracts[name] = ContractArtifact(
                    name=name,
                    source=source,
                    abi=tuple(unit.get("abi", ())),
                    bytecode="0x" + evm.get("bytecode", {}).get("object", ""),
                    deployed_bytecode="0x" + evm.get("deployedBytecode", {}).get("object", ""),
                    userdoc=unit.get("userdoc", {}),
                    devdoc=unit.get("devdoc", {}),
                )
        enums = {
            name: members
            for source, result in output.get("sources", {}).items()
            if source in own_sources
            for name, members in _enum_definitions(result.get("ast", {}))
        }
        warnings = tuple(
            message["formattedMessage"]
            for message in output.get("errors", ())
            if message.get("severity") == "warning"
        )
        return cls(key=key, contracts=contracts, enums=enums, warnings=warnings)

    def save(self, path: Path) -> None:
        """Write the set atomically (concurrent test workers may compile at the same time)."""
        payload = {
            "format": ARTIFACT_FORMAT,
            "key": self.key,
            "contracts": {
                name: {
                    "source": artifact.source,
                    "abi": list(artifact.abi),
                    "bytecode": artifact.bytecode,
                    "deployedBytecode": artifact.deployed_bytecode,
                    "userdoc": artifact.userdoc,
                    "devdoc": artifact.devdoc,
                }
                for name, artifact in self.contracts.items()
            },
            "enums": {name: list(members) for name, members in self.enums.items()},
            "warnings": list(self.warnings),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(payload, indent=1, sort_keys=True))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> ArtifactSet:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CompilerError(
                f"cannot read artifacts {path}: {exc}; delete it to recompile"
            ) from exc
        if payload.get("format") != ARTIFACT_FORMAT:
            raise CompilerError(f"{path} has an old artifact format; delete it to recompile")
        contracts = {
            name: ContractArtifact(
                name=name,
                source=entry["source"],
                abi=tuple(entry["abi"]),
                bytecode=entry["bytecode"],
                deployed_bytecode=entry["deployedBytecode"],
                userdoc=entry.get("userdoc", {}),
                devdoc=entry.get("devdoc", {}),
            )
            for name, entry in payload["contracts"].items()
        }
        enums = {name: tuple(members) for name, members in payload.get("enums", {}).items()}
        return cls(
            key=payload["key"],
            contracts=contracts,
            enums=enums,
            warnings=tuple(payload.get("warnings", ())),
        )


def _enum_definitions(node: Any, scope: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """Walk a solc AST and yield ("Contract.Enum", members) for every enum definition."""
    if isinstance(node, dict):
        kind = node.get("nodeType")
        if kind == "EnumDefinition":
            qualified = f"{scope}.{node['name']}" if scope else node["name"]
            yield qualified, tuple(member["name"] for member in node.get("members", ()))
            return
        if kind == "ContractDefinition":
            scope = node["name"]
        for value in node.values():
            yield from _enum_definitions(value, scope)
    elif isinstance(node, list):
        for item in node:
            yield from _enum_definitions(item, scope)

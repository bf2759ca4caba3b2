"""Compilation through py-solc-x over the npm solc, the artifact cache, and the checks
that keep the Python side in step with the contracts: the generated errors, events and
enums match a fresh generation from the ABI, every error has a hint, every function a
binding, every declaration NatSpec, every contract an interface and the pinned pragma."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
from packaging.version import Version
from solcx.wrapper import get_solc_version

from fedledger.chain import ArtifactSet, compile_contracts
from fedledger.chain.abi import snake_case
from fedledger.chain.codegen import render_modules, stale_modules
from fedledger.chain.codes import CONTRACT_ENUMS, RoundState
from fedledger.chain.compiler import SOLC_WRAPPER, artifact_path
from fedledger.chain.contract import ContractBinding
from fedledger.chain.coordinator import Coordinator
from fedledger.chain.error_hints import HINTS
from fedledger.chain.errors import CompilerError, ContractRevert
from fedledger.chain.events import ChainEvent
from fedledger.chain.token import RewardToken
from fedledger.chain.vault import RedemptionVault
from fedledger.config import ProjectConfig
from tests.fixtures.chain import write_project

DEPLOYED = ("FedLedgerCoordinator", "RewardToken", "RedemptionVault")
BINDINGS: dict[str, type[ContractBinding]] = {
    "FedLedgerCoordinator": Coordinator,
    "RewardToken": RewardToken,
    "RedemptionVault": RedemptionVault,
}
#: Functions inherited from OpenZeppelin (documented there with @dev, not @notice).
INHERITED = {
    "owner", "pendingOwner", "transferOwnership", "acceptOwnership", "renounceOwnership",
    "name", "symbol", "decimals", "totalSupply", "balanceOf", "allowance", "transfer",
    "approve", "transferFrom", "burn", "burnFrom",
}  # fmt: skip
EVM_CODE_SIZE_LIMIT = 24_576


def test_the_wrapper_reports_the_pinned_version(chain_config: ProjectConfig) -> None:
    assert get_solc_version(SOLC_WRAPPER) == Version(chain_config.compiler.solc_version)


def test_compiles_every_contract_without_warnings(chain_artifacts: ArtifactSet) -> None:
    for name in DEPLOYED:
        artifact = chain_artifacts[name]
        assert artifact.deployable, name
        assert (len(artifact.deployed_bytecode) - 2) // 2 < EVM_CODE_SIZE_LIMIT
    assert not chain_artifacts["OracleQuorum"].deployable  # abstract
    assert chain_artifacts.warnings == ()


def test_the_cache_returns_the_same_artifacts_for_the_same_inputs(
    chain_config: ProjectConfig, chain_artifacts: ArtifactSet
) -> None:
    path = artifact_path(chain_config, chain_artifacts.key)
    stamp = path.stat().st_mtime_ns
    again = compile_contracts(chain_config)
    assert again.key == chain_artifacts.key
    assert (
        again["FedLedgerCoordinator"].bytecode == chain_artifacts["FedLedgerCoordinator"].bytecode
    )
    assert path.stat().st_mtime_ns == stamp  # read from the cache, not rewritten


def test_the_cache_key_covers_settings_and_sources(
    tmp_path: Path, chain_config: ProjectConfig
) -> None:
    base = _project(
        tmp_path / "a",
        chain_config,
        "contract A { function f() external pure returns (uint) { return 1; } }",
    )
    first = compile_contracts(base)
    runs = dataclasses.replace(base.compiler, optimizer_runs=base.compiler.optimizer_runs + 1)
    assert compile_contracts(dataclasses.replace(base, compiler=runs)).key != first.key
    (base.contracts_dir / "A.sol").write_text(
        _source("contract A { function f() external pure returns (uint) { return 2; } }")
    )
    assert compile_contracts(base).key != first.key


def test_compile_errors_carry_the_compiler_message(
    tmp_path: Path, chain_config: ProjectConfig
) -> None:
    broken = _project(
        tmp_path, chain_config, "contract Broken { function f() external { undefinedThing(); } }"
    )
    with pytest.raises(CompilerError, match="Undeclared identifier"):
        compile_contracts(broken)


def test_a_solc_version_mismatch_is_explained(tmp_path: Path, chain_config: ProjectConfig) -> None:
    project = _project(tmp_path, chain_config, "contract A {}")
    other = dataclasses.replace(project.compiler, solc_version="0.8.1")
    with pytest.raises(CompilerError, match=r"asks for solc 0\.8\.1 but node_modules has"):
        compile_contracts(dataclasses.replace(project, compiler=other))


def test_the_generated_modules_are_what_the_generator_writes_now(
    chain_config: ProjectConfig, chain_artifacts: ArtifactSet
) -> None:
    stale = stale_modules(chain_artifacts, chain_config.root)
    assert stale == [], f"run scripts/generate_bindings.py: {stale} differ from the ABI"


def test_the_generator_follows_a_changed_abi(
    chain_config: ProjectConfig, chain_artifacts: ArtifactSet
) -> None:
    coordinator = chain_artifacts["FedLedgerCoordinator"]
    extra = {
        "type": "error",
        "name": "BrandNewError",
        "inputs": [{"name": "someRound", "type": "uint64", "internalType": "uint64"}],
    }
    changed = dataclasses.replace(coordinator, abi=(*coordinator.abi, extra))
    contracts = {**chain_artifacts.contracts, "FedLedgerCoordinator": changed}
    errors = render_modules(
        dataclasses.replace(chain_artifacts, contracts=contracts), chain_config.root
    )["errors.py"]
    assert "class BrandNewError(ContractRevert):" in errors
    assert "def some_round(self) -> int:" in errors


def test_every_abi_error_has_a_hint_and_every_hint_an_error(chain_artifacts: ArtifactSet) -> None:
    declared = {
        entry["name"]
        for artifact in chain_artifacts
        for entry in artifact.abi
        if entry["type"] == "error"
    }
    assert set(HINTS) == declared
    assert all(hint.strip() for hint in HINTS.values())


def test_a_revert_message_says_what_to_do(chain_artifacts: ArtifactSet) -> None:
    error = ContractRevert.for_error("AlreadyVoted", {"round": 1}, "vote")
    assert str(error).endswith(HINTS["AlreadyVoted"])
    assert error.round == 1


def test_every_deployed_contract_implements_its_interface(chain_artifacts: ArtifactSet) -> None:
    for name in ("FedLedgerCoordinator", "RewardToken", "RedemptionVault"):
        interface = chain_artifacts[f"I{name}"]
        assert not interface.deployable
        declared = {
            (entry["type"], entry.get("name")) for entry in interface.abi if "name" in entry
        }
        implemented = {(entry["type"], entry.get("name")) for entry in chain_artifacts[name].abi}
        assert declared <= implemented, name
        own = {key for key in implemented if key[0] == "function" and key[1] not in INHERITED}
        assert own <= declared, f"{name} has functions its interface does not declare"


def test_every_contract_pins_the_configured_compiler(chain_config: ProjectConfig) -> None:
    for source in chain_config.contracts_dir.rglob("*.sol"):
        pragmas = re.findall(r"pragma solidity ([^;]+);", source.read_text())
        assert pragmas == [chain_config.compiler.solc_version], source.name


def test_python_enums_mirror_the_contract_enums(chain_artifacts: ArtifactSet) -> None:
    for qualified, python_enum in CONTRACT_ENUMS.items():
        solidity = chain_artifacts.enums[qualified]
        python = [member.name for member in python_enum]
        assert python == [snake_case(name).upper() for name in solidity], qualified
        assert [member.value for member in python_enum] == list(range(len(solidity)))


def test_a_round_has_ended_once_finalized_or_skipped() -> None:
    assert [state for state in RoundState if state.ended] == [
        RoundState.FINALIZED,
        RoundState.SKIPPED,
    ]


def test_every_contract_error_has_a_python_exception(chain_artifacts: ArtifactSet) -> None:
    for name in DEPLOYED:
        for entry in chain_artifacts.abi(name):
            if entry["type"] == "error":
                assert entry["name"] in ContractRevert.registry, f"{name}: {entry['name']}"


def test_every_contract_event_has_a_dataclass_with_its_fields(chain_artifacts: ArtifactSet) -> None:
    base_fields = {field.name for field in dataclasses.fields(ChainEvent)}
    for name in DEPLOYED:
        for entry in chain_artifacts.abi(name):
            if entry["type"] != "event":
                continue
            event_class = ChainEvent.registry.get(entry["name"])
            assert event_class is not None, f"{name}: {entry['name']}"
            fields = [f.name for f in dataclasses.fields(event_class) if f.name not in base_fields]
            assert fields == [snake_case(item["name"]) for item in entry["inputs"]], entry["name"]


def test_every_contract_function_has_a_binding_method(chain_artifacts: ArtifactSet) -> None:
    for name, binding in BINDINGS.items():
        functions = {
            entry["name"] for entry in chain_artifacts.abi(name) if entry["type"] == "function"
        }
        for function in functions:
            method = getattr(binding, snake_case(function), None)
            assert callable(method), (
                f"{binding.__name__} lacks {snake_case(function)} for {function}"
            )
        own_methods = {
            method_name
            for method_name, _ in inspect.getmembers(binding, inspect.isfunction)
            if not method_name.startswith("_")
            and method_name not in ("with_account", "routed", "events")
        }
        assert own_methods <= {snake_case(function) for function in functions}, binding.__name__


def test_every_external_function_event_and_error_has_natspec(
    chain_config: ProjectConfig, chain_artifacts: ArtifactSet
) -> None:
    declared = _declared_errors(chain_config.contracts_dir)
    for name in DEPLOYED:
        artifact = chain_artifacts[name]
        notices = {sig.split("(")[0] for sig in artifact.userdoc.get("methods", {})}
        events = {sig.split("(")[0] for sig in artifact.userdoc.get("events", {})}
        errors = {sig.split("(")[0] for sig in artifact.userdoc.get("errors", {})}
        for entry in artifact.abi:
            kind, entry_name = entry["type"], entry.get("name")
            if kind == "function" and entry_name not in INHERITED:
                assert entry_name in notices, f"{name}.{entry_name} has no @notice"
            elif kind == "event" and entry_name not in {
                "Transfer",
                "Approval",
                "OwnershipTransferred",
                "OwnershipTransferStarted",
            }:
                assert entry_name in events, f"{name} event {entry_name} has no @notice"
            elif kind == "error" and entry_name in declared:
                assert entry_name in errors, f"{name} error {entry_name} has no @notice"


def _declared_errors(contracts_dir: Path) -> set[str]:
    """Errors declared in our own sources (OpenZeppelin's are documented with @dev)."""
    names = set()
    for source in contracts_dir.rglob("*.sol"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("error "):
                names.add(stripped[len("error ") :].split("(")[0])
    return names


def _source(body: str) -> str:
    return f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n{body}\n"


def _project(root: Path, config: ProjectConfig, body: str) -> ProjectConfig:
    """A minimal project with one contract, sharing node_modules with the real one."""
    (root / "contracts").mkdir(parents=True)
    (root / "contracts" / "A.sol").write_text(_source(body))
    return write_project(root, config)

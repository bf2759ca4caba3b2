"""The one reader of ``brownie-config.yaml``: compiler, network and storage settings.

Every command and library entry point that needs a setting takes a :class:`ProjectConfig`
(usually from :func:`load_config`); nothing reads the YAML file a second time.
Environment variables override the file where a deployment needs it (see
:data:`ENVIRONMENT`), so that endpoints and keys never have to live in a committed file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

CONFIG_FILE = "brownie-config.yaml"
N = TypeVar("N", int, float)
#: Where the MNIST files live, relative to the project root.
MNIST_DIRECTORY = Path("data") / "mnist"

#: Environment variables the configuration honours, and what each one overrides.
ENVIRONMENT = {
    "FEDLEDGER_ROOT": "project directory holding brownie-config.yaml (default: search upwards)",
    "FEDLEDGER_NETWORK": "network name from brownie-config.yaml (default: networks.default)",
    "FEDLEDGER_RPC_URL": "JSON-RPC URL of the `external` network; on `consortium`, another "
    "organisation's geth (default: organisation 1's)",
    "FEDLEDGER_STORE": "blob store: local or ipfs (default: storage.default)",
    "FEDLEDGER_IPFS_API": "Kubo RPC API URL (default: storage.ipfs_api)",
    "FEDLEDGER_KEYSTORE": "encrypted keystore file of the signing account (see --key)",
    "FEDLEDGER_KEYSTORE_PASSWORD": "password of that keystore (else the command prompts)",
    "FEDLEDGER_PRIVATE_KEY": "hex private key of the signing account, if no keystore is given",
}


class ConfigError(RuntimeError):
    """The configuration is missing or invalid; the message says what to fix."""


@dataclass(frozen=True)
class CompilerSettings:
    solc_version: str
    evm_version: str
    optimizer_enabled: bool
    optimizer_runs: int
    via_ir: bool
    remappings: tuple[str, ...]


#: Compiler keys a network may override (``networks.<name>.compiler``), as named in the file.
_NETWORK_COMPILER_KEYS = {"evm_version": "evm_version"}


@dataclass(frozen=True)
class NetworkSettings:
    name: str
    rpc_url: str
    chain_id: int | None
    embedded: bool = False
    poa: bool = False
    accounts: int = 10
    block_time: float | None = None
    #: Blocks an event must be buried under before oracles, participants and the demo act
    #: on it (0: at once, right for an automining dev chain that never reorganises).
    confirmations: int = 0
    #: The well-known anvil dev accounts hold ether here (the embedded chain, and the
    #: local consortium whose genesis funds them); ``--key dev:N`` is allowed.
    dev_accounts: bool = False
    #: Compiler settings this network overrides (e.g. ``evm_version: paris``).
    compiler: tuple[tuple[str, str], ...] = ()
    #: Organisations running a node each (the consortium; 1 for a single node).
    orgs: int = 1
    #: The ``port`` of the file, whatever FEDLEDGER_RPC_URL says (the consortium's first port).
    base_port: int | None = None

    @property
    def has_dev_accounts(self) -> bool:
        """Whether ``--key dev:N`` (anvil's well-known accounts) is allowed here."""
        return self.embedded or self.dev_accounts

    @property
    def port(self) -> int:
        """TCP port of the RPC URL (the embedded chain listens on it)."""
        tail = self.rpc_url.rsplit(":", 1)[-1].split("/", 1)[0]
        return int(tail) if tail.isdigit() else 8545


@dataclass(frozen=True)
class StorageSettings:
    default: str
    local_root: Path
    ipfs_api: str
    max_blob_bytes: int
    timeout_seconds: float


@dataclass(frozen=True)
class ProjectConfig:
    root: Path
    contracts_dir: Path
    build_dir: Path
    compiler: CompilerSettings
    networks: dict[str, NetworkSettings]
    default_network: str
    storage: StorageSettings
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def node_modules(self) -> Path:
        return self.root / "node_modules"

    @property
    def state_dir(self) -> Path:
        """Run state the tools write (deployments, the embedded chain's pid file, blobs)."""
        return self.root / ".fedledger"

    def compiler_for(self, network: str | None = None) -> CompilerSettings:
        """The compiler settings for contracts deployed on ``network``: the global ones with
        the network's ``compiler:`` overrides (None: the default network's)."""
        overrides = self.network(network).compiler
        if not overrides:
            return self.compiler
        # Only string settings may be overridden per network (_NETWORK_COMPILER_KEYS).
        return replace(self.compiler, **dict[str, Any](overrides))

    def network(self, name: str | None = None) -> NetworkSettings:
        """The named network, or the default one; raises ConfigError for an unknown name."""
        chosen = name or self.default_network
        try:
            return self.networks[chosen]
        except KeyError:
            known = ", ".join(sorted(self.networks))
            raise ConfigError(
                f"unknown network {chosen!r}; {CONFIG_FILE} defines: {known}"
            ) from None


def find_root(start: Path | None = None) -> Path:
    """The project directory: $FEDLEDGER_ROOT, else the nearest parent holding the config file,
    else the source checkout this package was installed from."""
    env_root = os.environ.get("FEDLEDGER_ROOT")
    if env_root:
        root = Path(env_root).expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise ConfigError(f"FEDLEDGER_ROOT={env_root} has no {CONFIG_FILE}")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / CONFIG_FILE).is_file():
        return checkout
    raise ConfigError(
        f"no {CONFIG_FILE} found from {here} upwards; run inside a FedLedger checkout "
        "or set FEDLEDGER_ROOT"
    )


def mnist_directory(root: Path | None = None) -> Path:
    """The MNIST files shipped with the project (``root``, default :func:`find_root`)."""
    return (root or find_root()) / MNIST_DIRECTORY


def load_config(start: Path | None = None, *, root: Path | None = None) -> ProjectConfig:
    """Read ``brownie-config.yaml`` of the project and apply the environment overrides.

    ``root`` names the project directory itself (no search, ``FEDLEDGER_ROOT`` not
    consulted): for tools that write a project of their own, such as the demo.
    """
    root = Path(root).resolve() if root is not None else find_root(start)
    path = root / CONFIG_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return _parse(root, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: missing or invalid setting ({exc!r})") from exc


def _parse(root: Path, raw: dict[str, Any]) -> ProjectConfig:
    structure = raw.get("project_structure", {})
    compiler_raw = raw["compiler"]
    solc = compiler_raw["solc"]
    optimizer = solc.get("optimizer", {})
    compiler = CompilerSettings(
        solc_version=str(solc["version"]),
        evm_version=str(compiler_raw.get("evm_version", "shanghai")),
        optimizer_enabled=bool(optimizer.get("enabled", True)),
        optimizer_runs=int(optimizer.get("runs", 200)),
        via_ir=bool(solc.get("via_ir", False)),
        remappings=tuple(solc.get("remappings", [])),
    )

    networks_raw = dict(raw["networks"])
    default_network = os.environ.get("FEDLEDGER_NETWORK") or networks_raw.pop("default", "anvil")
    networks_raw.pop("default", None)
    networks = {name: _parse_network(name, spec) for name, spec in networks_raw.items()}

    storage_raw = raw.get("storage", {})
    storage = StorageSettings(
        default=os.environ.get("FEDLEDGER_STORE") or storage_raw.get("default", "local"),
        local_root=root / storage_raw.get("local_root", ".fedledger/blobs"),
        ipfs_api=os.environ.get("FEDLEDGER_IPFS_API")
        or storage_raw.get("ipfs_api", "http://127.0.0.1:5001"),
        max_blob_bytes=_positive(storage_raw, "max_blob_bytes", 16 * 1024 * 1024, int),
        timeout_seconds=_positive(storage_raw, "timeout_seconds", 10.0, float),
    )

    return ProjectConfig(
        root=root,
        contracts_dir=root / structure.get("contracts", "contracts"),
        build_dir=root / structure.get("build", "build"),
        compiler=compiler,
        networks=networks,
        default_network=default_network,
        storage=storage,
        raw=raw,
    )


def _positive(section: dict[str, Any], key: str, default: N, kind: Callable[[Any], N]) -> N:
    """``section[key]`` as a positive number of type ``kind``; ConfigError names the key."""
    value = section.get(key, default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not number > 0 or number != number:
        raise ConfigError(
            f"{CONFIG_FILE}: storage.{key} is {value!r}; it must be a positive number "
            f"(default {default})"
        )
    return number


def _parse_network(name: str, spec: dict[str, Any]) -> NetworkSettings:
    # host_env names a variable that carries the URL (e.g. another organisation's node);
    # host/port, if given too, are the URL when it is unset.
    url = os.environ.get(spec["host_env"], "") if "host_env" in spec else ""
    if not url and "host" in spec:
        url = str(spec["host"])
        if spec.get("port") is not None:
            url = f"{url}:{spec['port']}"
    block_time = spec.get("block_time")
    compiler_raw = spec.get("compiler") or {}
    unknown = sorted(set(compiler_raw) - set(_NETWORK_COMPILER_KEYS))
    if unknown:
        raise ValueError(
            f"networks.{name}.compiler: {', '.join(unknown)} cannot be set per network "
            f"(allowed: {', '.join(sorted(_NETWORK_COMPILER_KEYS))})"
        )
    embedded = bool(spec.get("embedded", False))
    return NetworkSettings(
        name=name,
        rpc_url=url,
        chain_id=spec.get("chain_id"),
        embedded=embedded,
        poa=bool(spec.get("poa", False)),
        accounts=int(spec.get("accounts", 10)),
        block_time=float(block_time) if block_time is not None else None,
        confirmations=int(spec.get("confirmations", 0)),
        dev_accounts=bool(spec.get("dev_accounts", False)),
        orgs=int(spec.get("orgs", 1)),
        base_port=int(spec["port"]) if spec.get("port") is not None else None,
        compiler=tuple(
            sorted((_NETWORK_COMPILER_KEYS[key], str(value)) for key, value in compiler_raw.items())
        ),
    )

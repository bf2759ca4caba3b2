"""The ABI codec: encode calls, decode results, logs and revert data.

One :class:`ContractInterface` per contract wraps its ABI (from :mod:`.artifacts`, the one
ABI loader). :class:`AbiRegistry` holds the interfaces of a deployment so that a revert
bubbling up from any contract, or a log emitted by any of them, can be decoded.

Decoded values are plain Python: checksum address strings, ``bytes`` for fixed bytes,
``int``, ``bool``, the enums of :mod:`.codes` for Solidity enums, and ``dict`` (snake_case
keys) for structs, which the bindings turn into dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import to_checksum_address
from eth_utils.abi import (
    collapse_if_tuple,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
)
from hexbytes import HexBytes

import fedledger.chain.errors
import fedledger.chain.events  # noqa: F401  (defines the dataclass of every ABI event)
from fedledger.chain.enums import CONTRACT_ENUMS
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.exceptions import ContractRevert, EmptyRevert, Panic, RevertWithReason
from fedledger.chain.naming import snake_case

_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

Param = Mapping[str, Any]


class Bytes32(bytes):
    """A decoded ``bytes32`` (content hashes, resource ids): plain ``bytes`` that prints as hex."""

    def __repr__(self) -> str:
        return "0x" + self.hex()

    __str__ = __repr__


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    selector: bytes
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]


@dataclass(frozen=True)
class EventSpec:
    name: str
    topic: bytes
    inputs: tuple[Param, ...]


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    selector: bytes
    inputs: tuple[Param, ...]


class ContractInterface:
    """The functions, events and errors of one contract's ABI."""

    def __init__(self, name: str, abi: Sequence[Param]) -> None:
        self.name = name
        self.abi = tuple(abi)
        self.functions: dict[str, FunctionSpec] = {}
        self.events: dict[bytes, EventSpec] = {}
        self.errors: dict[bytes, ErrorSpec] = {}
        self.constructor_inputs: tuple[Param, ...] = ()
        for entry in self.abi:
            kind = entry["type"]
            if kind == "function":
                if entry["name"] in self.functions:
                    # Bindings call functions by name; overloads would make that ambiguous.
                    raise ValueError(
                        f"{name}.{entry['name']} is overloaded; bindings need unique names"
                    )
                self.functions[entry["name"]] = FunctionSpec(
                    name=entry["name"],
                    selector=function_abi_to_4byte_selector(cast(Any, entry)),
                    inputs=tuple(entry["inputs"]),
                    outputs=tuple(entry.get("outputs", ())),
                )
            elif kind == "event":
                spec = EventSpec(
                    entry["name"], event_abi_to_log_topic(cast(Any, entry)), tuple(entry["inputs"])
                )
                self.events[spec.topic] = spec
            elif kind == "error":
                spec_error = ErrorSpec(
                    entry["name"],
                    function_abi_to_4byte_selector(cast(Any, entry)),
                    tuple(entry["inputs"]),
                )
                self.errors[spec_error.selector] = spec_error
            elif kind == "constructor":
                self.constructor_inputs = tuple(entry["inputs"])

    def function(self, name: str) -> FunctionSpec:
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(f"{self.name} has no function {name!r}") from None

    def encode_call(self, name: str, args: Sequence[Any]) -> bytes:
        spec = self.function(name)
        return spec.selector + encode_values(spec.inputs, args, f"{self.name}.{name}")

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        return encode_values(self.constructor_inputs, args, f"{self.name} constructor")

    def decode_result(self, name: str, data: bytes) -> Any:
        """The function's return value: one value, or a tuple for several outputs."""
        spec = self.function(name)
        values = decode_values(spec.outputs, data)
        return values[0] if len(values) == 1 else values


class AbiRegistry:
    """Every interface of a deployment: decodes errors and logs whatever contract raised
    or emitted them (a revert in the token bubbles up through the vault)."""

    def __init__(self, interfaces: Sequence[ContractInterface]) -> None:
        self.interfaces = {interface.name: interface for interface in interfaces}
        self._errors: dict[bytes, ErrorSpec] = {}
        self._events: dict[bytes, EventSpec] = {}
        for interface in interfaces:
            self._errors.update(interface.errors)
            self._events.update(interface.events)

    def __getitem__(self, name: str) -> ContractInterface:
        return self.interfaces[name]

    def decode_revert(self, data: bytes, context: str = "") -> ContractRevert:
        """The exception for revert data: a custom error, ``Error(string)`` or a panic."""
        selector, payload = data[:4], data[4:]
        try:
            if not data:
                return EmptyRevert(context=context)
            if selector == _ERROR_STRING_SELECTOR:
                (reason,) = abi_decode(["string"], payload)
                return RevertWithReason({"reason": reason}, error_name="Error", context=context)
            if selector == _PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], payload)
                return Panic({"code": hex(code)}, context=context)
            spec = self._errors.get(selector)
            if spec is not None:
                values = decode_values(spec.inputs, payload)
                names = [snake_case(item["name"]) for item in spec.inputs]
                return ContractRevert.for_error(
                    spec.name, dict(zip(names, values, strict=True)), context
                )
        except DecodingError:
            pass
        return ContractRevert(
            {"data": "0x" + data.hex()}, error_name="UnknownError", context=context
        )

    def decode_log(self, log: Mapping[str, Any]) -> ChainEvent | None:
        """The event dataclass for a raw log, or None for a log no interface declares."""
        topics = [bytes(HexBytes(topic)) for topic in log["topics"]]
        if not topics:
            return None
        spec = self._events.get(topics[0])
        event_class = ChainEvent.registry.get(spec.name) if spec else None
        if spec is None or event_class is None:
            return None
        indexed = [item for item in spec.inputs if item.get("indexed")]
        plain = [item for item in spec.inputs if not item.get("indexed")]
        values: dict[str, Any] = {}
        for item, topic in zip(indexed, topics[1:], strict=True):
            values[snake_case(item["name"])] = decode_values([item], topic)[0]
        data = bytes(HexBytes(log["data"]))
        for item, value in zip(plain, decode_values(plain, data), strict=True):
            values[snake_case(item["name"])] = value
        return event_class(
            block_number=_quantity(log["blockNumber"]),
            log_index=_quantity(log["logIndex"]),
            tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
            address=to_checksum_address(log["address"]),
            **values,
        )

    def topic_filters(self, event_name: str, filters: Mapping[str, Any]) -> list[Any]:
        """The ``topics`` list of an ``eth_getLogs`` request for an event, filtered by indexed
        parameters (snake_case names; a list value matches any of its items)."""
        spec = next((s for s in self._events.values() if s.name == event_name), None)
        if spec is None:
            raise ValueError(f"no contract in this deployment emits {event_name}")
        indexed = [item for item in spec.inputs if item.get("indexed")]
        unknown = set(filters) - {snake_case(item["name"]) for item in indexed}
        if unknown:
            raise ValueError(f"{event_name} has no indexed parameter {sorted(unknown)}")
        topics: list[Any] = ["0x" + spec.topic.hex()]
        for item in indexed:
            wanted = filters.get(snake_case(item["name"]))
            if wanted is None:
                topics.append(None)
            elif isinstance(wanted, (list, tuple, set)):
                topics.append([_topic(item, value) for value in wanted])
            else:
                topics.append(_topic(item, wanted))
        while topics and topics[-1] is None:
            topics.pop()
        return topics


def _quantity(value: int | str) -> int:
    """A JSON-RPC quantity: hex string from raw responses, int from web3's formatters."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _topic(param: Param, value: Any) -> str:
    return "0x" + encode_values([param], [value], "topic").hex()


def encode_values(params: Sequence[Param], args: Sequence[Any], context: str) -> bytes:
    if len(args) != len(params):
        raise TypeError(f"{context} takes {len(params)} arguments, got {len(args)}")
    types = [collapse_if_tuple(dict(param)) for param in params]
    values = [_to_abi(param, value) for param, value in zip(params, args, strict=True)]
    return abi_encode(types, values)


def decode_values(params: Sequence[Param], data: bytes) -> tuple[Any, ...]:
    types = [collapse_if_tuple(dict(param)) for param in params]
    raw = abi_decode(types, data)
    return tuple(_from_abi(param, value) for param, value in zip(params, raw, strict=True))


def _to_abi(param: Param, value: Any) -> Any:
    """Python value -> what eth_abi encodes: dataclasses and dicts become tuples in component
    order, hex strings become bytes for ``bytesN`` parameters."""
    kind = param["type"]
    if kind.endswith("]"):
        element = {**param, "type": kind[: kind.rindex("[")]}
        return [_to_abi(element, item) for item in value]
    if kind == "tuple":
        components = param["components"]
        if is_dataclass(value) and not isinstance(value, type):
            value = {item.name: getattr(value, item.name) for item in fields(value)}
        if isinstance(value, Mapping):
            return tuple(
                _to_abi(component, value[snake_case(component["name"])]) for component in components
            )
        return tuple(_to_abi(c, v) for c, v in zip(components, value, strict=True))
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes(HexBytes(value))
    return value


def _from_abi(param: Param, value: Any) -> Any:
    kind = param["type"]
    if kind.endswith("]"):
        element = {**param, "type": kind[: kind.rindex("[")]}
        return [_from_abi(element, item) for item in value]
    if kind == "tuple":
        return {
            snake_case(component["name"]): _from_abi(component, item)
            for component, item in zip(param["components"], value, strict=True)
        }
    if kind == "address":
        return to_checksum_address(value)
    if kind == "bytes32":
        return Bytes32(value)
    internal = param.get("internalType", "")
    if internal.startswith("enum "):
        enum_class = CONTRACT_ENUMS.get(internal[len("enum ") :])
        return enum_class(value) if enum_class else value
    return value

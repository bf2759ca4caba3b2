"""Structured logs of an oracle node: one record per thing that happened, as text or JSON lines.

Every record has a time, a level, the oracle's address, an event name and a message, plus
fields of its own (``round``, ``participant``, ``reason``...). The events an operator and a
script can rely on are listed in docs/oracle.md; the main ones are ``vote``, ``propose``,
``skip`` and ``error``.

A :class:`NodeLog` hands each record to its sinks: :func:`stream_sink` writes lines to a
file or standard output (flushed per line, so a killed node leaves only whole lines), and
any callable taking a :class:`LogRecord` will do (tests collect records in a list). The
node logs from one thread, but writes are serialised anyway so that a sink shared by
several nodes in one process never interleaves lines.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO


class Level(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class LogRecord:
    """One thing that happened; ``fields`` hold JSON-ready values (see :func:`json_value`)."""

    ts: float
    level: Level
    oracle: str
    event: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        """A field by name (``record["round"]``)."""
        return self.fields[name]

    def to_json(self) -> str:
        head = {
            "ts": _iso(self.ts),
            "level": self.level.value,
            "oracle": self.oracle,
            "event": self.event,
            "message": self.message,
        }
        return json.dumps({**head, **self.fields}, separators=(",", ":"))

    def to_text(self) -> str:
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in self.fields.items())
        oracle = f"{self.oracle[:6]}..{self.oracle[-4:]}" if len(self.oracle) > 12 else self.oracle
        line = f"{_iso(self.ts)} {self.level.value.upper():<7} {oracle} {self.event:<9}"
        if self.message:
            line += f" {self.message}"
        return f"{line}  {pairs}" if pairs else line


Sink = Callable[[LogRecord], None]


class NodeLog:
    """The log of one oracle node."""

    def __init__(self, oracle: str, sinks: Iterable[Sink] = ()) -> None:
        self.oracle = oracle
        self.sinks = list(sinks)

    def emit(self, level: Level, event: str, message: str = "", **fields: Any) -> LogRecord:
        record = LogRecord(
            ts=time.time(),
            level=level,
            oracle=self.oracle,
            event=event,
            message=message,
            fields={key: json_value(value) for key, value in fields.items() if value is not None},
        )
        for sink in self.sinks:
            sink(record)
        return record

    def info(self, event: str, message: str = "", **fields: Any) -> LogRecord:
        return self.emit(Level.INFO, event, message, **fields)

    def warning(self, event: str, message: str = "", **fields: Any) -> LogRecord:
        return self.emit(Level.WARNING, event, message, **fields)

    def error(self, event: str, message: str = "", **fields: Any) -> LogRecord:
        return self.emit(Level.ERROR, event, message, **fields)


def stream_sink(stream: TextIO, log_format: LogFormat) -> Sink:
    """Write every record to ``stream``, one line each, flushed."""
    render = LogRecord.to_json if log_format is LogFormat.JSON else LogRecord.to_text
    lock = threading.Lock()

    def write(record: LogRecord) -> None:
        line = render(record)
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return write


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_value(value: Any) -> Any:
    """A JSON-ready form: bytes as 0x-hex, string enums by value, other enums by name
    (``ReasonCode.HASH_MISMATCH`` -> ``"HASH_MISMATCH"``), tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, enum.StrEnum):
        return value.value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return value


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and (" " in value or not value):
        return json.dumps(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)

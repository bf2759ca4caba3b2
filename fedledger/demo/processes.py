"""The demo's child processes: n oracle nodes and N participants, each a ``fedledger``
command of its own, with its output in a log file.

They run in their own sessions, so a Ctrl-C in the terminal reaches only the demo, which
then stops them in order (participants, then oracles) before the chain. Every child gets
one BLAS/OpenMP/TensorFlow thread: the machine's cores are shared by all of them, and
one thread makes training reproducible from run to run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self

from fedledger.threads import thread_environment

#: Settings a child must take from its command line, never from the demo's environment.
_OVERRIDES = (
    "FEDLEDGER_NETWORK",
    "FEDLEDGER_STORE",
    "FEDLEDGER_IPFS_API",
    "FEDLEDGER_RPC_URL",
    "FEDLEDGER_KEYSTORE",
    "FEDLEDGER_PRIVATE_KEY",
)


def child_environment(project_root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a demo child: the demo's project, one thread, quiet TensorFlow."""
    env = thread_environment(
        1, {key: value for key, value in os.environ.items() if key not in _OVERRIDES}
    )
    env.update(FEDLEDGER_ROOT=str(project_root), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


@dataclass
class Child:
    """One running ``fedledger`` command."""

    name: str
    role: str  # "oracle" or "participant"
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class ProcessGroup:
    """Starts children and stops every one of them on exit, whatever happened."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.children: list[Child] = []
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(
        self,
        name: str,
        role: str,
        address: str,
        arguments: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        """Run ``fedledger <arguments>`` with this interpreter, output to ``log_path``;
        ``env`` adds to the group's environment (e.g. the organisation's node)."""
        log = log_path.open("ab")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "fedledger", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.env, **(env or {})},
            start_new_session=True,
        )
        child = Child(name, role, address, process, log_path)
        self.children.append(child)
        return child

    def of_role(self, role: str) -> list[Child]:
        return [child for child in self.children if child.role == role]

    def exited(self, role: str) -> list[Child]:
        return [child for child in self.of_role(role) if child.returncode is not None]

    def wait(self, role: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every child of ``role`` to exit by itself."""
        for child in self.of_role(role):
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Participants first, then oracles, then the gateway they fetch models through:
        SIGTERM, then SIGKILL after ``timeout``."""
        for role in ("participant", "oracle", "gateway"):
            running = [c for c in self.of_role(role) if c.returncode is None]
            for child in running:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
            for child in running:
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()

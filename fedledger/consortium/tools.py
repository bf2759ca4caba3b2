"""Where the consortium's programs are: geth and Kubo, built by ``make tools`` into the
project's ``tools/bin`` (the Makefile pins their versions). Nothing is downloaded here:
a missing program is an error that says how to build it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from fedledger.config import ProjectConfig

TOOLS_DIR = Path("tools") / "bin"


class ToolMissing(RuntimeError):
    """geth or Kubo is not built yet; the message says how to build it."""


class ProcessFailed(RuntimeError):
    """A consortium process did not start or stopped unexpectedly; the message has its log."""


def tool_path(config: ProjectConfig, name: str) -> Path:
    """``tools/bin/<name>`` of the project (``geth`` or ``ipfs``), which must exist."""
    path = config.root / TOOLS_DIR / name
    if not path.is_file():
        raise ToolMissing(
            f"{name} is not built: {path} is missing; run `make tools` once in {config.root} "
            "(it builds geth and Kubo from the Go module proxy, a few minutes)"
        )
    return path


def terminate(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the process (by its PID), then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def terminate_pid(pid: int, timeout: float = 15.0) -> bool:
    """The same for a process this Python process did not start (``consortium down``);
    False if it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


class LoggedProcess:
    """What geth, Kubo and the oracle share as background programs of an organisation:
    one process at a time, in its own session (a Ctrl-C at the terminal does not reach
    it), its output appended to ``log_path``, stopped by its PID.

    Subclasses are dataclasses with a ``process`` field and a ``log_path``."""

    process: subprocess.Popen[bytes] | None
    #: Seconds a SIGTERM gets before SIGKILL (geth flushes its database: more).
    stop_timeout: ClassVar[float] = 15.0

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Start ``command`` with its output appended to the log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                list(command),
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self, program: str) -> ProcessFailed | None:
        """The error to raise if the process has exited (during start-up), else None."""
        if self.process is None or self.process.poll() is None:
            return None
        return ProcessFailed(
            f"{program} exited with status {self.process.returncode} during start-up; "
            f"its log ({self.log_path}) ends with:\n{log_tail(self.log_path)}"
        )

    def wait_until(
        self, ready: Callable[[], bool], program: str, failed: str, timeout: float
    ) -> None:
        """Poll ``ready()`` until true. If the process exits first, or ``timeout`` passes
        (then it is stopped), raise ProcessFailed: ``program failed within timeout``, with
        the end of the log."""
        deadline = time.monotonic() + timeout
        while not ready():
            if failure := self.exited(program):
                raise failure
            if time.monotonic() > deadline:
                self.stop()
                raise ProcessFailed(
                    f"{program} {failed} within {timeout:g} s; its log ({self.log_path}) "
                    f"ends with:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if it does not exit within ``stop_timeout``."""
        if self.process is not None:
            terminate(self.process, timeout=self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL: the program dies without a goodbye (fault tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is no zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

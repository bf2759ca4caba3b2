"""Where the consortium's programs are: geth and Kubo, built by ``make tools`` into the
project's ``tools/bin`` (the Makefile pins their versions). Nothing is downloaded here:
a missing program is an error that says how to build it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

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

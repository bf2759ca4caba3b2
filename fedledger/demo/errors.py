"""The demo's one error type."""

from __future__ import annotations


class DemoError(RuntimeError):
    """The demo cannot start or cannot go on; the message says why and where to look."""

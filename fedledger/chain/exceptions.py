"""The exception types of the chain layer that are not contract errors, and their base.

Reverts are raised as Python exceptions named after the contract's custom errors
(``except AlreadyVoted:``), decoded from the revert data by error selector. Those classes
are generated from the compiled ABI into :mod:`fedledger.chain.errors` (which re-exports
everything here); what each one tells the user to do is the hand-written table
:data:`fedledger.chain.error_hints.HINTS`. The decoded error arguments are available as
typed snake_case attributes (``exc.round``, ``exc.oracle``) and as ``exc.arguments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fedledger import units
from fedledger.chain.error_hints import HINTS


class ChainError(RuntimeError):
    """Base of every error raised by :mod:`fedledger.chain`."""


class CompilerError(ChainError):
    """The contracts could not be compiled; the message carries the compiler's report."""


class AnvilError(ChainError):
    """The embedded anvil chain could not be started, reached or stopped."""


class AccountError(ChainError):
    """No signing key is available, or the keystore could not be decrypted."""


class DeploymentError(ChainError):
    """No usable deployment: the file is missing, stale, or the chain does not match it."""


class TransactionFailed(ChainError):
    """A transaction was mined but failed, and replaying it gave no revert reason
    (typically out of gas, or the chain state changed between estimation and mining)."""


class ContractRevert(ChainError):
    """A contract call reverted with a custom error, ``Error(string)`` or a panic."""

    #: error name -> class, filled by ``__init_subclass__``.
    registry: ClassVar[dict[str, type[ContractRevert]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ContractRevert.registry[cls.__name__] = cls

    def __init__(
        self,
        arguments: Mapping[str, Any] | None = None,
        *,
        error_name: str | None = None,
        context: str = "",
        chain_time: int | None = None,
    ) -> None:
        self.error_name = error_name or type(self).__name__
        self.arguments = dict(arguments or {})
        self.context = context
        #: The chain's clock when the call reverted, if known: times in the message are
        #: then also said relative to it.
        self.chain_time = chain_time
        super().__init__(self._message())

    def at_chain_time(self, chain_time: int) -> ContractRevert:
        """The same error, its times said relative to the chain's clock ``chain_time``."""
        self.chain_time = chain_time
        self.args = (self._message(),)
        return self

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found normally: expose the decoded arguments.
        arguments = self.__dict__.get("arguments", {})
        if name in arguments:
            return arguments[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_revert, (type(self), self.arguments, self.error_name, self.context))

    def _message(self) -> str:
        rendered = ", ".join(
            f"{key}={units.format_field(key, value, self.chain_time)}"
            for key, value in self.arguments.items()
        )
        text = f"{self.error_name}({rendered})"
        if self.context:
            text = f"{self.context} reverted: {text}"
        hint = HINTS.get(self.error_name) or _builtin_hint(type(self))
        if hint:
            text = f"{text}: {hint}"
        return text

    @classmethod
    def for_error(
        cls, name: str, arguments: Mapping[str, Any], context: str = ""
    ) -> ContractRevert:
        """The exception for a decoded error: its own class if there is one, else generic."""
        error_class = cls.registry.get(name, ContractRevert)
        return error_class(arguments, error_name=name, context=context)


def _rebuild_revert(
    error_class: type[ContractRevert], arguments: dict[str, Any], name: str, context: str
) -> ContractRevert:
    return error_class(arguments, error_name=name, context=context)


def _builtin_hint(error_class: type[ContractRevert]) -> str:
    """The first paragraph of a built-in revert class's docstring (Panic, EmptyRevert...)."""
    if error_class is ContractRevert or error_class.__module__ != __name__:
        return ""
    return " ".join((error_class.__doc__ or "").strip().split("\n\n", 1)[0].split())


# ---- Solidity built-ins ---------------------------------------------------------------


class RevertWithReason(ContractRevert):
    """The contract reverted with a reason string (``Error(string)``)."""


class Panic(ContractRevert):
    """A Solidity panic (assertion, arithmetic overflow, division by zero...): a contract bug."""


class EmptyRevert(ContractRevert):
    """The call reverted without any data (no reason given, or out of gas in a sub-call)."""

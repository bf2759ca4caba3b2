"""Exceptions of the chain layer.

Reverts are raised as Python exceptions named after the contract's custom errors
(``except AlreadyVoted:``), decoded from the revert data by error selector. Each class's
docstring says what happened and what to do; the decoded error arguments are available
as snake_case attributes (``exc.round``, ``exc.oracle``) and as ``exc.arguments``.
An error the ABI declares but this module has no class for is raised as a plain
:class:`ContractRevert` carrying its name (the test-suite keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fedledger import units


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
        hint = (type(self).__doc__ or "").strip().split("\n\n", 1)[0]
        if type(self) is not ContractRevert and hint:
            text = f"{text}: {' '.join(hint.split())}"
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


# ---- Solidity built-ins ---------------------------------------------------------------


class RevertWithReason(ContractRevert):
    """The contract reverted with a reason string (``Error(string)``)."""


class Panic(ContractRevert):
    """A Solidity panic (assertion, arithmetic overflow, division by zero...): a contract bug."""


class EmptyRevert(ContractRevert):
    """The call reverted without any data (no reason given, or out of gas in a sub-call)."""


# ---- shared ---------------------------------------------------------------------------


class ZeroAddress(ContractRevert):
    """The zero address cannot take this role: pass a real account."""


# ---- OracleQuorum ---------------------------------------------------------------------


class NotOracle(ContractRevert):
    """The account is not a registered oracle: register it with addOracle first."""


class EmptyEncryptionKey(ContractRevert):
    """The zero key names no X25519 key: register the 32-byte public key of your key file."""


class EncryptionKeyUnchanged(ContractRevert):
    """That key is the oracle's current encryption key already: nothing to rotate."""


class EncryptionKeyRotatedThisRound(ContractRevert):
    """The oracle rotated its encryption key in this round already: rotate again next round
    (updates sealed for the key it replaced must stay readable until the round ends)."""


class OracleAlreadyRegistered(ContractRevert):
    """The account is already a registered oracle."""


class OracleRejoinTooSoon(ContractRevert):
    """The oracle was removed in this round; it may be added again once the next round opens."""


class OracleSetFull(ContractRevert):
    """No free oracle index: the set is at MAX_ORACLES, or indices vacated in this round
    are quarantined until the next round opens."""


class InvalidQuorum(ContractRevert):
    """The quorum must satisfy 2k > n and k <= n (k = 0 only for an empty set); pass a
    new quorum together with the oracle change."""


# ---- ParticipantRegistry --------------------------------------------------------------


class NotParticipant(ContractRevert):
    """The account is not a registered participant and open enrolment is off: ask the
    admin to register it."""


class Banned(ContractRevert):
    """The participant is banned (too many rejected updates); only the admin can pardon it."""


class AlreadyRegistered(ContractRevert):
    """The participant is already registered."""


class NotBanned(ContractRevert):
    """The participant is not banned; there is nothing to pardon."""


# ---- FedLedgerCoordinator -------------------------------------------------------------


class TrainingNotStarted(ContractRevert):
    """Training has not started: the admin must call startTraining with the genesis model."""


class TrainingAlreadyStarted(ContractRevert):
    """startTraining was already called; rounds advance by themselves from there."""


class WrongRound(ContractRevert):
    """The call names a round other than the current one: read latestModel() and retry
    with the current round."""


class RoundNotOpen(ContractRevert):
    """The round no longer takes submissions or votes (it was closed)."""


class RoundNotClosed(ContractRevert):
    """Aggregates can only be proposed (and stalls skipped) once the round is closed."""


class SubmissionDeadlinePassed(ContractRevert):
    """The round's submission deadline has passed: wait for the next round."""


class AlreadySubmitted(ContractRevert):
    """The participant already submitted an update in this round (one per round)."""


class EmptyContentHash(ContractRevert):
    """A content hash of zero names no blob: pass the blob's 32-byte content hash."""


class ZeroSamples(ContractRevert):
    """An update must claim at least one training sample."""


class UnknownUpdate(ContractRevert):
    """The participant submitted no update in that round."""


class UpdateAlreadySettled(ContractRevert):
    """The update is no longer pending (k votes agreed or the votes split): nothing to vote on."""


class AlreadyVoted(ContractRevert):
    """This oracle already voted on the update; each oracle votes once."""


class InvalidReasonCode(ContractRevert):
    """An accept vote carries ReasonCode.ACCEPTED (0), a reject vote any other code."""


class RoundCloseTooEarly(ContractRevert):
    """The round can be closed once its deadline has passed or the contribution target
    is met."""


class AlreadyProposed(ContractRevert):
    """This oracle already proposed an aggregate for the round; each oracle proposes once."""


class AggregationNotStalled(ContractRevert):
    """The oracles still have time to agree on the aggregate: retry after stalled_after."""


class InvalidRoundRules(ContractRevert):
    """Round duration and aggregation timeout must both be positive."""


# ---- RewardToken (and OpenZeppelin ERC-20) --------------------------------------------


class NotMinter(ContractRevert):
    """Only the coordinator that created the token can mint it."""


class ERC20InsufficientBalance(ContractRevert):
    """The sender holds fewer tokens than the amount."""


class ERC20InsufficientAllowance(ContractRevert):
    """The spender's allowance is smaller than the amount: approve it first."""


class ERC20InvalidSender(ContractRevert):
    """Tokens cannot be sent from the zero address."""


class ERC20InvalidReceiver(ContractRevert):
    """Tokens cannot be sent to the zero address (burn them instead)."""


class ERC20InvalidApprover(ContractRevert):
    """The zero address cannot approve a spender."""


class ERC20InvalidSpender(ContractRevert):
    """The zero address cannot be approved as a spender."""


# ---- RedemptionVault (and OpenZeppelin utilities) -------------------------------------


class ZeroAmount(ContractRevert):
    """The amount must be positive."""


class InsufficientTokens(ContractRevert):
    """The holder's token balance is smaller than the amount to redeem or spend."""


class NothingToRedeem(ContractRevert):
    """The vault's pool holds no ETH for these tokens (or the amount is worth less than
    one wei): wait for a sponsor's deposit."""


class NothingToWithdraw(ContractRevert):
    """No ETH is credited to this account: redeem tokens first."""


class ResourceNotForSale(ContractRevert):
    """The resource has no access price set."""


class AccessAlreadyGranted(ContractRevert):
    """The account already has access to the resource."""


class ReentrancyGuardReentrantCall(ContractRevert):
    """A re-entrant call into the vault was refused."""


class FailedCall(ContractRevert):
    """Sending ETH failed (the recipient rejected it without a reason)."""


class InsufficientBalance(ContractRevert):
    """The contract holds less ETH than it tried to send (a contract accounting bug)."""


# ---- OpenZeppelin Ownable2Step --------------------------------------------------------


class OwnableUnauthorizedAccount(ContractRevert):
    """Only the contract's admin (owner) may call this; use the admin's key."""


class OwnableInvalidOwner(ContractRevert):
    """The new owner is not valid (the zero address)."""

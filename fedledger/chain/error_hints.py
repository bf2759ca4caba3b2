"""What each contract error tells the user to do, keyed by the Solidity error name.

Hand-written on purpose: the ABI says what went wrong (the classes of
:mod:`fedledger.chain.errors` are generated from it), this table says what to do about it.
A test checks that it covers every error of the compiled ABI and names no other.
"""

from __future__ import annotations

HINTS: dict[str, str] = {
    "AccessAlreadyGranted": (
        "The account already has access to the resource, until expires_at; buy again after "
        "it expires."
    ),
    "AccessControlBadConfirmation": (
        "An account can only renounce its own role: pass its own address as the confirmation."
    ),
    "AccessControlUnauthorizedAccount": (
        "This account lacks the timelock role the call needs (proposer to schedule, executor "
        "to execute): use a key that holds it."
    ),
    "AggregationNotStalled": (
        "The oracles still have time to agree on the aggregate: retry after stalled_after."
    ),
    "AggregationNotStarted": (
        "Pending updates still take votes until voting_ends (or until none is pending): "
        "propose the aggregate after that."
    ),
    "AlreadyProposed": (
        "This oracle already proposed an aggregate for the round; each oracle proposes once."
    ),
    "AlreadyRegistered": "The participant is already registered.",
    "AlreadySubmitted": (
        "The participant already submitted an update in this round (one per round)."
    ),
    "AlreadyVoted": "This oracle already voted on the update; each oracle votes once.",
    "Banned": (
        "The participant is banned (too many rejected updates); only the admin can pardon it."
    ),
    "EmptyEncryptionKey": (
        "The zero key names no X25519 key: register the 32-byte public key of your key file."
    ),
    "EncryptionKeyRotatedThisRound": (
        "The oracle rotated its encryption key in this round already: rotate again next round "
        "(updates sealed for the key it replaced must stay readable until the round ends)."
    ),
    "EncryptionKeyUnchanged": (
        "That key is the oracle's current encryption key already: nothing to rotate."
    ),
    "ERC20InsufficientAllowance": (
        "The spender's allowance is smaller than the amount: approve it first."
    ),
    "ERC20InsufficientBalance": "The sender holds fewer tokens than the amount.",
    "ERC20InvalidApprover": "The zero address cannot approve a spender.",
    "ERC20InvalidReceiver": "Tokens cannot be sent to the zero address (burn them instead).",
    "ERC20InvalidSender": "Tokens cannot be sent from the zero address.",
    "ERC20InvalidSpender": "The zero address cannot be approved as a spender.",
    "EmptyContentHash": (
        "A content hash of zero names no blob: pass the blob's 32-byte content hash."
    ),
    "FailedCall": "Sending ETH failed (the recipient rejected it without a reason).",
    "InsufficientBalance": (
        "The contract holds less ETH than it tried to send (a contract accounting bug)."
    ),
    "InsufficientTokens": (
        "The holder's token balance is smaller than the amount to redeem or spend."
    ),
    "InvalidQuorum": (
        "The quorum must satisfy 2k > n and k <= n (k = 0 only for an empty set); pass a new "
        "quorum together with the oracle change."
    ),
    "InvalidReasonCode": (
        "An accept vote carries ReasonCode.ACCEPTED (0), a reject vote any other code."
    ),
    "InvalidRoundRules": (
        "Round duration, aggregation timeout and verification grace must all be positive."
    ),
    "EmptyBatch": "A voteBatch carries at least one verdict; send the votes again with one.",
    "MalformedVerdict": (
        "A voteBatch verdict word is encoded by fedledger.chain.Verdict.word: "
        "participant << 48 | score << 16 | reason << 8 | accept (0 or 1)."
    ),
    "NoRewardOwed": (
        "No reward is credited to this account: rewards are credited when an update of "
        "it is accepted (see `fedledger status`), then claimed once."
    ),
    "NoStakeToWithdraw": (
        "No stake has been returned to this account (it comes back once an update is "
        "accepted, disputed or expired)."
    ),
    "NotBanned": "The participant is not banned; there is nothing to pardon.",
    "NotMinter": "Only the coordinator that created the token can mint it.",
    "NotOracle": "The account is not a registered oracle: register it with addOracle first.",
    "NotParticipant": (
        "The account is not a registered participant and open enrolment is off: ask the admin"
        " to register it."
    ),
    "NothingToAggregate": (
        "The round accepted no update: skip it with `skipStalledRound` instead of proposing."
    ),
    "NothingToRedeem": (
        "The vault's pool holds no ETH for these tokens (or the amount is worth less than one"
        " wei): wait for a sponsor's deposit."
    ),
    "NothingToSettle": (
        "The live votes neither reach the quorum nor rule a verdict out yet: wait for more "
        "oracle votes."
    ),
    "NothingToWithdraw": "No ETH is credited to this account: redeem tokens first.",
    "OracleAlreadyRegistered": "The account is already a registered oracle.",
    "OracleRejoinTooSoon": (
        "The oracle was removed in this round; it may be added again once the next round opens."
    ),
    "OracleSetFull": (
        "No free oracle index: the set is at MAX_ORACLES, or indices vacated in this round "
        "are quarantined until the next round opens."
    ),
    "OwnableInvalidOwner": "The new owner is not valid (the zero address).",
    "OwnableUnauthorizedAccount": (
        "Only the contract's admin (owner) may call this; use the admin's key."
    ),
    "ReentrancyGuardReentrantCall": "A re-entrant call into the vault was refused.",
    "ResourceNotForSale": "The resource has no access price set.",
    "RewardAboveCap": (
        "The base reward may not exceed the per-update cap fixed at deployment "
        "(max_reward_per_update)."
    ),
    "RoundCloseTooEarly": (
        "The round can be closed once its deadline has passed or the contribution target is met "
        "(that many updates submitted and not rejected)."
    ),
    "RoundNotClosed": (
        "Aggregates can only be proposed (and stalls skipped) once the round is closed."
    ),
    "RoundNotOpen": "The round no longer takes submissions or votes (it was closed).",
    "SubmissionDeadlinePassed": (
        "The round's submission deadline has passed: wait for the next round."
    ),
    "TimelockInsufficientDelay": (
        "The timelock refuses a delay below its minimum: schedule with at least min_delay seconds."
    ),
    "TimelockInvalidOperationLength": (
        "A batch operation needs as many targets, values and payloads."
    ),
    "TimelockUnauthorizedCaller": (
        "Only the timelock itself may change its delay: schedule updateDelay through it."
    ),
    "TimelockUnexecutedPredecessor": (
        "The operation depends on another one that has not been executed yet: execute that first."
    ),
    "TimelockUnexpectedOperationState": (
        "The operation is not in the state this needs: it is not scheduled yet, its delay has"
        " not passed (see `--execute` after the ETA), or it was already executed or "
        "cancelled."
    ),
    "TrainingAlreadyStarted": (
        "startTraining was already called; rounds advance by themselves from there."
    ),
    "TrainingNotStarted": (
        "Training has not started: the admin must call startTraining with the genesis model."
    ),
    "UnknownUpdate": "The participant submitted no update in that round.",
    "UpdateAlreadySettled": (
        "The update is no longer pending (accepted, rejected, disputed or expired): nothing "
        "to vote on."
    ),
    "VotingEnded": (
        "The round's verification grace is over: the update expired, and votes on it are no "
        "longer taken."
    ),
    "WrongRound": (
        "The call names a round other than the current one: read latestModel() and retry with"
        " the current round."
    ),
    "WrongStake": (
        "Under open enrolment a submission carries exactly the enrolment stake as its value "
        "(see `fedledger status`), otherwise none; the participant client pays it for you."
    ),
    "ZeroAddress": "The zero address cannot take this role: pass a real account.",
    "ZeroAmount": "The amount must be positive.",
    "ZeroSamples": "An update must claim at least one training sample.",
    "EmptyGatewayKey": (
        "A gateway needs its 32-byte X25519 public key (`fedledger gateway key create`)."
    ),
    "EmptyGatewayUrl": ("A gateway needs the URL clients reach it at: pass --url."),
    "UnknownGateway": ("The address is not a registered gateway (`fedledger status` lists them)."),
    "TooManyGateways": ("The registry holds the most gateways it can (max): remove one first."),
    "EmptyResourceContent": (
        "A served resource needs the content hash of its bytes and of its sealed blob."
    ),
}

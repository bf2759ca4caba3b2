"""What a read of the ledger can fail with, beyond the chain's own errors."""


class QueryError(RuntimeError):
    """What was asked for is not on the chain (yet); the message says what to do."""

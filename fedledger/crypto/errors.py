"""Why an envelope could not be opened; callers map each to a reason code."""

from __future__ import annotations


class EnvelopeError(ValueError):
    """Any failure to parse or open an envelope."""


class MalformedEnvelope(EnvelopeError):
    """Not an envelope of a known version: bad magic, version, suite, counts or truncated."""


class NotARecipient(EnvelopeError):
    """The envelope carries no content key wrapped for any of the given private keys."""


class NotAuthentic(EnvelopeError):
    """A wrapped key or the content fails its AEAD tag under the expected binding.

    Either the bytes were altered, or the envelope was made for another author, round,
    coordinator or chain (a copy): the two cannot be told apart, by design.
    """

"""The callbacks' signature: hex HMAC-SHA256 of `<timestamp>.<raw body>` in `X-Signature`,
the unix time it was signed at in `X-Timestamp`."""

import hashlib
import hmac
import time

from gateways.base import BadSignatureError, MissingSecretError

# A signed callback is good this long either side of now: long enough for clock drift, short
# enough that a captured callback cannot be replayed later.
MAX_SKEW_SECONDS = 300
# Unix seconds take 10 digits until 2286; 12 leaves room for any clock. A timestamp is bounded
# before int() reads it: past 4300 digits int() of text raises ValueError (Python's guard
# against quadratic conversion), and a timestamp anywhere near as long is no time at all.
_TIMESTAMP_MAX_DIGITS = 12


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature of `body` at `timestamp`. Raises MissingSecretError for an empty secret."""
    if not secret:
        raise MissingSecretError("The callback secret is not set: nothing is signed without one.")
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    *,
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float | None = None,
) -> None:
    """Raise `BadSignatureError` unless `signature` signs `body` at a `timestamp` close to now.

    With an empty secret every callback is refused: anybody can compute an HMAC whose key is
    empty, so such a signature proves nothing.
    """
    if not secret:
        raise BadSignatureError("No callback secret is set: no signature can be trusted.")
    if not signature or not timestamp:
        raise BadSignatureError("X-Signature and X-Timestamp are required.")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _TIMESTAMP_MAX_DIGITS:
        raise BadSignatureError("X-Timestamp must be unix seconds.")
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    # Constant time: a byte-by-byte comparison would tell an attacker how much they got right.
    # As bytes: compare_digest refuses text that is not ASCII, and a header can be anything.
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise BadSignatureError("The signature does not match.")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_SKEW_SECONDS:
        raise BadSignatureError("The timestamp is too old or in the future.")

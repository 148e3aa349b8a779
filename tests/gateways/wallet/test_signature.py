"""The callbacks' HMAC signature: what verifies, and what is refused."""

import hashlib
import hmac
import time

import pytest

from gateways.base import BadSignatureError, MissingSecretError
from gateways.wallet import sign, verify_signature

SECRET = "test-secret"
BODY = b'{"orderId": "492500005643", "success": true, "paymentId": "p1", "amount": 300.0}'


def test_signature_of_timestamp_and_body_verifies():
    now = int(time.time())
    signature = sign(secret=SECRET, timestamp=now, body=BODY)

    verify_signature(secret=SECRET, body=BODY, signature=signature, timestamp=str(now))


@pytest.mark.parametrize(
    ("secret", "body"), [("another-secret", BODY), (SECRET, BODY.replace(b"300.0", b"3000.0"))]
)
def test_another_secret_or_a_changed_body_is_refused(secret, body):
    now = int(time.time())
    signature = sign(secret=secret, timestamp=now, body=BODY)

    with pytest.raises(BadSignatureError, match="does not match"):
        verify_signature(secret=SECRET, body=body, signature=signature, timestamp=str(now))


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_more_than_five_minutes_away_is_refused(skew):
    signed_at = int(time.time()) + skew
    signature = sign(secret=SECRET, timestamp=signed_at, body=BODY)

    with pytest.raises(BadSignatureError, match="too old or in the future"):
        verify_signature(secret=SECRET, body=BODY, signature=signature, timestamp=str(signed_at))


@pytest.mark.parametrize(("signature", "timestamp"), [(None, "1"), ("ab", None), ("ab", "soon")])
def test_missing_signature_or_timestamp_is_refused(signature, timestamp):
    with pytest.raises(BadSignatureError):
        verify_signature(secret=SECRET, body=BODY, signature=signature, timestamp=timestamp)


def test_signing_with_an_empty_secret_raises():
    with pytest.raises(MissingSecretError):
        sign(secret="", timestamp=int(time.time()), body=BODY)


def test_with_an_empty_secret_even_a_signature_made_with_it_is_refused():
    now = int(time.time())
    # What anybody can compute: an HMAC whose key is empty.
    forged = hmac.new(b"", f"{now}.".encode() + BODY, hashlib.sha256).hexdigest()

    with pytest.raises(BadSignatureError, match="No callback secret is set"):
        verify_signature(secret="", body=BODY, signature=forged, timestamp=str(now))


def test_a_signature_that_is_not_ascii_is_refused_not_crashed_on():
    now = str(int(time.time()))

    with pytest.raises(BadSignatureError, match="does not match"):
        verify_signature(secret=SECRET, body=BODY, signature="\xe9" * 64, timestamp=now)


@pytest.mark.parametrize("digits", [13, 5000], ids=["past-any-unix-time", "past-int-limit"])
def test_a_correctly_signed_timestamp_too_long_for_unix_seconds_is_refused_not_crashed_on(digits):
    # 5000 digits: past Python's 4300-digit limit on int() of text, which raises ValueError.
    timestamp = "1" * digits
    signature = sign(secret=SECRET, timestamp=timestamp, body=BODY)

    with pytest.raises(BadSignatureError, match="must be unix seconds"):
        verify_signature(secret=SECRET, body=BODY, signature=signature, timestamp=timestamp)

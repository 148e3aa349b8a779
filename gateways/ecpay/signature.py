"""ECPay's CheckMacValue: the signature on every message to and from ECPay (docs/ecpay.md).

Follows ECPay's own pages, not an SDK: the SDKs disagree with them on `~` and on non-ASCII text.
"""

import hashlib
import hmac
import string
from collections.abc import Mapping

from gateways.base import MissingSecretError

# MD5 is for legacy EncryptType=0 and some other ECPay APIs: ECPay's choice, not ours.
_ALGORITHMS = frozenset({"sha256", "md5"})

# What .NET's HttpUtility.UrlEncode leaves as it is; Python's quote_plus would also keep `~`.
_UNESCAPED = frozenset((string.ascii_letters + string.digits + "-_.!*()").encode("ascii"))


def check_mac_value(
    params: Mapping[str, str], *, hash_key: str, hash_iv: str, algorithm: str = "sha256"
) -> str:
    """The CheckMacValue of every parameter but CheckMacValue itself, values exactly as given.

    Raises ValueError for an algorithm other than "sha256" or "md5", MissingSecretError when the
    HashKey or the HashIV is empty: a hash anybody can compute signs nothing.
    """
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"Unknown CheckMacValue algorithm {algorithm!r}.")
    if not hash_key or not hash_iv:
        raise MissingSecretError("ECPAY_HASH_KEY or ECPAY_HASH_IV is not set: nothing is signed.")
    # Case-insensitive order: ECPay sorts "vAccount" among the V's, not after every capital.
    names = sorted((name for name in params if name != "CheckMacValue"), key=str.lower)
    joined = "&".join(f"{name}={params[name]}" for name in names)
    # Lower-cased after encoding, as ECPay does. So the MAC signs neither letter case nor where a
    # field ends (`a=b&c=d` is also one field `a` = `b&c=d`): `messages.parse_notification`
    # believes a signed notification only in the one form ECPay sends.
    encoded = _dotnet_url_encode(f"HashKey={hash_key}&{joined}&HashIV={hash_iv}").lower()
    return hashlib.new(algorithm, encoded.encode("ascii")).hexdigest().upper()


def check_mac_matches(
    params: Mapping[str, str], *, hash_key: str, hash_iv: str, algorithm: str = "sha256"
) -> bool:
    """Whether params carry the CheckMacValue they should; False when they carry none, and
    whatever they carry when the HashKey or the HashIV is empty (anybody could have signed)."""
    received = params.get("CheckMacValue")
    if received is None or not hash_key or not hash_iv:
        return False
    expected = check_mac_value(params, hash_key=hash_key, hash_iv=hash_iv, algorithm=algorithm)
    # Bytes: compare_digest refuses a str with non-ASCII characters, which a forger may send.
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("ascii"))


def _dotnet_url_encode(text: str) -> str:
    """HttpUtility.UrlEncode: UTF-8 bytes, space as `+`, everything else not unescaped as %xx."""
    return "".join(
        chr(byte) if byte in _UNESCAPED else "+" if byte == 0x20 else f"%{byte:02x}"
        for byte in text.encode("utf-8")
    )

"""How every request reads the charset its Content-Type names, whichever server built it (gunicorn,
zappa on Lambda, ASGI, the test client): only a charset that decodes text is the request's
encoding.

Django takes any name `codecs.lookup` finds, and Python's codecs include bytes-to-bytes ones
(hex, base64, zlib), rot13, and text codecs that fail whatever the bytes (undefined, idna,
punycode). Setting one as the request's encoding decodes the query string with it at once, inside
Django's own request setup, before any middleware or view: `GET /api/v1/payments/?status=x` with
`Content-Type: ...; charset=hex` was a 500 on every path. Such a charset is ignored as Django
ignores a name it does not know: the request is read as UTF-8. The API's JSON parser still
refuses it by name (a 415, `core.api.DecimalJSONParser`), and the pages refuse every charset but
UTF-8 (`core.views.RequestCharsetCheck`).
"""

from typing import Any

from django.http import HttpRequest
from django.utils.http import parse_header_parameters

# Django's own, kept for the test that ours reads every charset that decodes text as it does.
DJANGO_SET_CONTENT_TYPE_PARAMS = HttpRequest._set_content_type_params  # type: ignore[attr-defined]


def decodes_text(charset: str) -> bool:
    """Whether `charset` is an encoding bytes can be read as text in (with replacements)."""
    try:
        b"\xff\xfeA".decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError):
        return False
    return True


def _set_content_type_params(request: HttpRequest, meta: dict[str, Any]) -> None:
    # Django 5.2's HttpRequest._set_content_type_params, with decodes_text for codecs.lookup.
    request.content_type, request.content_params = parse_header_parameters(
        meta.get("CONTENT_TYPE", "")
    )
    charset = request.content_params.get("charset")
    if charset and decodes_text(charset):
        request.encoding = charset


def text_charsets_only() -> None:
    """Make every request take its charset as `_set_content_type_params` does (CoreConfig.ready,
    before any request is built). tests/core/test_request_charsets.py checks that every other
    charset is read as Django's own method reads it."""
    HttpRequest._set_content_type_params = _set_content_type_params  # type: ignore[attr-defined]

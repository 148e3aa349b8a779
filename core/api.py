"""The API's one error shape: `{"code", "message", "fields"}`, whatever went wrong; and the
small pieces of DRF the apps' APIs share."""

import copy
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest
from django.utils.dateparse import parse_datetime
from django.utils.http import parse_header_parameters
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import DomainError
from core.models import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class RequestTooLarge(exceptions.APIException):
    """A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE: Django refuses to read it."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is larger than the API reads."


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    response = _error_response(error, context)
    if response is not None:
        # A message may echo what the caller sent (DRF's '"x" is not a valid choice.'), and a
        # JSON string may hold a lone surrogate ("\ud800" in the JSON text), which UTF-8 cannot
        # encode: rendering the 400 would fail, a 500. Such a character is shown escaped.
        response.data = _encodable(response.data)
    return response


def _error_response(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, DomainError):
        return Response(
            {"code": error.code, "message": error.message, "fields": error.fields, **error.shown},
            status=error.http_status,
        )
    # Django's own 404 and 403 become DRF's, so they get the same shape as the rest; and a body
    # Django would not read says so, instead of Django's page for a 400.
    if isinstance(error, Http404):
        error = exceptions.NotFound()
    elif isinstance(error, DjangoPermissionDenied):
        error = exceptions.PermissionDenied()
    elif isinstance(error, RequestDataTooBig):
        error = RequestTooLarge(
            f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
            "the API reads."
        )
    response = drf_exception_handler(error, context)
    if response is None:
        return None  # not an API error: Django's 500 handling (and its logging) takes over
    if isinstance(error, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "message": "The request is not valid: see fields.",
            "fields": flatten_field_errors(error.detail),
        }
    elif isinstance(error, exceptions.APIException):
        response.data = {
            "code": _error_code(error),
            "message": str(error.detail),
            "fields": {},
        }
    return response


def flatten_field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"card": {"number": ["..."]}} → {"card.number": ["..."]}; errors not tied to a field
    are under "non_field_errors"."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for name, value in detail.items():
            flat.update(flatten_field_errors(value, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    if isinstance(detail, list) and detail and isinstance(detail[0], dict | list):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(flatten_field_errors(value, f"{prefix}.{index}"))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def _encodable(data: Any) -> Any:
    """`data` with every character UTF-8 cannot encode (a lone surrogate) backslash-escaped, in
    keys and values alike; the rest as it was."""
    if isinstance(data, dict):
        return {_encodable(key): _encodable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_encodable(value) for value in data]
    if isinstance(data, str):
        try:
            data.encode()
        except UnicodeEncodeError:
            return data.encode(errors="backslashreplace").decode()
    return data


def _error_code(error: exceptions.APIException) -> str:
    codes = error.get_codes()
    if isinstance(codes, str):
        return codes
    return str(getattr(error, "default_code", status.HTTP_400_BAD_REQUEST))


class DecimalJSONParser(JSONParser):
    """JSON numbers become Decimal, never float, so an amount is exact from the first byte.

    The body is read in the charset its Content-Type names, UTF-8 if it names none. A charset
    that is no text encoding is a 415: a name Python does not know (Django would quietly read
    the body as UTF-8 instead), or a codec that is not a text one (hex, base64, zlib, rot13),
    which Django takes and decoding with it fails. A body its charset cannot decode is a 400."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        media_type = media_type or ""
        _, parameters = parse_header_parameters(media_type)
        charset = parameters.get("charset", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(charset), parse_float=Decimal)
        except LookupError:
            raise exceptions.UnsupportedMediaType(
                media_type,
                detail=f'The charset "{charset}" is not a text encoding: send JSON in UTF-8.',
            ) from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error: {error}") from error
        except RecursionError:
            # Arrays or objects nested deeper than the parser goes: no request needs that.
            raise exceptions.ParseError("JSON parse error: nested too deeply.") from None


class NewestFirst(CursorPagination):
    """Cursor pages, newest first: stable under inserts, and no COUNT(*) over a large table.

    Strict, as the schema says: a cursor we did not issue is a 404 (DRF takes an empty one, or
    one that decodes without a position, for the first page, and one whose position is not a
    time crashes the query), and a page size outside 1 to `max_page_size` a 400 (DRF quietly
    uses another)."""

    ordering = ("-created_at", "-pk")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None:
            return None
        # Every cursor we issue holds the created_at it starts from.
        if cursor.position is None or not _is_datetime(str(cursor.position)):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor

    def get_page_size(self, request: Request) -> int:
        asked = request.query_params.get("page_size")
        if asked is None:
            return self.page_size
        if not (asked.isascii() and asked.isdigit() and 1 <= int(asked) <= self.max_page_size):
            raise exceptions.ValidationError(
                {"page_size": [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(asked)


def _is_datetime(text: str) -> bool:
    try:
        return parse_datetime(text) is not None
    except ValueError:  # the shape of one, not a real one: month 13
        return False


# What every list takes beside its filters: its cursor pages (`NewestFirst`).
PAGE_PARAMETERS = ("cursor", "page_size")


class QueryFilters(serializers.Serializer[Any]):
    """A list's query parameters. An unknown value is a 400 naming the parameter, and so is an
    empty one (`?status=`), which DRF's form handling would otherwise take as left out, and so
    is a parameter the list does not take: a filter the caller believes applied, silently
    ignored, would answer with a list they did not ask for. `hints` says, for a parameter
    clients are known to send (another API's shape), what to send instead."""

    hints: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        taken = {*self.fields, *PAGE_PARAMETERS}
        unknown = sorted(str(name) for name in data if name not in taken)
        if unknown:
            default = f"Not a parameter of this list: it takes {', '.join(sorted(taken))}."
            raise exceptions.ValidationError(
                {name: [self.hints.get(name, default)] for name in unknown}
            )
        blank = [str(name) for name in self.fields if data.get(name) == ""]
        if blank:
            raise exceptions.ValidationError({name: ["May not be empty."] for name in blank})
        return super().to_internal_value(data)


# What an amount sent to the API is: a string of ASCII digits, at most the money columns' twelve
# before the point and two after it. Exactly what AmountField accepts, and what the schema says.
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "960.00"}
)
class AmountField(serializers.DecimalField):
    """An amount of money a client sends: a string of digits with an optional point, like "960"
    or "960.00". A JSON number is refused, never rounded: 9.6 is a binary float on the way to
    many clients, and a float is never money. So are an exponent, a sign, spaces and digits
    that are not ASCII ("９６０"), which Python's Decimal would take."""

    default_error_messages = {
        "not_a_string": 'Send the amount as a string of digits, like "960" or "960.00": a JSON '
        "number is not money.",
        "not_digits": 'Digits only, with at most two after a point, like "960" or "960.00".',
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not _AMOUNT.fullmatch(data):
            self.fail("not_digits")
        return super().to_internal_value(data)


class FilterDateTimeField(serializers.DateTimeField):
    """A query's date-time: one that has no UTC equivalent is a 400, not a crash. DRF catches
    the overflow for a time with an offset, not for one read in the local zone:
    0001-01-01T00:00 in Taipei is before year 1 in UTC (bin/fuzz-api's contract fuzzing)."""

    def enforce_timezone(self, value: datetime) -> datetime:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


class FieldsBuiltOnce(serializers.Serializer[Any]):
    """A serializer that builds its fields once per class, not once per instance.

    DRF builds every serializer's fields again for each instance: a ModelSerializer introspects
    its model, and each declared field is deep-copied, which runs the field's `__init__` again.
    For a payment that was most of what its representation costs, in every create's response
    and every page (bench/RESULTS.md). The fields depend on the class alone (its Meta and its
    declarations), so they are built once, kept unbound, and each instance gets copies of its
    own to bind (a field is bound to one serializer: two requests on two threads must not share
    one). A plain field is copied shallowly: binding sets only its own attributes. A field that
    holds a child bound to it (a nested serializer, a list or dict field, a many-related field)
    is deep-copied, as DRF would. Not for a serializer whose fields depend on its context.

    Put it first among the bases: `class PaymentSerializer(FieldsBuiltOnce,
    serializers.ModelSerializer[Payment])`.
    """

    _fields_built: ClassVar[dict[type, dict[str, serializers.Field[Any, Any, Any, Any]]]] = {}

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        built = FieldsBuiltOnce._fields_built
        if type(self) not in built:
            built[type(self)] = super().get_fields()
        return {name: _unbound_copy(field) for name, field in built[type(self)].items()}


def _unbound_copy(field: serializers.Field[Any, Any, Any, Any]) -> Any:
    holds_bound_child = hasattr(field, "child") or hasattr(field, "child_relation")
    if holds_bound_child or isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy(field)
    return copy.copy(field)


def client_address(request: HttpRequest) -> str:
    """The client's address as the API's throttles take it: `TRUSTED_PROXY_COUNT`
    (REST_FRAMEWORK's NUM_PROXIES) hops back along X-Forwarded-For, or the connection's when no
    proxy is trusted. The sign-in lockout counts by it too (AXES_CLIENT_IP_CALLABLE): django-ipware,
    which django-axes uses otherwise, reads X-Forwarded-For from its left, where the client writes
    what it likes (a new address per guess, no lockout ever), and with one proxy finds no address at
    all when the client sent none (one bucket for everyone: five wrong passwords from anywhere
    locked the account out everywhere)."""
    return str(BaseThrottle().get_ident(Request(request)))

"""What every API view's OpenAPI annotations share (drf-spectacular): the error shape and an
example of each error, the Idempotency-Key header, cursor pages, and the Cognito bearer scheme.

The schema is served at /api/schema/ (config/urls.py); SPECTACULAR_SETTINGS is in config/settings.
"""

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from core.api import NewestFirst
from core.idempotency import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidIdempotencyKey


class ErrorSerializer(serializers.Serializer[Any]):
    """Every API error, whatever went wrong (core.api.exception_handler)."""

    code = serializers.CharField(
        help_text="Stable and machine-readable: `invalid`, `not_authenticated`, `not_found`, ..."
    )
    message = serializers.CharField(help_text="For people; may change.")
    # Also the name of Serializer's own `fields` property. DRF's metaclass takes declared fields
    # off the class, so the property still works: only the type checker sees a clash.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each field at fault and its messages: nested fields dotted (`card.number`), "
        "errors not tied to one field under `non_field_errors`. Empty when no field is at fault.",
    )
    payment = serializers.CharField(
        required=False,
        help_text="The payment the error is about, where there is one: the order's payment "
        "under way (`order_payment_in_progress`) or the one that paid it (`order_already_paid`).",
    )


# One example per status. The messages are what DRF and our domain errors really answer.
_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The request is not valid: `fields` says what to fix.",
        {
            "code": "invalid",
            "message": "The request is not valid: see fields.",
            "fields": {"card.number": ["This is not a valid card number."]},
        },
    ),
    401: (
        "No credentials, or credentials that are not valid.",
        {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        },
    ),
    403: (
        "Signed in, but not allowed to do this.",
        {
            "code": "permission_denied",
            "message": "You do not have permission to perform this action.",
            "fields": {},
        },
    ),
    404: (
        "Not found, or not the caller's to see.",
        {"code": "not_found", "message": "Not found.", "fields": {}},
    ),
    405: (
        "The endpoint does not take this method.",
        {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.', "fields": {}},
    ),
    409: (
        "The resource is not in a state that allows this.",
        {
            "code": "illegal_transition",
            "message": "That status change is not allowed.",
            "fields": {},
        },
    ),
    415: (
        "The body is not JSON.",
        {
            "code": "unsupported_media_type",
            "message": 'Unsupported media type "text/plain" in request.',
            "fields": {},
        },
    ),
    422: (
        "The Idempotency-Key was used before with a different request.",
        {
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was already used with a different request.",
            "fields": {},
        },
    ),
    429: (
        "Too many requests: try again after the Retry-After header's seconds.",
        {
            "code": "throttled",
            "message": "Request was throttled. Expected available in 42 seconds.",
            "fields": {},
        },
    ),
    502: (
        "The payment provider answered with an error. Nothing was created.",
        {
            "code": "gateway_error",
            "message": "The payment provider answered with an error.",
            "fields": {},
        },
    ),
    503: (
        "The payment provider cannot be reached. Nothing was created: try again shortly.",
        {
            "code": "gateway_unavailable",
            "message": "The payment provider cannot be reached right now. Try again shortly.",
            "fields": {},
        },
    ),
}


def error_response(
    status: int, *, description: str | None = None, codes: dict[str, str] | None = None
) -> OpenApiResponse:
    """The documented answer for an error status, with examples: the status's usual one, or
    one per error code the operation answers it with (`codes`: code → message)."""
    usual_description, usual_example = _ERRORS[status]
    examples: list[dict[str, Any]] = (
        [{"code": code, "message": message, "fields": {}} for code, message in codes.items()]
        if codes
        else [usual_example]
    )
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description or usual_description,
        examples=[OpenApiExample(example["code"], value=example) for example in examples],
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """`responses` entries for the errors an operation can answer: error_responses(400, 404).
    401 need not be listed: every operation that needs a caller gets it (document_unauthenticated).
    """
    return {status: error_response(status) for status in statuses}


IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    # core.idempotency checks the same: printable ASCII, 255 characters at most.
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string of yours (a UUID, say). A retry with the same key and the same "
    "request replays the first answer instead of moving money again; the same key with another "
    "request answers 422 `idempotency_key_reused`, and a retry while the first request is still "
    "being handled 409 `idempotency_key_in_use`.",
)

CURSOR_PAGE_PARAMETERS = [
    OpenApiParameter(
        name=NewestFirst.cursor_query_param,
        type=str,
        location=OpenApiParameter.QUERY,
        description="Where the page starts: take it from the `next` or `previous` link, never "
        "make one up (an unknown cursor answers 404).",
    ),
    OpenApiParameter(
        name=str(NewestFirst.page_size_query_param),
        type={"type": "integer", "minimum": 1, "maximum": NewestFirst.max_page_size},
        location=OpenApiParameter.QUERY,
        description=f"Items a page: {NewestFirst.page_size} unless asked, "
        f"{NewestFirst.max_page_size} at most.",
    ),
]


def cursor_page(serializer: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    """The schema of a NewestFirst page of `serializer`'s items: {next, previous, results}.
    Call it once per serializer (its component is named after it)."""
    name = serializer.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"Paginated{name}List",
        fields={
            "next": serializers.URLField(
                allow_null=True, help_text="The next page, or null on the last one."
            ),
            "previous": serializers.URLField(
                allow_null=True, help_text="The page before, or null on the first one."
            ),
            "results": serializer(many=True),
        },
    )


# Defining the class registers it (drf-spectacular's __init_subclass__, which is untyped).
class CognitoJWTScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Amazon Cognito tokens: `Authorization: Bearer <JWT>`."""

    # A dotted path, not an import: the schema must generate whether or not the class exists
    # yet, and whether or not the settings list it (`optional` keeps a missing one quiet).
    target_class = "accounts.auth.CognitoJWTAuthentication"
    name = "cognitoJWT"
    optional = True

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (the header's scheme word, not a secret)
            bearer_format="JWT",
        )


class TrustedSessionScheme(SessionScheme):  # type: ignore[no-untyped-call]
    """The session cookie, as DRF's; a session that owes a second factor is refused
    (accounts/auth.py)."""

    target_class = "accounts.auth.TrustedSessionAuthentication"
    optional = True


def document_unauthenticated(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every operation that needs a caller documents its 401, so no view,
    annotated or not, can leave it out. `{}` among an operation's security means anonymous
    callers are let in: those have no 401. The Error component it points at is there: the
    payments API's own error responses use it (and the schema test validates every reference)."""
    description, example = _ERRORS[401]
    unauthenticated = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {"NotAuthenticated": {"value": example}},
            }
        },
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security")
            if security and {} not in security:
                operation["responses"].setdefault("401", unauthenticated)
    return result


def _error(description: str, code: str, message: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {code: {"value": {"code": code, "message": message, "fields": {}}}},
            }
        },
    }


# What an operation can answer for its Idempotency-Key (core.idempotency), whatever else it does.
_IDEMPOTENCY_ERRORS = {
    str(error.http_status): _error(description, error.code, error.default_message)
    for error, description in (
        (InvalidIdempotencyKey, "The Idempotency-Key is empty, too long or not printable ASCII."),
        (
            IdempotencyKeyInUse,
            "A request with this Idempotency-Key is still being handled: try again shortly.",
        ),
        (IdempotencyKeyReused, "This Idempotency-Key was used for another request."),
    )
}
# What a list can answer for its page: a size out of range, a cursor it did not issue.
_PAGE_ERRORS = {
    "400": _error(
        "A query parameter is not valid: `fields` names it (`page_size` is 1 to 100).",
        "invalid",
        "The request is not valid: see fields.",
    ),
    "404": _error("The cursor is not one this list issued.", "not_found", "Invalid cursor"),
}


def document_shared_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every operation that takes an Idempotency-Key documents the errors
    about it (400, 409, 422), and every list that takes a cursor and a page size those (400,
    404), so no view can leave one out. An operation's own entry for a status stays."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            parameters = {(p.get("in"), p.get("name")) for p in operation.get("parameters", [])}
            shared = {}
            if ("header", "Idempotency-Key") in parameters:
                shared.update(_IDEMPOTENCY_ERRORS)
            if ("query", "page_size") in parameters:
                shared.update(_PAGE_ERRORS)
            for status, response in shared.items():
                operation["responses"].setdefault(status, response)
    return result

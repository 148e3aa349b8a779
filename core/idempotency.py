"""The `Idempotency-Key` header: a retried POST replays the first answer instead of running again.

The first request with a key records it "in progress" in a transaction of its own before the
handler runs, so a concurrent copy finds it; once the handler has answered, the record keeps the
status and JSON body to replay. The unique constraint on (user, key) decides every race:
whoever inserts the row handles the request, everyone else reads what the winner wrote.

| the key was...                               | answer                                     |
|----------------------------------------------|--------------------------------------------|
| never seen, or older than the TTL            | the handler runs                           |
| completed, same request                      | the stored answer, `Idempotent-Replayed`   |
| used for another request (body or path)      | 422 `idempotency_key_reused`               |
| in progress, same request                    | 409 `idempotency_key_in_use`: retry later  |
| in progress for longer than the lock seconds | taken over: its request died               |
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import DomainError
from core.models import IdempotencyKey, IdempotencyKeyState

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
# A claim lost to a record that then vanished (its handler failed, or it was taken over) is
# tried again; after this many the client is told to retry.
CLAIM_ATTEMPTS = 3
# Answers the client should retry with the same key, so they are not kept: a conflict of the
# moment (409) and rate limiting (429). 5xx answers are not kept either.
NOT_KEPT_STATUSES = frozenset({409, 429})

ViewT = TypeVar("ViewT", bound=APIView)
P = ParamSpec("P")
Handler = Callable[Concatenate[ViewT, Request, P], Response]


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    default_message = "The Idempotency-Key header is not valid."


class IdempotencyKeyReused(DomainError):
    """The key was used before for another request: replaying its answer would be a guess."""

    code = "idempotency_key_reused"
    http_status = 422
    default_message = "This Idempotency-Key was already used with a different request."


class IdempotencyKeyInUse(DomainError):
    code = "idempotency_key_in_use"
    http_status = 409
    default_message = (
        "A request with this Idempotency-Key is still being handled. Try again shortly."
    )


def idempotent(handler: Handler[ViewT, P]) -> Handler[ViewT, P]:
    """Make a DRF handler method (`def post(self, request, ...)`) honour `Idempotency-Key`.

    Without the header the handler runs as before. The handler must run outside any
    transaction (no ATOMIC_REQUESTS): the claim has to be committed before it starts.
    Raises InvalidIdempotencyKey (400), IdempotencyKeyReused (422), IdempotencyKeyInUse (409).
    """

    @functools.wraps(handler)
    def handle(view: ViewT, request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.headers.get(HEADER)
        user = request.user
        # The views require a signed-in caller; were one to let anyone in, keys are per user.
        if key is None or user is None or not user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        _check_key(key)
        record = idempotency_key_claim(
            user_id=user.pk, key=key, fingerprint=request_fingerprint(request)
        )
        if record.state == IdempotencyKeyState.COMPLETED:
            return Response(
                record.response_body,
                status=record.response_status,
                headers={REPLAYED_HEADER: "true"},
            )
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            # Nothing to replay: the client may try again (the payment's own key still
            # guards the money).
            idempotency_key_release(record_id=record.pk)
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT_STATUSES:
            idempotency_key_release(record_id=record.pk)
        else:
            body = response.data
            if body is not None:
                # What the client gets, as JSON (Decimals, dates and lazy text rendered).
                body = json.loads(JSONRenderer().render(body))
            idempotency_key_complete(record_id=record.pk, status=response.status_code, body=body)
        return response

    return handle


def request_fingerprint(request: Request) -> str:
    """sha256 of method, path and raw body: the request is recognised, never stored."""
    digest = hashlib.sha256()
    for part in (str(request.method).encode(), request.path.encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))  # lengths first: parts cannot run together
        digest.update(part)
    return digest.hexdigest()


def idempotency_key_claim(*, user_id: int, key: str, fingerprint: str) -> IdempotencyKey:
    """Claim `key` for a request, or find the answer it already has.

    Returns a new record in progress (committed: the caller now handles the request) or a
    completed one of the same request (the caller replays it). A record older than the TTL, or
    in progress for longer than the lock seconds, is deleted and the claim tried again.
    Raises IdempotencyKeyReused or IdempotencyKeyInUse.
    """
    key_digest = hashlib.sha256(key.encode()).hexdigest()
    for _attempt in range(CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user_id=user_id, key=key, key_digest=key_digest, fingerprint=fingerprint
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user_id=user_id, key_digest=key_digest).first()
        if existing is None:
            continue  # released between our insert and our read
        if _expired(existing) or _abandoned(existing):
            # By primary key: a record someone else has just claimed in its place stays.
            IdempotencyKey.objects.filter(pk=existing.pk).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyKeyState.IN_PROGRESS:
            raise IdempotencyKeyInUse()
        return existing
    raise IdempotencyKeyInUse()


def idempotency_key_complete(*, record_id: int, status: int, body: object) -> None:
    """Keep the answer of a claimed key for replays. A record taken over meanwhile is left be."""
    IdempotencyKey.objects.filter(pk=record_id, state=IdempotencyKeyState.IN_PROGRESS).update(
        state=IdempotencyKeyState.COMPLETED,
        response_status=status,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_key_release(*, record_id: int) -> None:
    """Forget a claimed key whose request left nothing to replay, so the client can retry."""
    IdempotencyKey.objects.filter(pk=record_id, state=IdempotencyKeyState.IN_PROGRESS).delete()


def idempotency_keys_purge_expired() -> int:
    """Delete the keys older than the TTL (they already count as absent); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _check_key(key: str) -> None:
    problem = None
    if not key.strip():
        problem = "Must not be empty."
    elif len(key) > KEY_MAX_LENGTH:
        problem = f"At most {KEY_MAX_LENGTH} characters."
    elif not all(" " <= character <= "~" for character in key):
        problem = "Only printable ASCII characters."
    if problem:
        raise InvalidIdempotencyKey(fields={HEADER: [problem]})


def _expired(record: IdempotencyKey) -> bool:
    age = timezone.now() - record.created_at
    return age > timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)


def _abandoned(record: IdempotencyKey) -> bool:
    """In progress for so long that its request must have died (a killed worker never
    releases its key)."""
    age = timezone.now() - record.created_at
    return record.state == IdempotencyKeyState.IN_PROGRESS and age > timedelta(
        seconds=settings.IDEMPOTENCY_KEY_LOCK_SECONDS
    )

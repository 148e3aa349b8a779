"""The card provider's JSON API as the simulator serves it (development and tests only).

Every request carries `Authorization: Bearer <CARD_PROVIDER_API_KEY>`. Amounts travel as decimal
strings. Errors answer `{"code", "message"}`: 400 for a request the provider refuses, 401 for a
wrong key, 402 for a declined charge, 404 for a charge lookup that finds nothing, 503 for a
transient failure (nothing was recorded).
"""

import json
import random
import re
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.models import Currency
from gateways.card.simulator import cards
from gateways.card.simulator.models import (
    SimulatedCardToken,
    SimulatedCharge,
    SimulatedChargeStatus,
    SimulatedRefund,
)
from gateways.card.validation import card_number_valid

View = Callable[[HttpRequest], HttpResponse]


class _BadRequest(Exception):
    """The provider refuses the request as sent: answered 400 with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _provider_endpoint(view: View) -> View:
    """Checks the bearer key and answers a _BadRequest with 400, as every endpoint does."""

    @wraps(view)
    def endpoint(request: HttpRequest) -> HttpResponse:
        key = settings.CARD_PROVIDER_API_KEY
        given = request.headers.get("Authorization", "")
        # No key configured: refuse everyone, never the caller who sends an empty one.
        if not key or not secrets.compare_digest(given, f"Bearer {key}"):
            return _error(401, "unauthorized", "Missing or wrong API key.")
        try:
            return view(request)
        except _BadRequest as refusal:
            return _error(400, refusal.code, str(refusal))

    # Called by servers with a bearer key, never by a browser with a session.
    return csrf_exempt(endpoint)


@_provider_endpoint
@require_POST
def tokens(request: HttpRequest) -> HttpResponse:
    """Tokenize a card. Keeps its brand, last four digits, expiry and script; never the number
    or the CVC, which appear in no error message either."""
    body = _json_body(request)
    number = _text(body, "number", max_length=19)
    exp_month = _integer(body, "exp_month")
    exp_year = _integer(body, "exp_year")
    cvc = _text(body, "cvc", max_length=4)
    brand = cards.brand_of(number) if card_number_valid(number) else None
    if brand is None:
        raise _BadRequest("invalid_number", "The card number is not valid.")
    if not _expiry_valid(exp_month, exp_year):
        raise _BadRequest("invalid_expiry", "The card has expired or its expiry is not valid.")
    if not re.fullmatch(r"[0-9]{3,4}", cvc):
        raise _BadRequest("invalid_cvc", "The CVC must be 3 or 4 digits.")
    script = cards.script_for(number)
    card = SimulatedCardToken.objects.create(
        token=_new_id("tok"),
        brand=brand,
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        outcome=script.outcome,
        transient_failures_left=script.transient_failures,
    )
    return JsonResponse(
        {
            "token": card.token,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
        status=201,
    )


@_provider_endpoint
@require_http_methods(["GET", "POST"])
def charges(request: HttpRequest) -> HttpResponse:
    """POST charges a token; GET ?idempotency_key=... finds the charge made with that key."""
    if request.method == "GET":
        return _charge_find(request)
    return _charge_create(request)


def _charge_find(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("idempotency_key", "")
    if not key:
        raise _BadRequest("invalid_request", "idempotency_key is required.")
    charge = SimulatedCharge.objects.filter(idempotency_key=key).first()
    if charge is None:
        return _error(404, "charge_not_found", "No charge was made with that idempotency key.")
    return JsonResponse(_charge_json(charge))


def _charge_create(request: HttpRequest) -> HttpResponse:
    """Charge once per idempotency key: a repeat answers with the first outcome."""
    if _random_outage():
        return _error(503, "unavailable", "Simulated outage: nothing was charged.")
    body = _json_body(request)
    key = _text(body, "idempotency_key", max_length=64)
    token = _text(body, "token", max_length=64)
    amount = _amount(body)
    currency = _currency(body)
    description = _text(body, "description", max_length=255, required=False)

    existing = SimulatedCharge.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _charge_answer(existing, status=200)
    card = SimulatedCardToken.objects.filter(token=token).first()
    if card is None:
        raise _BadRequest("unknown_token", "No card has that token.")
    if _transient_failure_taken(card):
        return _error(503, "unavailable", "Simulated transient failure: nothing was charged.")

    declined = card.outcome in cards.DECLINE_OUTCOMES
    status = SimulatedChargeStatus.DECLINED if declined else SimulatedChargeStatus.SUCCEEDED
    try:
        with transaction.atomic():
            charge = SimulatedCharge.objects.create(
                charge_id=_new_id("ch"),
                idempotency_key=key,
                card=card,
                amount=amount,
                currency=currency,
                description=description,
                status=status,
                decline_code=card.outcome if declined else "",
            )
    except IntegrityError:
        # The same key arrived twice at once and the other request recorded the charge first.
        return _charge_answer(SimulatedCharge.objects.get(idempotency_key=key), status=200)
    if card.outcome == cards.Outcome.APPROVE_THEN_STALL:
        # The charge is recorded and committed; the caller gives up before hearing about it.
        time.sleep(settings.CARD_SIMULATOR_SLOW_SECONDS)
    return _charge_answer(charge, status=201)


@_provider_endpoint
@require_POST
def refunds(request: HttpRequest) -> HttpResponse:
    """Refund part or all of what is left of a charge, once per idempotency key."""
    body = _json_body(request)
    key = _text(body, "idempotency_key", max_length=64)
    charge_id = _text(body, "charge_id", max_length=64)
    amount = _amount(body)
    currency = _currency(body)
    with transaction.atomic():
        # The charge's row lock makes refunds of one charge take turns, so two at once cannot
        # both fit into what is left of it.
        charge = (
            SimulatedCharge.objects.select_for_update()
            .filter(charge_id=charge_id, status=SimulatedChargeStatus.SUCCEEDED)
            .first()
        )
        if charge is None:
            raise _BadRequest("unknown_charge", "No succeeded charge has that id.")
        existing = SimulatedRefund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return JsonResponse(_refund_json(existing))
        if currency != charge.currency:
            raise _BadRequest("currency_mismatch", "The currency is not the charge's.")
        if amount > charge.amount - charge.refunded_amount:
            raise _BadRequest("amount_too_large", "The amount exceeds what is left to refund.")
        refund = SimulatedRefund.objects.create(
            refund_id=_new_id("re"),
            idempotency_key=key,
            charge=charge,
            amount=amount,
            currency=currency,
        )
        charge.refunded_amount += amount
        charge.save(update_fields=["refunded_amount", "updated_at"])
    return JsonResponse(_refund_json(refund), status=201)


def _random_outage() -> bool:
    rate: float = settings.CARD_SIMULATOR_TRANSIENT_FAILURE_RATE
    # Not security: the share of failures only needs to look random in a demo.
    return random.random() < rate  # noqa: S311


def _transient_failure_taken(card: SimulatedCardToken) -> bool:
    """Whether this attempt is one of the card's scripted 503s. Counted in one UPDATE, so
    concurrent attempts never take the same failure."""
    taken = SimulatedCardToken.objects.filter(pk=card.pk, transient_failures_left__gt=0).update(
        transient_failures_left=F("transient_failures_left") - 1
    )
    return taken == 1


def _charge_answer(charge: SimulatedCharge, *, status: int) -> HttpResponse:
    if charge.status == SimulatedChargeStatus.DECLINED:
        return _error(
            402, charge.decline_code, "The card was declined.", charge_id=charge.charge_id
        )
    return JsonResponse(_charge_json(charge), status=status)


def _charge_json(charge: SimulatedCharge) -> dict[str, Any]:
    return {
        "id": charge.charge_id,
        "idempotency_key": charge.idempotency_key,
        "status": charge.status,
        "decline_code": charge.decline_code,
        "amount": _money_text(charge.amount),
        "currency": charge.currency,
        "refunded_amount": _money_text(charge.refunded_amount),
    }


def _refund_json(refund: SimulatedRefund) -> dict[str, Any]:
    return {
        "id": refund.refund_id,
        "charge_id": refund.charge.charge_id,
        "amount": _money_text(refund.amount),
        "currency": refund.currency,
    }


def _error(status: int, code: str, message: str, **extra: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _money_text(amount: Decimal) -> str:
    return format(amount, "f")


def _expiry_valid(month: int, year: int) -> bool:
    """A card is valid to the end of its expiry month, and none is issued for over 20 years."""
    today = timezone.localdate()
    in_range = 1 <= month <= 12 and year <= today.year + 20
    return in_range and (year, month) >= (today.year, today.month)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except ValueError:
        raise _BadRequest("invalid_request", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise _BadRequest("invalid_request", "The body is not a JSON object.")
    return body


def _text(body: dict[str, Any], name: str, *, max_length: int, required: bool = True) -> str:
    value = body.get(name, None if required else "")
    if not isinstance(value, str) or (required and not value) or len(value) > max_length:
        raise _BadRequest(
            "invalid_request", f"{name} must be a string of at most {max_length} characters."
        )
    return value


def _integer(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    # JSON true and false are ints to Python; they are not numbers here.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadRequest("invalid_request", f"{name} must be an integer.")
    return value


def _amount(body: dict[str, Any]) -> Decimal:
    """A positive amount sent as a string (never a float), within the precision of MoneyField."""
    value = body.get("amount")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,2})?", value):
        amount = Decimal(value)
        if amount > 0:
            return amount
    raise _BadRequest("invalid_amount", "amount must be a positive decimal string.")


def _currency(body: dict[str, Any]) -> str:
    value = body.get("currency")
    if not isinstance(value, str) or value not in Currency.values:
        raise _BadRequest("invalid_currency", "currency is not one the provider takes.")
    return value

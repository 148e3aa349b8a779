"""HTTP client of the card provider: the only code that knows its paths, fields and status codes.

Failures come out as the typed errors of `gateways.base`. Their messages never carry card data:
no request body goes into one.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from gateways.base import (
    CardDetails,
    CardToken,
    ChargeRequest,
    ChargeResult,
    OutcomeUnknownError,
    PaymentDeclinedError,
    PermanentGatewayError,
    RefundRequest,
    RefundResult,
    TransientGatewayError,
)
from gateways.http import failed_to_connect
from gateways.metrics import measured

Json = dict[str, Any]

# Its name in the metrics: Gateway.CARD.
GATEWAY = "card"


class CardProviderClient:
    """The card provider over HTTP. Holds no connection: each call is one request."""

    def __init__(
        self, *, base_url: str, api_key: str, connect_timeout: float, read_timeout: float
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = (connect_timeout, read_timeout)

    @measured(GATEWAY, "tokenize")
    def tokenize(self, card: CardDetails) -> CardToken:
        """Exchange card details for a token. A card the provider refuses (not valid, expired,
        a network it does not take) raises PaymentDeclinedError: the customer must use another."""
        response = self._send(
            "POST",
            "v1/tokens",
            json={
                "number": card.number,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "cvc": card.cvc,
            },
        )
        if response.status_code == 400:
            code = _error_code(response) or "invalid_card"
            raise PaymentDeclinedError(f"The card provider refused the card: {code}.", code=code)
        body = _answer(response)
        return CardToken(
            token=_text(body, "token"),
            brand=_text(body, "brand"),
            last4=_text(body, "last4"),
            exp_month=_integer(body, "exp_month"),
            exp_year=_integer(body, "exp_year"),
        )

    @measured(GATEWAY, "charge")
    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge a token, at most once per idempotency key: a repeat answers as the first did.

        Raises PaymentDeclinedError (its code says why), TransientGatewayError (nothing was
        charged: retry), OutcomeUnknownError (ask `find_charge`, never charge with a new key) or
        PermanentGatewayError.
        """
        body = _answer(
            self._send(
                "POST",
                "v1/charges",
                json={
                    "token": request.token,
                    "amount": _money_text(request.amount),
                    "currency": request.currency,
                    "idempotency_key": request.idempotency_key,
                    "description": request.description,
                },
            )
        )
        return _charge_result(body)

    @measured(GATEWAY, "find_charge")
    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        """The charge made with this key, or None if the provider never recorded one.

        A charge the provider declined raises PaymentDeclinedError, as charging did. Failing to
        ask raises the same errors as `charge`.
        """
        response = self._send("GET", "v1/charges", params={"idempotency_key": idempotency_key})
        # Only the provider's own "no such charge" proves nothing was charged: any other 404
        # (a wrong CARD_PROVIDER_URL) must not pass for it.
        if response.status_code == 404 and _error_code(response) == "charge_not_found":
            return None
        return _charge_result(_answer(response))

    @measured(GATEWAY, "refund")
    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a charge, at most once per idempotency key. More than what is
        left of the charge raises PermanentGatewayError."""
        body = _answer(
            self._send(
                "POST",
                "v1/refunds",
                json={
                    "charge_id": request.charge_id,
                    "amount": _money_text(request.amount),
                    "currency": request.currency,
                    "idempotency_key": request.idempotency_key,
                },
            )
        )
        return RefundResult(refund_id=_text(body, "id"), amount=_money(body, "amount"))

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send one request and return whatever status it answered with.

        Raises TransientGatewayError when the request cannot have reached the provider and
        OutcomeUnknownError when it may have: when unsure, unknown, which is settled by asking
        rather than by sending again.
        """
        try:
            return requests.request(
                method,
                f"{self._base_url}/{path}",
                json=json,
                params=params,
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout as error:
            raise TransientGatewayError("The card provider did not accept a connection.") from error
        except requests.ConnectionError as error:
            if failed_to_connect(error):
                raise TransientGatewayError("Could not connect to the card provider.") from error
            raise OutcomeUnknownError("The connection broke after the request was sent.") from error
        except (
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as error:
            raise OutcomeUnknownError("The card provider's answer did not arrive.") from error
        except requests.RequestException as error:
            # What is left fails before sending: a malformed URL or request, ours to fix.
            raise PermanentGatewayError("The request could not be sent.") from error


def _answer(response: requests.Response) -> Json:
    """The JSON object of a successful answer; the typed error for any other."""
    status = response.status_code
    if status == 402:
        code = _text(_json(response), "code")
        raise PaymentDeclinedError(f"The card provider declined the payment: {code}.", code=code)
    if status == 429 or status >= 500:
        raise TransientGatewayError(f"The card provider answered HTTP {status}: try again later.")
    if not 200 <= status < 300:
        raise PermanentGatewayError(
            f"The card provider refused the request: HTTP {status} {_error_code(response)}."
        )
    return _json(response)


def _charge_result(body: Json) -> ChargeResult:
    status = body.get("status")
    if status == "declined":
        code = _text(body, "decline_code")
        raise PaymentDeclinedError(f"The card provider declined the payment: {code}.", code=code)
    if status != "succeeded":
        raise _malformed("status")
    return ChargeResult(
        charge_id=_text(body, "id"),
        amount=_money(body, "amount"),
        currency=_text(body, "currency"),
    )


def _json(response: requests.Response) -> Json:
    try:
        body = response.json()
    except requests.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise PermanentGatewayError(
            f"The card provider's answer (HTTP {response.status_code}) is not a JSON object."
        )
    return body


def _error_code(response: requests.Response) -> str:
    """The provider's error code, for messages and checks; empty if the answer has none."""
    try:
        code = response.json().get("code")
    except (requests.JSONDecodeError, AttributeError):
        return ""
    return code if isinstance(code, str) else ""


def _text(body: Json, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _malformed(name)
    return value


def _integer(body: Json, name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(name)
    return value


def _money(body: Json, name: str) -> Decimal:
    """Amounts arrive as decimal strings; a JSON number would have passed through a float."""
    try:
        amount = Decimal(_text(body, name))
    except InvalidOperation:
        raise _malformed(name) from None
    if not amount.is_finite():
        raise _malformed(name)
    return amount


def _money_text(amount: Decimal) -> str:
    # Fixed-point: str() would write some amounts with an exponent ("1E+3").
    return format(amount, "f")


def _malformed(name: str) -> PermanentGatewayError:
    return PermanentGatewayError(f"The card provider's answer has no valid {name!r}.")

"""ECPay as the simulator plays it (development and tests only), for the one merchant settings
configure (ECPAY_MERCHANT_ID, ECPAY_HASH_KEY, ECPAY_HASH_IV):

- `Cashier/AioCheckOut/V5`: the customer's browser posts the checkout form; the page answering it
  has the buttons a customer presses at ECPay.
- `trades/<TradeNo>/...`: those buttons. Each decides what becomes of the trade and sends the
  notifications ECPay would (delivery.py). A barcode paid at the store is reported about two
  days later, as at ECPay (ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS); `send-result` sends
  a held result now, as if those days had passed.
- `Cashier/QueryTradeInfo/V5`: what the simulator knows of a trade, signed.
- `faults`: switch the injected faults with a JSON object (models.set_faults in-process).
"""

import json
import secrets
import string
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gateways.ecpay import ecpay_config
from gateways.ecpay.checkout import (
    AMOUNT_RANGES,
    CODE_VALIDITY,
    DATETIME_FORMAT,
    MERCHANT_TRADE_NO,
    TAIPEI,
    EcpayMethod,
)
from gateways.ecpay.messages import RtnCode
from gateways.ecpay.signature import check_mac_matches, check_mac_value
from gateways.ecpay.simulator.delivery import Notification, notifications_send
from gateways.ecpay.simulator.models import (
    SimulatedEcpayFaults,
    SimulatedEcpayTrade,
    SimulatedEcpayTradeStatus,
    set_faults,
)

Status = SimulatedEcpayTradeStatus

_REQUIRED = (
    "MerchantID",
    "MerchantTradeNo",
    "MerchantTradeDate",
    "PaymentType",
    "TotalAmount",
    "TradeDesc",
    "ItemName",
    "ReturnURL",
    "ChoosePayment",
    "EncryptType",
)
# The longest value ECPay takes in each field (ItemName it cuts to 400 instead).
_MAX_LENGTHS = {
    "TradeDesc": 200,
    "ReturnURL": 200,
    "OrderResultURL": 200,
    "ClientBackURL": 200,
    "PaymentInfoURL": 200,
    "CustomField1": 50,
    "CustomField2": 50,
    "CustomField3": 50,
    "CustomField4": 50,
}
_CARD_METHODS = (EcpayMethod.CREDIT, EcpayMethod.ALL)
_CODE_METHODS = (EcpayMethod.ATM, EcpayMethod.CVS, EcpayMethod.BARCODE)
# ECPay's defaults when a form leaves the code's validity out.
_DEFAULT_VALIDITY = {EcpayMethod.ATM: 3, EcpayMethod.CVS: 10_080, EcpayMethod.BARCODE: 7}
# PaymentType once the customer paid: ALL is paid by card in the simulator.
_PAYMENT_TYPES = {
    EcpayMethod.CREDIT: "Credit_CreditCard",
    EcpayMethod.ALL: "Credit_CreditCard",
    EcpayMethod.ATM: "ATM_TAISHIN",
    EcpayMethod.CVS: "CVS_CVS",
    EcpayMethod.BARCODE: "BARCODE_BARCODE",
}
# Taishin's bank code, as ATM_TAISHIN says.
_ATM_BANK_CODE = "812"
# ECPay's RtnCode for a card payment the bank refused.
_CARD_FAILED = 10100058
# QueryTradeInfo's TradeStatus for each state of a trade, and for a trade it does not know.
_TRADE_STATUSES = {
    Status.AWAITING: "0",
    Status.CODE_ISSUED: "0",
    Status.PAID: "1",
    Status.FAILED: "10200095",
}
_TRADE_NOT_FOUND = "10200047"
# How far a query's TimeStamp may be from now.
_TIMESTAMP_TOLERANCE_SECONDS = 180
# The bad_mac fault signs with this, a key no merchant has.
_WRONG_HASH_KEY = "NotTheMerchantKey"


class _Refused(Exception):
    """ECPay refuses what was posted: answered with an error page (HTTP 400) saying why."""


@csrf_exempt  # the customer's browser posts the form from the merchant's site, as to ECPay
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    try:
        trade = _trade_create(request.POST.dict())
    except _Refused as refusal:
        return _error_page(request, refusal)
    return _trade_page(request, trade)


@require_GET
def trade_detail(request: HttpRequest, trade_no: str) -> HttpResponse:
    return _trade_page(request, get_object_or_404(SimulatedEcpayTrade, trade_no=trade_no))


# The buttons are csrf_exempt: the simulator has no accounts to protect, and scripts press them.


@csrf_exempt
@require_POST
def trade_pay(request: HttpRequest, trade_no: str) -> HttpResponse:
    """Credit / ALL: the card payment goes through."""
    return _card_result(request, trade_no, paid=True)


@csrf_exempt
@require_POST
def trade_fail(request: HttpRequest, trade_no: str) -> HttpResponse:
    """Credit / ALL: the bank refuses the card."""
    return _card_result(request, trade_no, paid=False)


@csrf_exempt
@require_POST
def trade_issue_code(request: HttpRequest, trade_no: str) -> HttpResponse:
    """ATM / CVS / BARCODE: ECPay issues the account or code the customer is to pay with."""
    trade = get_object_or_404(SimulatedEcpayTrade, trade_no=trade_no)
    faults = SimulatedEcpayFaults.current()
    try:
        trade = _trade_move(
            trade,
            methods=_CODE_METHODS,
            from_status=Status.AWAITING,
            status=Status.CODE_ISSUED,
            payment_type=_PAYMENT_TYPES[EcpayMethod(trade.method)],
            code_notification_held=faults.out_of_order,
            **_new_payment_code(trade),
        )
    except _Refused as refusal:
        return _error_page(request, refusal)
    if not faults.out_of_order:
        notifications_send(
            trade_id=trade.pk, notifications=_code_notifications(trade, faults), faults=faults
        )
    return redirect("ecpay_simulator:trade", trade_no=trade.trade_no)


@csrf_exempt
@require_POST
def trade_pay_code(request: HttpRequest, trade_no: str) -> HttpResponse:
    """ATM / CVS / BARCODE: the customer pays at the ATM or the store with the issued code.

    As at ECPay, the browser is not sent back to the merchant: the customer paid elsewhere. A
    barcode's result is held for ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS (ECPay: about two
    days), then sent by `send-result`; ATM and CVS results go at once.
    """
    trade = get_object_or_404(SimulatedEcpayTrade, trade_no=trade_no)
    now = timezone.now()
    delay = timedelta(seconds=settings.ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS)
    held_for_days = trade.method == EcpayMethod.BARCODE and delay > timedelta(0)
    try:
        trade = _trade_move(
            trade,
            methods=_CODE_METHODS,
            from_status=Status.CODE_ISSUED,
            status=Status.PAID,
            payment_date=now,
            result_due_at=now + delay if held_for_days else None,
        )
    except _Refused as refusal:
        return _error_page(request, refusal)
    faults = SimulatedEcpayFaults.current()
    held = _code_notifications(trade, faults) if trade.code_notification_held else []
    paid = [] if held_for_days else [_paid_notification(trade, faults)]
    notifications_send(trade_id=trade.pk, notifications=[*paid, *held], faults=faults)
    return redirect("ecpay_simulator:trade", trade_no=trade.trade_no)


@csrf_exempt
@require_POST
def trade_send_result(request: HttpRequest, trade_no: str) -> HttpResponse:
    """BARCODE: send the held result now, as ECPay does about two days after the payment. Its
    PaymentDate is still when the customer paid. Pressed twice, it sends once."""
    trade = get_object_or_404(SimulatedEcpayTrade, trade_no=trade_no)
    sent = SimulatedEcpayTrade.objects.filter(
        pk=trade.pk, status=Status.PAID, result_due_at__isnull=False
    ).update(result_due_at=None, updated_at=timezone.now())
    if not sent:
        return _error_page(request, _Refused("This trade has no result waiting to be sent."))
    trade.refresh_from_db()
    faults = SimulatedEcpayFaults.current()
    notifications_send(
        trade_id=trade.pk, notifications=[_paid_notification(trade, faults)], faults=faults
    )
    return redirect("ecpay_simulator:trade", trade_no=trade.trade_no)


@csrf_exempt  # merchants' servers ask, authenticated by the CheckMacValue
@require_POST
def query_trade_info(request: HttpRequest) -> HttpResponse:
    """QueryTradeInfo V5: the trade's state as a signed `key=value&...` answer."""
    # Read before any answer: a body left unread would keep the connection hanging.
    fields = request.POST.dict()
    faults = SimulatedEcpayFaults.current()
    if faults.query_forbidden:
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    config = ecpay_config()
    if not check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv):
        return _plain_refusal("CheckMacValue Error")
    if fields.get("MerchantID") != config.merchant_id:
        return _plain_refusal("Unknown MerchantID.")
    stamp = fields.get("TimeStamp", "")
    stamp_valid = stamp.isascii() and stamp.isdigit()
    if not stamp_valid or abs(time.time() - int(stamp)) > _TIMESTAMP_TOLERANCE_SECONDS:
        return _plain_refusal("TimeStamp is missing or expired.")
    merchant_trade_no = fields.get("MerchantTradeNo", "")
    trade = SimulatedEcpayTrade.objects.filter(merchant_trade_no=merchant_trade_no).first()
    if trade is None:
        answer = {
            "MerchantID": config.merchant_id,
            "MerchantTradeNo": merchant_trade_no,
            "TradeStatus": _TRADE_NOT_FOUND,
            "TradeAmt": "0",
        }
    else:
        answer = _query_fields(trade)
    return HttpResponse(
        urlencode(_signed(answer, faults)), content_type="text/plain; charset=utf-8"
    )


@csrf_exempt  # merchants' servers ask, authenticated by the CheckMacValue
@require_POST
def credit_do_action(request: HttpRequest) -> HttpResponse:
    """CreditDetail/DoAction, Action R only: refund part or all of a paid card trade."""
    fields = request.POST.dict()
    config = ecpay_config()
    if not check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv):
        return _plain_refusal("CheckMacValue Error")
    answer = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": fields.get("MerchantTradeNo", ""),
        "TradeNo": fields.get("TradeNo", ""),
    }
    with transaction.atomic():
        trade = (
            SimulatedEcpayTrade.objects.select_for_update()
            .filter(
                merchant_trade_no=answer["MerchantTradeNo"],
                trade_no=answer["TradeNo"],
                merchant_id=fields.get("MerchantID"),
            )
            .first()
        )
        refusal = _refund_refusal(trade, fields)
        if refusal is None and trade is not None:
            trade.refunded_amount += int(fields["TotalAmount"])
            trade.save(update_fields=["refunded_amount", "updated_at"])
    rtn = {"RtnCode": "1", "RtnMsg": "Succeeded"} if refusal is None else refusal
    return HttpResponse(urlencode({**answer, **rtn}), content_type="text/plain; charset=utf-8")


def _refund_refusal(
    trade: SimulatedEcpayTrade | None, fields: dict[str, str]
) -> dict[str, str] | None:
    """Why ECPay would refuse this refund (its RtnCode and RtnMsg), or None."""
    if fields.get("Action") != "R":
        return {"RtnCode": "10100100", "RtnMsg": "The simulator refunds only (Action R)."}
    if trade is None:
        return {"RtnCode": "10100101", "RtnMsg": "No such trade."}
    if trade.status != Status.PAID or EcpayMethod(trade.method) not in _CARD_METHODS:
        return {"RtnCode": "10100102", "RtnMsg": "Only a paid card trade is refunded."}
    amount = fields.get("TotalAmount", "")
    if not (amount.isascii() and amount.isdigit()) or int(amount) <= 0:
        return {"RtnCode": "10100103", "RtnMsg": "TotalAmount is not a whole amount."}
    if int(amount) > trade.amount - trade.refunded_amount:
        return {"RtnCode": "10100104", "RtnMsg": "TotalAmount exceeds what is left to refund."}
    return None


@csrf_exempt  # tests running the simulator in another process switch faults here
@require_POST
def faults_set(request: HttpRequest) -> HttpResponse:
    """Set the faults from a JSON object, as set_faults does (unnamed ones off); answers them."""
    try:
        flags = json.loads(request.body)
        if not isinstance(flags, dict):
            raise ValueError("The body must be a JSON object.")
        faults = set_faults(**flags)
    except (ValueError, TypeError, ValidationError) as error:
        return JsonResponse({"message": str(error)}, status=400)
    return JsonResponse(model_to_dict(faults, exclude=["id"]))


def _trade_create(fields: dict[str, str]) -> SimulatedEcpayTrade:
    """Check the posted checkout form as ECPay does and record the trade; _Refused says why not."""
    config = ecpay_config()
    if not check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv):
        raise _Refused("CheckMacValue Error")
    missing = [name for name in _REQUIRED if not fields.get(name)]
    if missing:
        raise _Refused(f"Required but missing: {', '.join(missing)}.")
    too_long = [name for name, most in _MAX_LENGTHS.items() if len(fields.get(name, "")) > most]
    if too_long:
        raise _Refused(f"Too long: {', '.join(too_long)}.")
    if fields["MerchantID"] != config.merchant_id:
        raise _Refused("Unknown MerchantID.")
    if not MERCHANT_TRADE_NO.fullmatch(fields["MerchantTradeNo"]):
        raise _Refused("MerchantTradeNo must be 1 to 20 letters and digits.")
    if fields["PaymentType"] != "aio" or fields["EncryptType"] != "1":
        raise _Refused("PaymentType must be aio and EncryptType 1.")
    if fields["ChoosePayment"] not in set(EcpayMethod):
        raise _Refused("ChoosePayment is not a payment method the simulator offers.")
    try:
        datetime.strptime(fields["MerchantTradeDate"], DATETIME_FORMAT).replace(tzinfo=TAIPEI)
    except ValueError:
        raise _Refused("MerchantTradeDate must be yyyy/MM/dd HH:mm:ss.") from None
    method = EcpayMethod(fields["ChoosePayment"])
    amount = _positive_integer(fields, "TotalAmount")
    if method in AMOUNT_RANGES:
        low, high = AMOUNT_RANGES[method]
        if not low <= amount <= high:
            raise _Refused(f"TotalAmount for {method.value} must be {low} to {high}.")
    validity = {"ExpireDate": 3, "StoreExpireDate": 10_080}
    if method in CODE_VALIDITY:
        rule = CODE_VALIDITY[method]
        value = _positive_integer(fields, rule.field, default=_DEFAULT_VALIDITY[method])
        if not rule.low <= value <= rule.high:
            raise _Refused(
                f"{rule.field} for {method.value} is in {rule.unit}, {rule.low} to {rule.high}."
            )
        validity[rule.field] = value
    try:
        with transaction.atomic():
            return SimulatedEcpayTrade.objects.create(
                merchant_trade_no=fields["MerchantTradeNo"],
                trade_no=_new_trade_no(),
                merchant_id=fields["MerchantID"],
                amount=amount,
                # ECPay cuts a longer ItemName itself.
                item_name=fields["ItemName"][:400],
                trade_desc=fields["TradeDesc"],
                method=fields["ChoosePayment"],
                return_url=fields["ReturnURL"],
                order_result_url=fields.get("OrderResultURL", ""),
                client_back_url=fields.get("ClientBackURL", ""),
                payment_info_url=fields.get("PaymentInfoURL", ""),
                custom_field1=fields.get("CustomField1", ""),
                custom_field2=fields.get("CustomField2", ""),
                custom_field3=fields.get("CustomField3", ""),
                custom_field4=fields.get("CustomField4", ""),
                atm_expire_days=validity["ExpireDate"],
                store_expire_date=validity["StoreExpireDate"],
            )
    except IntegrityError:
        raise _Refused("MerchantTradeNo has been used before.") from None


def _trade_move(
    trade: SimulatedEcpayTrade,
    *,
    methods: tuple[EcpayMethod, ...],
    from_status: str,
    **changes: Any,
) -> SimulatedEcpayTrade:
    """Apply `changes` if the trade is one of `methods` and still in `from_status`, else _Refused.

    One conditional UPDATE: a button pressed twice, or two buttons at once, counts once.
    """
    moved = SimulatedEcpayTrade.objects.filter(
        pk=trade.pk, method__in=methods, status=from_status
    ).update(updated_at=timezone.now(), **changes)
    if not moved:
        raise _Refused(f"This trade ({trade.get_status_display()}) cannot do that now.")
    return SimulatedEcpayTrade.objects.get(pk=trade.pk)


def _card_result(request: HttpRequest, trade_no: str, *, paid: bool) -> HttpResponse:
    """Settle a card payment, notify ReturnURL, and send the browser to OrderResultURL."""
    trade = get_object_or_404(SimulatedEcpayTrade, trade_no=trade_no)
    try:
        trade = _trade_move(
            trade,
            methods=_CARD_METHODS,
            from_status=Status.AWAITING,
            status=Status.PAID if paid else Status.FAILED,
            payment_type=_PAYMENT_TYPES[EcpayMethod(trade.method)],
            payment_date=timezone.now(),
        )
    except _Refused as refusal:
        return _error_page(request, refusal)
    faults = SimulatedEcpayFaults.current()
    if paid:
        notification = _paid_notification(trade, faults)
    else:
        fields = _result_fields(trade, rtn_code=_CARD_FAILED, rtn_msg="Payment failed")
        notification = Notification(url=trade.return_url, fields=_signed(fields, faults))
    notifications_send(trade_id=trade.pk, notifications=[notification], faults=faults)
    if faults.drop_notifications or not trade.order_result_url:
        # As if the customer closed the page: the trade page keeps a way back to the shop.
        return redirect("ecpay_simulator:trade", trade_no=trade.trade_no)
    return render(
        request,
        "simulators/ecpay/order_result.html",
        {"action": trade.order_result_url, "fields": notification.fields},
    )


def _paid_notification(trade: SimulatedEcpayTrade, faults: SimulatedEcpayFaults) -> Notification:
    fields = _result_fields(trade, rtn_code=RtnCode.PAID, rtn_msg="Succeeded")
    if faults.simulate_paid:
        fields["SimulatePaid"] = "1"
    return Notification(url=trade.return_url, fields=_signed(fields, faults))


def _result_fields(trade: SimulatedEcpayTrade, *, rtn_code: int, rtn_msg: str) -> dict[str, str]:
    """The payment result notification (ReturnURL, and the browser's OrderResultURL)."""
    return {
        "MerchantID": trade.merchant_id,
        "MerchantTradeNo": trade.merchant_trade_no,
        "StoreID": "",
        "RtnCode": str(rtn_code),
        "RtnMsg": rtn_msg,
        "TradeNo": trade.trade_no,
        "TradeAmt": _whole(trade),
        "PaymentDate": _ecpay_time(trade.payment_date or timezone.now()),
        "PaymentType": trade.payment_type,
        "PaymentTypeChargeFee": "0",
        "TradeDate": _ecpay_time(trade.created_at),
        "SimulatePaid": "0",
        **_custom_fields(trade),
    }


def _code_notifications(
    trade: SimulatedEcpayTrade, faults: SimulatedEcpayFaults
) -> list[Notification]:
    """The payment-code notification, if the form gave a PaymentInfoURL to send it to."""
    if not trade.payment_info_url:
        return []
    atm = trade.method == EcpayMethod.ATM
    fields = {
        "MerchantID": trade.merchant_id,
        "MerchantTradeNo": trade.merchant_trade_no,
        "StoreID": "",
        "RtnCode": str(RtnCode.ATM_CODE_ISSUED if atm else RtnCode.CVS_CODE_ISSUED),
        "RtnMsg": "Get VirtualAccount Succeeded" if atm else "Get CVS Code Succeeded.",
        "TradeNo": trade.trade_no,
        "TradeAmt": _whole(trade),
        "PaymentType": trade.payment_type,
        "TradeDate": _ecpay_time(trade.created_at),
        "ExpireDate": trade.code_expire_date,
        **_custom_fields(trade),
    }
    if atm:
        fields |= {"BankCode": trade.bank_code, "vAccount": trade.v_account}
    else:
        fields |= {
            "PaymentNo": trade.payment_no,
            "Barcode1": trade.barcode1,
            "Barcode2": trade.barcode2,
            "Barcode3": trade.barcode3,
        }
    return [Notification(url=trade.payment_info_url, fields=_signed(fields, faults))]


def _query_fields(trade: SimulatedEcpayTrade) -> dict[str, str]:
    # A barcode paid at the store is not known paid at ECPay until its result is due.
    result_held = trade.result_due_at is not None and trade.result_due_at > timezone.now()
    paid_at = None if result_held else trade.payment_date
    return {
        "MerchantID": trade.merchant_id,
        "MerchantTradeNo": trade.merchant_trade_no,
        "StoreID": "",
        "TradeNo": trade.trade_no,
        "TradeAmt": _whole(trade),
        "PaymentDate": _ecpay_time(paid_at) if paid_at else "",
        "PaymentType": trade.payment_type,
        "HandlingCharge": "0",
        "PaymentTypeChargeFee": "0",
        "TradeDate": _ecpay_time(trade.created_at),
        "TradeStatus": "0" if result_held else _TRADE_STATUSES[Status(trade.status)],
        "ItemName": trade.item_name,
        **_custom_fields(trade),
    }


def _new_payment_code(trade: SimulatedEcpayTrade) -> dict[str, str]:
    """The trade's fields for a new ATM account, CVS payment number or set of barcodes."""
    now = timezone.now().astimezone(TAIPEI)
    if trade.method == EcpayMethod.ATM:
        expires = now + timedelta(days=trade.atm_expire_days)
        return {
            "bank_code": _ATM_BANK_CODE,
            "v_account": _digits(16),
            "code_expire_date": expires.strftime("%Y/%m/%d"),
        }
    validity = CODE_VALIDITY.get(EcpayMethod(trade.method))
    if validity is None:
        return {}  # a card trade: no code (`_trade_move` refuses it)
    valid_for = validity.duration(trade.store_expire_date)
    expire_date = (now + valid_for).strftime(DATETIME_FORMAT)
    if trade.method == EcpayMethod.CVS:
        return {"payment_no": f"LLL{_digits(11)}", "code_expire_date": expire_date}
    return {
        "barcode1": _digits(9),
        "barcode2": _digits(16),
        "barcode3": _digits(15),
        "code_expire_date": expire_date,
    }


def _signed(fields: dict[str, str], faults: SimulatedEcpayFaults) -> dict[str, str]:
    config = ecpay_config()
    hash_key = _WRONG_HASH_KEY if faults.bad_mac else config.hash_key
    mac = check_mac_value(fields, hash_key=hash_key, hash_iv=config.hash_iv)
    return {**fields, "CheckMacValue": mac}


def _trade_page(request: HttpRequest, trade: SimulatedEcpayTrade) -> HttpResponse:
    return render(
        request,
        "simulators/ecpay/trade.html",
        {
            "trade": trade,
            "Status": Status,
            "amount": _whole(trade),
            "item_names": trade.item_name.split("#"),
            "takes_card": trade.method in _CARD_METHODS,
            "atm": trade.method == EcpayMethod.ATM,
        },
    )


def _error_page(request: HttpRequest, refusal: _Refused) -> HttpResponse:
    return render(request, "simulators/ecpay/error.html", {"message": str(refusal)}, status=400)


def _plain_refusal(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _positive_integer(fields: dict[str, str], name: str, *, default: int | None = None) -> int:
    value = fields.get(name, "")
    if not value and default is not None:
        return default
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 10**9):
        raise _Refused(f"{name} must be a whole number above zero.")
    return int(value)


def _custom_fields(trade: SimulatedEcpayTrade) -> dict[str, str]:
    return {
        "CustomField1": trade.custom_field1,
        "CustomField2": trade.custom_field2,
        "CustomField3": trade.custom_field3,
        "CustomField4": trade.custom_field4,
    }


def _new_trade_no() -> str:
    """20 digits: the Taiwan time to the second, then 8 random digits."""
    return timezone.now().astimezone(TAIPEI).strftime("%y%m%d%H%M%S") + _digits(8)


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def _whole(trade: SimulatedEcpayTrade) -> str:
    return str(int(trade.amount))


def _ecpay_time(moment: datetime) -> str:
    return moment.astimezone(TAIPEI).strftime(DATETIME_FORMAT)

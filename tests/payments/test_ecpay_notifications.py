"""ECPay's server notifications (ReturnURL, PaymentInfoURL): stored, verified, applied once."""

import hashlib
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from gateways.ecpay import check_mac_value
from gateways.models import CallbackOutcome, GatewayCallback
from notifications.models import Notification
from orders.models import OrderStatus
from payments.callbacks.replay import callback_replay
from payments.ecpay.notifications import ecpay_notification_apply
from payments.models import Payment, PaymentKind, PaymentMethod, PaymentStatus
from payments.services import payment_expire, payment_start_ecpay
from tests.back_office import manager
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory

TAIPEI = ZoneInfo("Asia/Taipei")
NOTIFY = "/callbacks/ecpay/notify/"
PAYMENT_INFO = "/callbacks/ecpay/payment-info/"


def start_payment(method: str = PaymentMethod.CARD) -> Payment:
    order = OrderFactory.create(user=UserFactory.create())
    return payment_start_ecpay(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency="TWD",
        method=method,
    )


def start_deposit(method: str = PaymentMethod.CARD, *, user=None) -> Payment:
    """A pending ECPay deposit of 500 TWD."""
    return payment_start_ecpay(
        user=user or UserFactory.create(),
        kind=PaymentKind.DEPOSIT,
        order=None,
        amount=Decimal("500"),
        currency="TWD",
        method=method,
    )


def signed(fields: dict[str, str], *, key: str | None = None) -> dict[str, str]:
    mac = check_mac_value(
        fields, hash_key=key or settings.ECPAY_HASH_KEY, hash_iv=settings.ECPAY_HASH_IV
    )
    return {**fields, "CheckMacValue": mac}


def signed_with_empty_keys(fields: dict[str, str]) -> dict[str, str]:
    """Signed as anybody can sign without ECPay's keys: CheckMacValue with an empty HashKey and
    HashIV (ECPay's algorithm; quote_plus encodes these fields as .NET's UrlEncode does)."""
    joined = "&".join(f"{name}={fields[name]}" for name in sorted(fields, key=str.lower))
    encoded = quote_plus(f"HashKey=&{joined}&HashIV=", safe="-_.!*()").lower()
    return {**fields, "CheckMacValue": hashlib.sha256(encoded.encode()).hexdigest().upper()}


def paid_notification(payment: Payment, **changes: str) -> dict[str, str]:
    now = timezone.now().astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M:%S")
    fields = {
        "MerchantID": settings.ECPAY_MERCHANT_ID,
        "MerchantTradeNo": payment.merchant_trade_no or "",
        "StoreID": "",
        "RtnCode": "1",
        "RtnMsg": "交易成功",
        "TradeNo": "2311221530001234",
        "TradeAmt": str(int(payment.amount)),
        "PaymentDate": now,
        "PaymentType": "Credit_CreditCard",
        "PaymentTypeChargeFee": "20",
        "TradeDate": now,
        "SimulatePaid": "0",
        "CustomField1": payment.public_id,
        "CustomField2": "",
        "CustomField3": "",
        "CustomField4": "",
    }
    fields.update(changes)
    return fields


def deliver(client: Client, fields: dict[str, str], url: str = NOTIFY) -> str:
    response = client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    """Run what a notification queues (update → notify) as a worker would, right away."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.mark.django_db
def test_a_paid_notification_completes_the_payment_and_pays_the_order(client, applied, mailoutbox):
    payment = start_payment()

    with applied():
        answer = deliver(client, signed(paid_notification(payment)))

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.gateway_reference == "2311221530001234"
    assert payment.order.status == OrderStatus.PAID
    callback = GatewayCallback.objects.get()
    assert (callback.outcome, callback.signature_valid, callback.payment_id) == (
        CallbackOutcome.ACCEPTED,
        True,
        payment.pk,
    )
    assert "MerchantTradeNo=" in callback.body
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_with_no_hash_key_and_iv_set_a_notification_signed_with_empty_ones_is_refused(
    client, applied, settings, mailoutbox
):
    payment = start_payment()
    settings.ECPAY_HASH_KEY = ""
    settings.ECPAY_HASH_IV = ""

    with applied():
        answer = deliver(client, signed_with_empty_keys(paid_notification(payment)))

    assert answer == "0|CheckMacValue error"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.order.status == OrderStatus.PENDING_PAYMENT
    callback = GatewayCallback.objects.get()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, False)
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_paid_ecpay_deposit_credits_the_balance_once(client, applied):
    customer = UserFactory.create()
    deposit = start_deposit(PaymentMethod.ATM, user=customer)
    notification = signed(paid_notification(deposit, PaymentType="ATM_TAISHIN"))

    with applied():
        assert deliver(client, notification) == "1|OK"
    with applied():
        assert deliver(client, notification) == "1|OK"

    customer.refresh_from_db()
    deposit.refresh_from_db()
    assert deposit.status == PaymentStatus.COMPLETED
    assert customer.balance == Decimal("500")
    assert customer.ledger_entries.get().payment_id == deposit.pk


@pytest.mark.django_db
def test_a_redelivered_notification_is_a_duplicate_that_changes_nothing(
    client, applied, mailoutbox
):
    payment = start_payment()
    notification = signed(paid_notification(payment))
    with applied():
        deliver(client, notification)
    events = payment.events.count()

    with applied():
        answer = deliver(client, notification)

    assert answer == "1|OK"
    assert payment.events.count() == events
    assert list(GatewayCallback.objects.values_list("outcome", flat=True).order_by("pk")) == [
        CallbackOutcome.ACCEPTED,
        CallbackOutcome.DUPLICATE,
    ]
    assert len(mailoutbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda p: signed(paid_notification(p), key="0000000000000000"), "CheckMacValue error"),
        (lambda p: {**signed(paid_notification(p)), "TradeAmt": "1"}, "CheckMacValue error"),
        (lambda p: paid_notification(p), "CheckMacValue error"),
        (lambda p: signed(paid_notification(p, TradeAmt="1")), "TradeAmt does not match"),
        (
            lambda p: signed(paid_notification(p, MerchantTradeNo="NOSUCHTRADE1")),
            "unknown MerchantTradeNo",
        ),
        (lambda p: signed(paid_notification(p, MerchantID="2000132")), "another MerchantID"),
        (
            lambda p: signed({k: v for k, v in paid_notification(p).items() if k != "TradeAmt"}),
            "TradeAmt",
        ),
    ],
    ids=[
        "signed-with-another-key",
        "altered-after-signing",
        "no-mac",
        "wrong-amount",
        "unknown-trade",
        "another-merchant",
        "missing-field",
    ],
)
def test_a_forged_or_altered_notification_is_refused_recorded_and_changes_nothing(
    client, applied, mailoutbox, forge, reason
):
    payment = start_payment()

    with applied():
        answer = deliver(client, forge(payment))

    assert answer.startswith("0|")
    assert reason in answer
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.order.status == OrderStatus.PENDING_PAYMENT
    callback = GatewayCallback.objects.get()
    assert callback.outcome == CallbackOutcome.REJECTED
    assert reason in callback.outcome_reason
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_wrong_amount_is_flagged_for_review(client):
    payment = start_payment()

    deliver(client, signed(paid_notification(payment, TradeAmt="1")))

    payment.refresh_from_db()
    assert payment.needs_review is True


@pytest.mark.django_db
def test_a_late_failure_never_downgrades_a_completed_payment(client, applied):
    payment = start_payment()
    with applied():
        deliver(client, signed(paid_notification(payment)))

    with applied():
        answer = deliver(client, signed(paid_notification(payment, RtnCode="10100058")))

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert GatewayCallback.objects.last().outcome == CallbackOutcome.DUPLICATE


@pytest.mark.django_db
def test_a_conflicting_duplicate_is_flagged_for_review(client, applied):
    payment = start_payment()
    with applied():
        deliver(client, signed(paid_notification(payment)))

    with applied():
        answer = deliver(client, signed(paid_notification(payment, TradeNo="2311229999999999")))

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.gateway_reference == "2311221530001234"
    assert payment.needs_review is True


@pytest.mark.django_db
def test_simulate_paid_is_recorded_and_quarantined_never_money(client, applied, mailoutbox):
    payment = start_payment()

    with applied():
        answer = deliver(client, signed(paid_notification(payment, SimulatePaid="1")))

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.needs_review is True
    assert "SimulatePaid" in GatewayCallback.objects.get().outcome_reason
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_failure_notification_fails_a_pending_payment_and_tells_the_customer(
    client, applied, mailoutbox
):
    payment = start_payment()

    with applied():
        answer = deliver(client, signed(paid_notification(payment, RtnCode="10100058")))

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "ECPay RtnCode 10100058"
    assert payment.needs_review is False
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_redelivered_failure_is_a_duplicate_before_the_worker_has_run(
    client, applied, mailoutbox
):
    payment = start_payment()
    failure = signed(paid_notification(payment, RtnCode="10100058"))

    with applied():
        # Nothing queued runs in between: the second copy arrives before any worker took the
        # first. Both are answered and stored, neither applied yet.
        answers = [deliver(client, failure), deliver(client, failure)]
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING
        received = GatewayCallback.objects.values_list("outcome", flat=True)
        assert list(received) == [CallbackOutcome.RECEIVED] * 2

    assert answers == ["1|OK", "1|OK"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    outcomes = list(GatewayCallback.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [CallbackOutcome.ACCEPTED, CallbackOutcome.DUPLICATE]
    assert payment.events.filter(to_status=PaymentStatus.FAILED).count() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_an_atm_code_is_stored_and_the_payment_stays_pending(client, applied):
    payment = start_payment(PaymentMethod.ATM)
    fields = paid_notification(
        payment, RtnCode="2", RtnMsg="Get VirtualAccount Succeeded", PaymentType="ATM_TAISHIN"
    )
    fields.update(BankCode="812", vAccount="9103522850", ExpireDate="2026/11/25")

    with applied():
        answer = deliver(client, signed(fields), url=PAYMENT_INFO)

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert (payment.payment_code, payment.payment_code_bank) == ("9103522850", "812")
    assert payment.payment_code_expires_at.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M") == (
        "2026-11-25 23:59"
    )


@pytest.mark.django_db
def test_a_barcode_payment_keeps_its_three_barcodes_as_the_code(client, applied):
    payment = start_payment(PaymentMethod.BARCODE)
    fields = paid_notification(
        payment, RtnCode="10100073", RtnMsg="Get CVS Code Succeeded", PaymentType="BARCODE_BARCODE"
    )
    fields.update(
        PaymentNo="",
        ExpireDate="2026/11/29 23:59:59",
        Barcode1="141129616",
        Barcode2="5103529286310158",
        Barcode3="112901000000960",
    )

    with applied():
        answer = deliver(client, signed(fields), url=PAYMENT_INFO)

    assert answer == "1|OK"
    payment.refresh_from_db()
    assert payment.payment_code == "141129616 5103529286310158 112901000000960"
    assert payment.status == PaymentStatus.PENDING


def store_code_notification(payment: Payment, expire_date: str) -> dict[str, str]:
    return signed(
        paid_notification(
            payment,
            RtnCode="10100073",
            RtnMsg="Get CVS Code Succeeded.",
            PaymentType="CVS_CVS",
            PaymentNo="LLL22251222",
            ExpireDate=expire_date,
            TradeNo="2311221530009999",
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expire_date",
    [
        "0001/01/01 00:00:00",
        "0001/01/01",
        "0999/12/31 23:59:59",
        "9999/12/31 23:59:59",
        "9999/12/31",
        "2026/02/30",
        "",
    ],
)
def test_a_store_code_whose_expire_date_is_no_deadline_is_kept_with_the_validity_we_asked_for(
    client, applied, settings, expire_date
):
    payment = start_payment(PaymentMethod.CVS)

    with applied():
        answer = deliver(client, store_code_notification(payment, expire_date), url=PAYMENT_INFO)

    assert answer == "1|OK"
    callback = GatewayCallback.objects.get()
    assert callback.outcome == CallbackOutcome.ACCEPTED
    assert "unusable: deadline assumed" in callback.outcome_reason
    payment.refresh_from_db()
    assert (payment.status, payment.payment_code) == (PaymentStatus.PENDING, "LLL22251222")
    validity = timedelta(minutes=settings.ECPAY_CVS_EXPIRE_MINUTES)
    assert payment.payment_code_expires_at == callback.created_at + validity
    assert payment.needs_review is True
    # The code stays payable: the expiry sweep leaves the payment for its customer to pay.
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("days_ahead", [-30, 0, 7, 60])
def test_a_store_code_keeps_the_deadline_ecpay_gave_past_or_up_to_sixty_days_ahead(
    client, applied, days_ahead
):
    payment = start_payment(PaymentMethod.CVS)
    deadline = (
        (timezone.now() + timedelta(days=days_ahead)).astimezone(TAIPEI).replace(microsecond=0)
    )

    with applied():
        deliver(
            client,
            store_code_notification(payment, deadline.strftime("%Y/%m/%d %H:%M:%S")),
            url=PAYMENT_INFO,
        )

    payment.refresh_from_db()
    assert payment.payment_code_expires_at == deadline
    assert payment.needs_review is False
    assert GatewayCallback.objects.get().outcome_reason == ""


@pytest.mark.django_db
def test_only_post_is_answered(client):
    assert client.get(NOTIFY).status_code == 405
    assert not GatewayCallback.objects.exists()


@pytest.mark.django_db
def test_garbage_is_stored_and_refused(client):
    answer = deliver(client, {"hello": "world"})

    assert answer.startswith("0|")
    callback = GatewayCallback.objects.get()
    assert callback.body == "hello=world"
    assert callback.signature_valid is False


@pytest.mark.django_db
def test_a_database_failure_is_answered_503_for_ecpay_to_deliver_again(client, monkeypatch):
    def lose_the_connection(*, callback: GatewayCallback, **checked: object) -> str:
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr("payments.callbacks.views.ecpay_notification_receive", lose_the_connection)
    payment = start_payment()

    response = client.post(
        NOTIFY,
        urlencode(signed(paid_notification(payment))),
        content_type="application/x-www-form-urlencoded",
    )

    assert (response.status_code, response.content) == (503, b"0|database unavailable")
    assert response["Content-Type"].startswith("text/plain")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_the_request_only_stores_and_queues_and_the_worker_applies_it_once(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()

    with django_capture_on_commit_callbacks() as queued:
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    payment.refresh_from_db()
    callback = GatewayCallback.objects.get()
    assert (payment.status, callback.outcome) == (PaymentStatus.PENDING, CallbackOutcome.RECEIVED)
    # The task delivered twice (a worker killed after it ran, acks_late): applied once.
    with django_capture_on_commit_callbacks(execute=True):
        for apply in queued * 2:
            apply()

    payment.refresh_from_db()
    callback.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert callback.outcome == CallbackOutcome.ACCEPTED
    assert payment.events.filter(to_status=PaymentStatus.PROCESSING).count() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_payment_is_not_expired_under_a_notification_waiting_for_its_worker(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()
    with django_capture_on_commit_callbacks() as queued:
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    assert GatewayCallback.objects.get().external_reference == payment.merchant_trade_no
    # The expiry sweep runs before the worker: the customer has paid, so it must wait.
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=2))

    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        for apply in queued:
            apply()

    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, False)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_refused_notification_does_not_keep_a_payment_from_expiring(client):
    payment = start_payment()
    forged = {**signed(paid_notification(payment)), "TradeAmt": "1"}
    assert deliver(client, forged) == "0|CheckMacValue error"
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=2))

    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.EXPIRED


@pytest.mark.django_db
def test_a_notification_whose_applying_crashes_is_rejected_with_the_error_for_a_replay(
    client, applied, monkeypatch
):
    payment = start_payment()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr("payments.ecpay.notifications.ecpay_paid", crash)
        with applied():
            assert deliver(client, signed(paid_notification(payment))) == "1|OK"

    callback = GatewayCallback.objects.get()
    assert (callback.outcome, callback.outcome_reason) == (
        CallbackOutcome.REJECTED,
        "processing crashed: RuntimeError: a bug",
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    with applied():
        assert callback_replay(callback_id=callback.pk, actor=manager()).replayed
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED


@pytest.mark.django_db
def test_a_database_failure_while_applying_leaves_the_notification_to_be_retried(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    payment = start_payment()
    with django_capture_on_commit_callbacks():
        deliver(client, signed(paid_notification(payment)))
    callback = GatewayCallback.objects.get()

    def lose_the_connection(*args: object, **kwargs: object) -> None:
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr("payments.ecpay.notifications.ecpay_paid", lose_the_connection)
    with pytest.raises(OperationalError):
        ecpay_notification_apply(callback_id=callback.pk)

    callback.refresh_from_db()
    assert callback.outcome == CallbackOutcome.RECEIVED


COPIES = 50


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_copies_make_one_transition_and_one_notification(mailoutbox):
    payment = start_payment()
    body = urlencode(signed(paid_notification(payment)))

    answers = run_at_once(
        lambda: (
            Client()
            .post(NOTIFY, body, content_type="application/x-www-form-urlencoded")
            .content.decode()
        ),
        threads=COPIES,
    )

    assert answers == ["1|OK"] * COPIES
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.events.filter(to_status=PaymentStatus.COMPLETED).count() == 1
    outcomes = list(GatewayCallback.objects.values_list("outcome", flat=True))
    assert outcomes.count(CallbackOutcome.ACCEPTED) == 1
    assert outcomes.count(CallbackOutcome.DUPLICATE) == COPIES - 1
    assert Notification.objects.filter(payment=payment).count() == 1
    assert len(mailoutbox) == 1
    assert payment.amount == Decimal(payment.order.total)


@pytest.mark.django_db
def test_a_replay_is_told_by_what_the_inbox_holds_whatever_its_age(client, applied, mailoutbox):
    """A copy of a notification already applied (same TradeNo, RtnCode and TradeAmt) does
    nothing, however old its PaymentDate and whatever its RtnMsg now says."""
    payment = start_payment()
    with applied():
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    first = GatewayCallback.objects.get()
    events = payment.events.count()
    a_week_ago = (timezone.now() - timedelta(days=7)).astimezone(TAIPEI)
    replay = paid_notification(
        payment, RtnMsg="paid", PaymentDate=a_week_ago.strftime("%Y/%m/%d %H:%M:%S")
    )

    with applied():
        assert deliver(client, signed(replay)) == "1|OK"

    again = GatewayCallback.objects.latest("pk")
    assert again.outcome == CallbackOutcome.DUPLICATE
    assert again.outcome_reason == f"already applied as callback {first.pk}"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.events.count() == events
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_paid_notification_days_old_that_the_inbox_has_not_seen_is_applied(client, applied):
    payment = start_payment(PaymentMethod.BARCODE)
    three_days_ago = (timezone.now() - timedelta(days=3)).astimezone(TAIPEI)
    late = paid_notification(
        payment,
        PaymentType="BARCODE_BARCODE",
        PaymentDate=three_days_ago.strftime("%Y/%m/%d %H:%M:%S"),
    )

    with applied():
        assert deliver(client, signed(late)) == "1|OK"

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert GatewayCallback.objects.get().outcome == CallbackOutcome.ACCEPTED


@pytest.mark.django_db
def test_a_code_notification_with_another_code_is_no_replay(client, applied):
    payment = start_payment(PaymentMethod.ATM)

    def code(account: str) -> dict[str, str]:
        fields = paid_notification(
            payment, RtnCode="2", RtnMsg="Get VirtualAccount Succeeded", PaymentType="ATM_TAISHIN"
        )
        fields.update(BankCode="812", vAccount=account, ExpireDate="2026/11/25")
        return signed(fields)

    with applied():
        deliver(client, code("9103522850"), url=PAYMENT_INFO)
        deliver(client, code("9103522850"), url=PAYMENT_INFO)
        deliver(client, code("9103522851"), url=PAYMENT_INFO)

    outcomes = list(GatewayCallback.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [
        CallbackOutcome.ACCEPTED,
        CallbackOutcome.DUPLICATE,
        CallbackOutcome.ACCEPTED,
    ]
    payment.refresh_from_db()
    assert payment.payment_code == "9103522851"

"""The customer's checkout and order pages, through Django's test client."""

from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import User
from core.models import Currency
from gateways.ecpay import check_mac_matches, check_mac_value, ecpay_config
from gateways.models import Gateway, GatewayCallback
from orders.models import Order, OrderStatus
from orders.pricing import ItemLine
from orders.services import order_create
from payments.models import Payment, PaymentKind, PaymentMethod, PaymentStatus
from payments.services import (
    payment_complete,
    payment_fail,
    payment_record_code,
    payment_start_ecpay,
    payment_transition,
)
from tests.factories import OrderFactory, PaymentFactory, UserFactory

TAIPEI = ZoneInfo("Asia/Taipei")


class FormReader(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action")
            self._in_form = True
        elif tag == "input" and self._in_form:
            self.fields[attributes["name"] or ""] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def new_customer() -> User:
    user = UserFactory.create()
    # UserFactory sets the password without saving it; a signed-in session checks it.
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def customer(db) -> User:
    return new_customer()


@pytest.fixture
def order(customer) -> Order:
    return order_create(
        user=customer,
        items=[
            ItemLine(sku="TEA-001", name="Oolong tea 150 g", unit_price=Decimal("450"), quantity=2)
        ],
        currency=Currency.TWD,
    )


@pytest.fixture
def signed_in(client: Client, customer) -> Client:
    client.force_login(customer)
    return client


def start_payment(order: Order, method: str = PaymentMethod.CARD) -> Payment:
    return payment_start_ecpay(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency=order.currency,
        method=method,
    )


def paid_result(payment: Payment) -> dict[str, str]:
    """What ECPay's page posts to OrderResultURL after a card payment, unsigned."""
    now = timezone.now().astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M:%S")
    return {
        "MerchantID": settings.ECPAY_MERCHANT_ID,
        "MerchantTradeNo": payment.merchant_trade_no or "",
        "RtnCode": "1",
        "RtnMsg": "Succeeded",
        "TradeNo": "2311221530001234",
        "TradeAmt": str(int(payment.amount)),
        "PaymentDate": now,
        "PaymentType": "Credit_CreditCard",
        "TradeDate": now,
        "SimulatePaid": "0",
        "CustomField1": payment.public_id,
    }


def signed(fields: dict[str, str]) -> dict[str, str]:
    mac = check_mac_value(fields, hash_key=settings.ECPAY_HASH_KEY, hash_iv=settings.ECPAY_HASH_IV)
    return {**fields, "CheckMacValue": mac}


def page_urls(number: str) -> list[str]:
    return [
        f"/orders/{number}/",
        f"/checkout/{number}/",
        f"/checkout/{number}/result/",
    ]


def test_the_owner_sees_their_order_on_every_page(signed_in: Client, order: Order):
    for url in [*page_urls(order.number), "/orders/"]:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert order.number in response.text, url
    detail = signed_in.get(f"/orders/{order.number}/").text
    assert "Oolong tea 150 g" in detail
    assert "Waiting for payment" in detail


def test_the_checkout_page_shows_the_summary_and_every_ecpay_method(
    signed_in: Client, order: Order
):
    page = signed_in.get(f"/checkout/{order.number}/").text
    for text in ("Oolong tea 150 g", "Subtotal", "900", "Shipping", "60", "Total", "960 TWD"):
        assert text in page
    for label in (
        "Credit card",
        "ATM transfer",
        "Convenience store payment code",
        "Convenience store barcode",
    ):
        assert label in page
    assert 'name="viewport"' in page


def test_the_order_list_shows_only_the_customers_own_orders(signed_in: Client, order: Order):
    someone_elses = OrderFactory.create(user=UserFactory.create())
    page = signed_in.get("/orders/").text
    assert order.number in page
    assert someone_elses.number not in page


def test_another_customers_order_is_not_found(client: Client, order: Order):
    client.force_login(new_customer())
    for url in page_urls(order.number):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/checkout/{order.number}/pay/", {"method": "card"}).status_code == 404
    assert not Payment.objects.exists()


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client: Client, order: Order):
    for url in [*page_urls(order.number), "/orders/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    response = client.post(f"/checkout/{order.number}/pay/", {"method": "card"})
    assert response["Location"].startswith("/accounts/login/")
    assert not Payment.objects.exists()


def test_a_customer_signs_in_with_email_and_password(client: Client, customer):
    response = client.post(
        "/accounts/login/",
        {"username": customer.email, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/orders/"


@pytest.mark.parametrize(
    ("method", "payment_method", "choose_payment"),
    [
        ("card", PaymentMethod.CARD, "Credit"),
        ("atm", PaymentMethod.ATM, "ATM"),
        ("cvs", PaymentMethod.CVS, "CVS"),
        ("barcode", PaymentMethod.BARCODE, "BARCODE"),
    ],
)
def test_paying_starts_one_ecpay_payment_and_sends_the_signed_form(
    signed_in: Client, order: Order, method: str, payment_method: str, choose_payment: str
):
    response = signed_in.post(f"/checkout/{order.number}/pay/", {"method": method})

    assert response.status_code == 200
    payment = Payment.objects.get()
    assert (payment.gateway, payment.method, payment.status) == (
        Gateway.ECPAY,
        payment_method,
        PaymentStatus.PENDING,
    )
    assert (payment.order, payment.amount) == (order, Decimal("960"))
    form = FormReader(response.text)
    assert form.action == ecpay_config().checkout_url
    assert form.fields["MerchantTradeNo"] == payment.merchant_trade_no
    assert form.fields["TotalAmount"] == "960"
    assert form.fields["ChoosePayment"] == choose_payment
    assert form.fields["CustomField1"] == payment.public_id
    assert form.fields["ReturnURL"] == f"{settings.SITE_URL}/callbacks/ecpay/notify/"
    assert form.fields["OrderResultURL"] == f"{settings.SITE_URL}/checkout/{order.number}/result/"
    assert check_mac_matches(
        form.fields, hash_key=settings.ECPAY_HASH_KEY, hash_iv=settings.ECPAY_HASH_IV
    )
    assert "Continue to ECPay" in response.text


def test_paying_with_an_unknown_method_starts_nothing(signed_in: Client, order: Order):
    response = signed_in.post(f"/checkout/{order.number}/pay/", {"method": "bitcoin"})
    assert response.status_code == 400
    assert not Payment.objects.exists()


def test_paying_needs_the_pages_csrf_token(customer, order: Order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    forged = client.post(f"/checkout/{order.number}/pay/", {"method": "card"})
    assert forged.status_code == 403
    assert not Payment.objects.exists()

    page = client.get(f"/checkout/{order.number}/")
    token = FormReader(page.text.split("<main>", 1)[1]).fields["csrfmiddlewaretoken"]
    genuine = client.post(
        f"/checkout/{order.number}/pay/", {"method": "card", "csrfmiddlewaretoken": token}
    )
    assert genuine.status_code == 200
    assert Payment.objects.count() == 1


def test_an_order_not_waiting_for_payment_goes_to_its_status_page(signed_in: Client, customer):
    paid = OrderFactory.create(user=customer, status=OrderStatus.PAID)
    for response in (
        signed_in.get(f"/checkout/{paid.number}/"),
        signed_in.post(f"/checkout/{paid.number}/pay/", {"method": "card"}),
    ):
        assert response.status_code == 302
        assert response["Location"] == f"/orders/{paid.number}/"
    assert not Payment.objects.exists()


def test_a_forged_result_changes_nothing_and_is_not_confirmed(signed_in: Client, order: Order):
    payment = start_payment(order)
    forged = {**paid_result(payment), "CheckMacValue": "0" * 64}

    response = signed_in.post(f"/checkout/{order.number}/result/", forged, follow=True)

    assert response.status_code == 200
    assert "We could not confirm this result" in response.text
    assert "Paid. Thank you!" not in response.text
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_genuine_result_post_still_marks_nothing_paid(signed_in: Client, order: Order):
    payment = start_payment(order)

    response = signed_in.post(
        f"/checkout/{order.number}/result/", signed(paid_result(payment)), follow=True
    )

    assert response.redirect_chain == [(f"/checkout/{order.number}/result/", 302)]
    assert "Confirming your payment" in response.text
    assert '<meta http-equiv="refresh"' in response.text
    assert "We could not confirm" not in response.text
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert order.status == OrderStatus.PENDING_PAYMENT
    # Only the server notification is stored and applied, never the browser's post.
    assert not GatewayCallback.objects.exists()


def test_ecpay_can_post_the_result_before_the_customer_is_recognised(client: Client, order: Order):
    # ECPay's post comes from another site: the browser may leave the session cookie off it.
    payment = start_payment(order)
    response = client.post(f"/checkout/{order.number}/result/", signed(paid_result(payment)))
    assert response.status_code == 302
    assert response["Location"] == f"/checkout/{order.number}/result/"


def test_the_result_page_shows_paid_once_the_notification_completed_the_payment(
    signed_in: Client, order: Order
):
    payment = start_payment(order)
    payment_transition(payment_id=payment.pk, to=PaymentStatus.PROCESSING, event="validated")
    payment_complete(payment_id=payment.pk, gateway_reference="2311221530001234")

    for url in (f"/checkout/{order.number}/result/", f"/orders/{order.number}/"):
        page = signed_in.get(url).text
        assert "Paid. Thank you!" in page, url
        assert '<meta http-equiv="refresh"' not in page, url
    paid_at = timezone.localtime(Payment.objects.get(pk=payment.pk).completed_at)
    assert (
        f"Paid on {paid_at:%Y-%m-%d %H:%M} UTC+08."
        in signed_in.get(f"/orders/{order.number}/").text
    )
    assert " UTC+08</div>" in signed_in.get("/orders/").text


def test_the_result_page_shows_the_atm_account_to_pay_to(signed_in: Client, order: Order):
    payment = start_payment(order, PaymentMethod.ATM)
    payment_record_code(
        payment_id=payment.pk,
        code="9103522175887271",
        bank="812",
        expires_at=datetime(2030, 1, 31, 23, 59, 59, tzinfo=TAIPEI),
    )

    page = signed_in.get(f"/checkout/{order.number}/result/").text

    assert "Waiting for your payment" in page
    # The deadline in the site's zone, the zone said (the customer may be anywhere).
    for text in ("812", "9103522175887271", "2030-01-31 23:59 UTC+08"):
        assert text in page
    assert '<meta http-equiv="refresh"' not in page
    assert "9103522175887271" in signed_in.get(f"/orders/{order.number}/").text


def test_the_result_page_shows_the_store_code_to_pay_with(signed_in: Client, order: Order):
    payment = start_payment(order, PaymentMethod.CVS)
    payment_record_code(payment_id=payment.pk, code="LLL22251222", bank="", expires_at=None)

    page = signed_in.get(f"/checkout/{order.number}/result/").text

    assert "Payment code" in page
    assert "LLL22251222" in page


def test_the_result_page_offers_to_try_again_after_a_failure(signed_in: Client, order: Order):
    payment = start_payment(order)
    payment_fail(payment_id=payment.pk, reason="ECPay RtnCode 10100058", needs_review=False)

    page = signed_in.get(f"/checkout/{order.number}/result/").text

    assert "The payment did not go through." in page
    assert f'href="/checkout/{order.number}/"' in page


def test_the_checkout_page_speaks_traditional_chinese(client: Client, customer, order: Order):
    client.force_login(customer)
    page = client.get(f"/checkout/{order.number}/", HTTP_ACCEPT_LANGUAGE="zh-Hant").text
    assert '<html lang="zh-hant">' in page
    for text in ("您想用哪種方式付款？", "信用卡", "ATM 轉帳", "超商代碼繳費", "小計", "運費"):
        assert text in page


def test_the_language_switcher_remembers_the_choice(signed_in: Client, order: Order):
    response = signed_in.post(
        "/i18n/setlang/", {"language": "zh-hant", "next": f"/orders/{order.number}/"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    page = signed_in.get(f"/orders/{order.number}/").text
    assert f"訂單 {order.number}" in page
    assert "等待付款" in page


def test_chinese_pages_write_money_as_taiwan_does(client: Client, customer):
    teapot = order_create(
        user=customer,
        items=[
            ItemLine(sku="POT-004", name="Yixing teapot", unit_price=Decimal("2400"), quantity=1)
        ],
        currency=Currency.TWD,
    )
    client.force_login(customer)

    page = client.get(f"/checkout/{teapot.number}/", HTTP_ACCEPT_LANGUAGE="zh-Hant").text

    assert "2,400 TWD" in page  # grouped by three with a comma, not 2400
    assert "2400 TWD" not in page


def test_a_payment_not_made_with_ecpay_is_not_said_to_wait_for_ecpay(
    signed_in: Client, order: Order
):
    PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        gateway=Gateway.CARD,
        method=PaymentMethod.CARD,
        status=PaymentStatus.PROCESSING,
    )

    page = signed_in.get(f"/checkout/{order.number}/result/").text

    assert "Confirming your payment" in page
    assert "We are still confirming the payment." in page
    assert "ECPay" not in page

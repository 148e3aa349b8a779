"""The benchmark's data in payments_bench: users, and payments loaded in bulk with raw SQL.

MariaDB's SEQUENCE engine (`seq_1_to_N`, built in) lets one INSERT ... SELECT write a hundred
thousand rows server-side: a million payments in well under a minute, where the ORM one by
one would take an hour. Nothing here goes through the services: these rows are the backdrop
the measured requests run against, not what is measured.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts.models import User
from gateways.ecpay import check_mac_value

CHUNK = 100_000
# Owners of the backdrop payments, so no one user's list is the whole table.
POOL_USERS = 1000
# The customer whose list the benchmark reads owns this many at every scale.
CUSTOMER_PAYMENTS = 100
TAIPEI = ZoneInfo("Asia/Taipei")

_PAYMENT_COLUMNS = (
    "created_at, updated_at, public_id, kind, gateway, method, amount, currency, "
    "refunded_amount, status, merchant_trade_no, gateway_reference, card_brand, card_last4, "
    "failure_reason, attempts, idempotency_key, completed_at, order_id, user_id, card_exp_month, "
    "card_exp_year, card_token, needs_review, payment_code, payment_code_bank, "
    "payment_code_expires_at"
)


@dataclass(frozen=True)
class Users:
    customer: User
    customer_token: str
    staff: User
    staff_token: str


def admin_client(staff: User) -> Client:
    """A test client signed in to the back office as `staff`, both factors done (a confirmed
    authenticator marked on the session, as after typing its code): the benchmark measures the
    pages, not the sign-in."""
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(staff)
    device, _ = TOTPDevice.objects.get_or_create(user=staff, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def users_create() -> Users:
    """A customer and a superuser with API tokens, and the pool that owns the backdrop."""
    customer = User.objects.create_user(email="bench-customer@example.com", password=None)
    staff = User.objects.create_superuser(email="bench-staff@example.com", password="bench")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, first_name, last_name, is_staff,"
            " is_active, date_joined, email, balance, balance_currency)"
            " SELECT '!', 0, '', '', 0, 1, NOW(6), CONCAT('bench-pool-', seq, '@example.com'),"
            f" 0, 'TWD' FROM seq_1_to_{POOL_USERS}"
        )
    return Users(
        customer=customer,
        customer_token=Token.objects.create(user=customer).key,
        staff=staff,
        staff_token=Token.objects.create(user=staff).key,
    )


def payments_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM payments_payment")
        (count,) = cursor.fetchone()
    return int(count)


def backdrop_load(count: int, *, customer: User) -> None:
    """Add `count` completed card deposits, spread over the pool and the last year, a few of
    them the customer's (CUSTOMER_PAYMENTS in all, whatever the count)."""
    first_pool_id = _first_pool_user_id()
    offset = payments_count()
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        base = offset + start
        owner = (
            f"IF(seq + {base} <= {CUSTOMER_PAYMENTS}, {customer.pk},"
            f" {first_pool_id} + (seq + {base}) % {POOL_USERS})"
        )
        _insert_payments(
            size,
            public_id=f"CONCAT('pay_bench', LPAD(seq + {base}, 12, '0'))",
            created_at=f"NOW(6) - INTERVAL (seq + {base}) * 31 SECOND",
            gateway="card",
            status="completed",
            user_id=owner,
            merchant_trade_no="NULL",
            card_token="'tok_bench'",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE payments_payment")


def pending_ecpay_create(count: int, *, user: User) -> list[tuple[str, str]]:
    """`count` pending ECPay card payments of 500 TWD; their (MerchantTradeNo, public id)."""
    base = payments_count()
    prefix = f"pay_ecpay{base:08d}"
    _insert_payments(
        count,
        public_id=f"CONCAT('{prefix}', LPAD(seq, 8, '0'))",
        created_at="NOW(6)",
        gateway="ecpay",
        status="pending",
        user_id=str(user.pk),
        merchant_trade_no=f"CONCAT('BENCH', LPAD(seq + {base}, 12, '0'))",
        card_token="''",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT merchant_trade_no, public_id FROM payments_payment WHERE public_id LIKE %s"
            " ORDER BY id",
            [f"{prefix}%"],
        )
        return [(str(row[0]), str(row[1])) for row in cursor.fetchall()]


def pending_card_create(count: int, *, token: str) -> list[int]:
    """`count` pending card deposits of 500 TWD charged to `token`, one after the other owned by
    each of the pool's users (as real traffic comes from many customers: one customer's
    deposits would all queue for the lock on that customer's balance); their primary keys."""
    base = payments_count()
    prefix = f"pay_card{base:08d}"
    _insert_payments(
        count,
        public_id=f"CONCAT('{prefix}', LPAD(seq, 8, '0'))",
        created_at="NOW(6)",
        gateway="card",
        status="pending",
        user_id=f"{_first_pool_user_id()} + seq % {POOL_USERS}",
        merchant_trade_no="NULL",
        card_token=f"'{token}'",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM payments_payment WHERE public_id LIKE %s ORDER BY id", [f"{prefix}%"]
        )
        return [int(row[0]) for row in cursor.fetchall()]


def _first_pool_user_id() -> int:
    return User.objects.filter(email="bench-pool-1@example.com").values_list("pk", flat=True)[0]


def _insert_payments(
    count: int,
    *,
    public_id: str,
    created_at: str,
    gateway: str,
    status: str,
    user_id: str,
    merchant_trade_no: str,
    card_token: str,
) -> None:
    # Every value is the benchmark's own SQL, never input.
    card = gateway == "card"
    completed_at = created_at if status == "completed" else "NULL"
    values = ", ".join(
        [
            created_at,
            created_at,
            public_id,
            "'deposit'",
            f"'{gateway}'",
            "'card'",
            "500",
            "'TWD'",
            "0",
            f"'{status}'",
            merchant_trade_no,
            "NULL",
            "'visa'" if card else "''",
            "'4242'" if card else "''",
            "''",
            "1" if status == "completed" else "0",
            "NULL",
            completed_at,
            "NULL",
            user_id,
            "12" if card else "NULL",
            "2030" if card else "NULL",
            card_token,
            "0",
            "''",
            "''",
            "NULL",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO payments_payment ({_PAYMENT_COLUMNS})"
            f" SELECT {values} FROM seq_1_to_{count}"
        )


def ecpay_notifications_write(payments: list[tuple[str, str]], path: Path) -> None:
    """One signed "paid" notification a line, form-encoded, each with its own TradeNo."""
    now = timezone.now().astimezone(TAIPEI)
    lines = [
        ecpay_paid_body(trade_no, public_id, i, now)
        for i, (trade_no, public_id) in enumerate(payments)
    ]
    path.write_text("\n".join(lines) + "\n")


def ecpay_paid_body(merchant_trade_no: str, public_id: str, serial: int, now: datetime) -> str:
    when = now.strftime("%Y/%m/%d %H:%M:%S")
    fields = {
        "MerchantID": settings.ECPAY_MERCHANT_ID,
        "MerchantTradeNo": merchant_trade_no,
        "StoreID": "",
        "RtnCode": "1",
        "RtnMsg": "交易成功",
        "TradeNo": f"{2400000000000000 + serial}",
        "TradeAmt": "500",
        "PaymentDate": when,
        "PaymentType": "Credit_CreditCard",
        "PaymentTypeChargeFee": "10",
        "TradeDate": when,
        "SimulatePaid": "0",
        "CustomField1": public_id,
        "CustomField2": "",
        "CustomField3": "",
        "CustomField4": "",
    }
    fields["CheckMacValue"] = check_mac_value(
        fields, hash_key=settings.ECPAY_HASH_KEY, hash_iv=settings.ECPAY_HASH_IV
    )
    return urlencode(fields)

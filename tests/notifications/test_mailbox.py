"""The development mailbox: each email a file under var/mail/, one log line, a page to read it."""

import logging

import pytest
from django.core.mail import EmailMultiAlternatives

from core.published import DEVELOPMENT_EMAIL_BACKEND
from notifications.channels import email_send
from notifications.mailbox import mailbox_messages
from payments.models import PaymentStatus
from tests.notifications.test_services import order_payment


@pytest.fixture
def mailbox(settings, tmp_path):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = DEVELOPMENT_EMAIL_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.SITE_URL = "http://127.0.0.1:8000"
    return tmp_path / "mail"


@pytest.mark.django_db
def test_a_customer_email_is_a_file_and_one_log_line_not_the_message(mailbox, caplog):
    payment = order_payment(status=PaymentStatus.COMPLETED)

    with caplog.at_level(logging.INFO, logger="notifications.mailbox"):
        email_send(payment=payment, event="completed", details={}, recipient=payment.user.email)

    [path] = list(mailbox.iterdir())
    assert path.suffix == ".eml"
    [record] = [r for r in caplog.records if r.name == "notifications.mailbox"]
    line = record.getMessage()
    assert "\n" not in line
    assert payment.user.email in line
    assert '"Payment received: 960.00 TWD"' in line
    assert f"http://127.0.0.1:8000/dev/mail/{path.name}" in line
    # The body stays in the file: the console gets the line only.
    assert "We have received your payment" not in line
    [message] = mailbox_messages()
    assert message.to == payment.user.email
    assert message.subject == "Payment received: 960.00 TWD"
    assert "We have received your payment" in message.text
    assert "<html" in message.html


@pytest.mark.django_db
def test_the_mailbox_page_lists_newest_first_and_shows_each_message(mailbox, client):
    for subject in ("first", "second"):
        message = EmailMultiAlternatives(
            subject=subject, body=f"{subject} body", to=["customer@example.com"]
        )
        message.attach_alternative(f"<p style='color: red'>{subject} html</p>", "text/html")
        message.send()

    index = client.get("/dev/mail/")

    assert index.status_code == 200
    page = index.content.decode()
    assert page.index("second") < page.index("first")
    newest = mailbox_messages()[0]
    read = client.get(f"/dev/mail/{newest.name}/")
    assert read.status_code == 200
    assert "second body" in read.content.decode()
    html = client.get(f"/dev/mail/{newest.name}/html/")
    assert html.status_code == 200
    assert html.content.decode() == "<p style='color: red'>second html</p>"
    # The email's own HTML runs in a sandbox and may load nothing.
    policy = html["Content-Security-Policy"]
    assert "sandbox" in policy
    assert "default-src 'none'" in policy
    assert "script-src 'none'" in policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/dev/mail/nothing.eml/",
        "/dev/mail/..%2F..%2F.env/",
        "/dev/mail/20260101T000000.000000Z-1.eml/",
        "/dev/mail/20260101T000000.000000Z-1.eml/html/",
    ],
)
def test_a_name_that_is_not_a_message_is_404(mailbox, client, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_a_message_with_no_html_part_has_no_html_page(mailbox, client):
    EmailMultiAlternatives(subject="plain", body="text only", to=["c@example.com"]).send()
    [message] = mailbox_messages()

    assert message.html == ""
    assert client.get(f"/dev/mail/{message.name}/html/").status_code == 404


@pytest.mark.django_db
def test_the_mailbox_is_not_served_outside_development(mailbox, client, settings):
    EmailMultiAlternatives(subject="s", body="b", to=["c@example.com"]).send()
    [message] = mailbox_messages()

    settings.DEBUG = False
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{message.name}/").status_code == 404

    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert client.get("/dev/mail/").status_code == 404


@pytest.mark.django_db
def test_the_mailbox_page_only_reads(mailbox, client):
    assert client.post("/dev/mail/").status_code == 405

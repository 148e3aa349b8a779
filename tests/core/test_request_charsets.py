"""A request whose Content-Type names a charset that decodes no text, or one Python does not
know: a clear 4xx, nothing changed, never a 500. Python's codecs include bytes-to-bytes ones
(hex, base64, zlib) and rot13, which `codecs.lookup` finds, so Django takes them for a
request's encoding, and decoding with one raises LookupError."""

import json

import pytest
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from core.requests import DJANGO_SET_CONTENT_TYPE_PARAMS
from core.views import RequestCharsetCheck
from payments.models import Payment
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments/"
DEPOSIT = {"kind": "deposit", "amount": "100", "currency": "TWD", "gateway": "ecpay"}
NOT_TEXT = ["hex", "base64", "zlib", "rot13"]


def post_json(client, body: bytes, charset: str):
    return client.generic(
        "POST", PAYMENTS, body, content_type=f"application/json; charset={charset}"
    )


@pytest.fixture
def api_client(api_client_for):
    client = api_client_for(UserFactory.create())
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("charset", [*NOT_TEXT, "nonsense"])
def test_json_in_a_charset_that_is_no_text_encoding_is_a_415_changing_nothing(api_client, charset):
    response = post_json(api_client, json.dumps(DEPOSIT).encode(), charset)

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": f'The charset "{charset}" is not a text encoding: send JSON in UTF-8.',
        "fields": {},
    }
    assert not Payment.objects.exists()


def test_json_its_charset_cannot_decode_is_a_400(api_client):
    body = json.dumps({**DEPOSIT, "kind": "dépôt"}, ensure_ascii=False).encode("latin-1")

    response = post_json(api_client, body, "utf-8")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Payment.objects.exists()


def test_json_in_a_text_encoding_other_than_utf8_is_read_in_it(api_client):
    response = post_json(api_client, json.dumps(DEPOSIT).encode("utf-16"), "utf-16")

    assert response.status_code == 202
    assert Payment.objects.get().public_id == response.json()["id"]


# The pages: a multipart form (the sign-in pages, checkout) is read in the request's charset;
# RequestCharsetCheck (right after ApiErrorShape in MIDDLEWARE) refuses any but UTF-8.
# Codecs that decode no text, and text codecs that fail whatever the bytes: ignored, as Django
# ignores a name it does not know (core/requests.py).
NO_TEXT = [*NOT_TEXT, "undefined", "idna", "punycode"]


def post_multipart_form(client, path: str, charset: str):
    fields = {"username": "a@example.com", "password": "x", "method": "card"}
    body = "".join(
        f'--xyz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    return client.generic(
        "POST",
        path,
        f"{body}--xyz--\r\n".encode(),
        content_type=f"multipart/form-data; boundary=xyz; charset={charset}",
    )


@pytest.mark.parametrize("charset", ["latin-1", "big5", "utf-7"])
@pytest.mark.parametrize("page", ["/accounts/login/", "/admin/login/", "/checkout/{number}/pay/"])
def test_a_form_in_a_text_charset_other_than_utf8_is_the_400_page(page, charset):
    order = OrderFactory.create()
    client = Client(raise_request_exception=False)
    client.force_login(order.user)

    response = post_multipart_form(client, page.format(number=order.number), charset)

    assert response.status_code == 400
    assert "This request could not be read" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "nonsense", *NO_TEXT])
def test_a_form_in_utf8_or_a_charset_that_decodes_no_text_is_read_as_utf8(charset):
    order = OrderFactory.create()
    client = Client(raise_request_exception=False)
    client.force_login(order.user)

    response = post_multipart_form(client, f"/checkout/{order.number}/pay/", charset)

    assert response.status_code == 200  # the form that takes the customer to ECPay
    assert Payment.objects.get().order == order


@pytest.mark.parametrize("charset", NO_TEXT)
def test_a_query_string_with_a_charset_that_decodes_no_text_is_read(api_client, charset):
    """Django decoded the query string with the charset as it built the request, before any
    middleware: a 500 on every path, the probes' included."""
    content_type = f"text/plain; charset={charset}"
    listed = api_client.get(PAYMENTS, {"status": "completed"}, CONTENT_TYPE=content_type)
    page = Client(raise_request_exception=False).get(
        "/accounts/login/", {"next": "/orders/"}, CONTENT_TYPE=content_type
    )

    assert (listed.status_code, listed.json()["results"]) == (200, [])
    assert page.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "text/plain",
        "application/json; charset=utf-8",
        "multipart/form-data; boundary=xyz; charset=latin-1",
        "application/x-www-form-urlencoded; charset=BIG5",
        "text/plain; charset=nonsense",
        'text/plain; charset="utf-16"',
    ],
)
def test_every_charset_that_decodes_text_is_read_as_django_reads_it(content_type):
    ours = RequestFactory().get("/", CONTENT_TYPE=content_type)
    django_s = RequestFactory().get("/", CONTENT_TYPE=content_type)
    DJANGO_SET_CONTENT_TYPE_PARAMS(django_s, django_s.META)

    assert (ours.content_type, ours.content_params, ours.encoding) == (
        django_s.content_type,
        django_s.content_params,
        django_s.encoding,
    )
    assert HttpRequest._set_content_type_params is not DJANGO_SET_CONTENT_TYPE_PARAMS  # type: ignore[attr-defined]


def test_the_check_refuses_a_page_before_its_form_is_read_and_leaves_api_and_callbacks_be():
    def read_the_form(request):
        request.POST  # noqa: B018 (what a view does, and the CSRF check)
        return HttpResponse("read")

    def request_to(path: str, charset: str = "latin-1"):
        return RequestFactory().generic(
            "POST", path, b"--xyz--", f"multipart/form-data; boundary=xyz; charset={charset}"
        )

    with pytest.raises(BadRequest):
        RequestCharsetCheck(read_the_form)(request_to("/accounts/login/"))
    page = RequestCharsetCheck(read_the_form)(request_to("/accounts/login/", "utf-8"))
    assert page.content == b"read"
    for path in (PAYMENTS, "/callbacks/ecpay/notify/"):
        passed_on = RequestCharsetCheck(lambda request: HttpResponse("passed on"))(request_to(path))
        assert passed_on.content == b"passed on"

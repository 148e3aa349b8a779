"""The OpenAPI schema (/api/schema/) and its readers: valid, complete for every operation, and
saying what the API really answers."""

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.factories import PaymentFactory

HTTP_METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return generated


def api_operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every operation under /api/v1/, named "METHOD path", whoever wrote its view."""
    return [
        (f"{method.upper()} {url}", operation)
        for url, path_item in schema["paths"].items()
        if url.startswith("/api/v1/")
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


def resolve(schema: dict[str, Any], reference: str) -> dict[str, Any]:
    name = reference.removeprefix("#/components/schemas/")
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


def test_the_schema_is_a_valid_openapi_3_document_anyone_can_read(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Payment service API"
    validate(document)


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_documentation_pages_answer_without_signing_in(client, url):
    response = client.get(url)
    # Swagger UI's page loads its script from its own URL (no inline script: the
    # Content-Security-Policy); the schema's URL is in that.
    script = client.get(f"{url}?script=") if url == "/api/docs/" else response

    assert response.status_code == 200
    assert b"/api/schema/" in script.content


def test_the_schema_generates_without_warnings_or_errors(capsys, tmp_path):
    # Counted once per process: start from none, so this run's own are the ones reported.
    GENERATOR_STATS.reset()
    try:
        call_command(
            "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "api.yaml")
        )
    except CommandError as error:
        pytest.fail(f"{error}:\n{capsys.readouterr().err}")


def test_every_operation_has_a_summary(schema):
    without = [name for name, operation in api_operations(schema) if not operation.get("summary")]

    assert not without, f"operations without a summary: {without}"


def test_every_operation_has_a_success_response_with_an_example(schema):
    def has_example(response: dict[str, Any]) -> bool:
        return any(
            media.get("examples") or media.get("example")
            for media in response.get("content", {}).values()
        )

    without = [
        name
        for name, operation in api_operations(schema)
        if not any(
            code.startswith("2") and has_example(response)
            for code, response in operation["responses"].items()
        )
    ]

    assert not without, f"operations without a 2xx response example: {without}"


def test_every_operation_documents_its_401_in_the_error_shape(schema):
    error_shape = {"$ref": "#/components/schemas/Error"}
    without = [
        name
        for name, operation in api_operations(schema)
        if operation["responses"]
        .get("401", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
        != error_shape
    ]

    assert api_operations(schema)
    assert not without, f"operations without a 401 in the error shape: {without}"


def test_the_documented_errors_are_the_errors_the_api_answers(
    schema, client, customer, api_client_for
):
    """The examples are copies of real answers: a client coding against them is not misled."""
    me = schema["paths"]["/api/v1/me/"]["get"]["responses"]
    payment = schema["paths"]["/api/v1/payments/{public_id}/"]["get"]["responses"]

    def example(response: dict[str, Any]) -> Any:
        (only,) = response["content"]["application/json"]["examples"].values()
        return only["value"]

    assert client.get("/api/v1/me/").json() == example(me["401"])
    assert api_client_for(customer).get("/api/v1/payments/pay_nope/").json() == example(
        payment["404"]
    )


def test_the_payment_list_documents_its_filters_and_cursor_pages(schema):
    operation = schema["paths"]["/api/v1/payments/"]["get"]
    parameters = {parameter["name"] for parameter in operation["parameters"]}

    assert parameters >= {
        "status",
        "method",
        "gateway",
        "order",
        "created_after",
        "created_before",
        "cursor",
        "page_size",
    }
    page = resolve(
        schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(page["properties"]) == {"next", "previous", "results"}


def test_starting_a_payment_documents_the_idempotency_key_and_its_reuse(schema):
    operation = schema["paths"]["/api/v1/payments/"]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]

    assert header["name"] == "Idempotency-Key"
    assert header.get("required", False) is False
    assert header["schema"]["maxLength"] == 255
    assert {"400", "422", "202"} <= set(operation["responses"])


@pytest.mark.django_db
def test_a_deposit_without_order_or_card_matches_the_documented_payment(
    schema, customer, api_client_for
):
    deposit = PaymentFactory.create(user=customer)  # a deposit: no order, and no card kept
    response = api_client_for(customer).get(f"/api/v1/payments/{deposit.public_id}/")
    documented = schema["paths"]["/api/v1/payments/{public_id}/"]["get"]["responses"]["200"]

    validator = OAS31Validator(
        {"$ref": documented["content"]["application/json"]["schema"]["$ref"], **schema},
    )
    validator.validate(response.json())


def test_cognito_bearer_tokens_are_documented_as_an_http_bearer_scheme():
    # Runs once accounts.auth.CognitoJWTAuthentication exists; until then nothing can use it.
    auth = pytest.importorskip("accounts.auth")

    class CognitoOnlyView(APIView):
        authentication_classes = [auth.CognitoJWTAuthentication]

        def get(self, request: Any) -> Response:
            return Response()

    generated = SchemaGenerator(patterns=[path("probe/", CognitoOnlyView.as_view())]).get_schema(
        request=None, public=True
    )

    assert generated["components"]["securitySchemes"]["cognitoJWT"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_every_operation_taking_an_idempotency_key_documents_its_errors(schema):
    taking = [
        (name, operation)
        for name, operation in api_operations(schema)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    ]

    # Every POST that creates something or moves money takes one (README "Retrying safely").
    assert {name for name, _ in taking} == {
        name for name, _ in api_operations(schema) if name.startswith("POST ")
    }
    for name, operation in taking:
        assert {"400", "409", "422"} <= set(operation["responses"]), name


def test_every_list_documents_a_bad_page_size_and_an_unknown_cursor(schema):
    lists = [
        (name, operation)
        for name, operation in api_operations(schema)
        if any(p["name"] == "page_size" for p in operation.get("parameters", []))
    ]

    assert len(lists) == 3
    for name, operation in lists:
        assert {"400", "404"} <= set(operation["responses"]), name

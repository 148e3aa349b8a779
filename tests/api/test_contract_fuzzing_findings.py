"""What contract fuzzing (bin/fuzz-api) found in the payments API, kept fixed."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        # Read in Taipei time, it is before year 1 in UTC.
        {"created_after": "0001-01-01T00:00:00"},
        {"created_before": "0001-01-01T00:00:00+14:00"},
        {"created_after": "9999-12-31T23:59:59-14:00"},
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/payments/", "/api/v1/orders/"])
def test_a_filter_time_with_no_utc_equivalent_is_a_400_naming_it(
    customer, api_client_for, query, url
):
    response = api_client_for(customer).get(url, query)

    assert response.status_code == 400
    (name,) = query
    assert response.json()["fields"] == {name: ["Datetime value out of range."]}

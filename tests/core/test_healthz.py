import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_says_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}},
    }


@pytest.mark.django_db
def test_healthz_is_503_and_names_the_broker_when_the_broker_does_not_answer(client):
    # Port 9 (discard) has nothing listening here: the connection is refused at once.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0"):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["ok"] is False
    # The reason names the failure, never the URL (which may hold a password).
    assert "127.0.0.1" not in body["checks"]["broker"]["error"]


@pytest.mark.django_db
def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405

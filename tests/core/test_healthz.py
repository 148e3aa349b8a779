"""/healthz (liveness: the process answers) and /readyz (readiness: its dependencies do)."""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings


def test_healthz_answers_without_asking_any_dependency(client):
    # No database (without the django_db mark any query raises) and no broker: a database
    # outage must not get healthy containers restarted.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0"):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_says_ok_when_database_broker_and_migrations_are_ready(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "broker": {"ok": True},
            "migrations": {"ok": True},
        },
    }


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_broker_when_the_broker_does_not_answer(client):
    # Port 9 (discard) has nothing listening here: the connection is refused at once.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0"):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["ok"] is False
    # The reason names the failure, never the URL (which may hold a password).
    assert "127.0.0.1" not in body["checks"]["broker"]["error"]


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_not_applied(client):
    # As if new code came up before its migration ran: forget that the last one was applied.
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="payments").order_by("-id").first()
    latest.delete()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {"ok": False, "error": "1 unapplied"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_only_answer_get(client, path):
    assert client.post(path).status_code == 405

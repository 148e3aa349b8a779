"""Switching the simulator's faults: in-process with set_faults, over HTTP with POST faults."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from gateways.ecpay.simulator.models import SimulatedEcpayFaults, set_faults

pytestmark = pytest.mark.django_db

NONE = {
    "duplicate_deliveries": 0,
    "out_of_order": False,
    "delay_seconds": 0.0,
    "drop_notifications": False,
    "bad_mac": False,
    "simulate_paid": False,
    "query_forbidden": False,
}


def post_faults(client, body):
    return client.post(reverse("ecpay_simulator:faults"), body, content_type="application/json")


def current() -> dict:
    faults = SimulatedEcpayFaults.current()
    return {name: getattr(faults, name) for name in NONE}


def test_no_fault_is_on_until_one_is_set():
    assert current() == NONE


def test_set_faults_switches_on_the_faults_named():
    set_faults(bad_mac=True, duplicate_deliveries=2)

    assert current() == {**NONE, "bad_mac": True, "duplicate_deliveries": 2}


def test_set_faults_switches_off_every_fault_not_named():
    set_faults(bad_mac=True, query_forbidden=True)

    set_faults(delay_seconds=1.5)

    assert current() == {**NONE, "delay_seconds": 1.5}
    assert SimulatedEcpayFaults.objects.count() == 1


def test_set_faults_refuses_a_fault_that_does_not_exist():
    with pytest.raises(TypeError):
        set_faults(lose_the_money=True)


def test_set_faults_refuses_a_value_of_the_wrong_kind():
    with pytest.raises(ValidationError):
        set_faults(bad_mac="sometimes")


def test_faults_are_set_over_http_with_a_json_object(client):
    response = post_faults(client, {"query_forbidden": True, "delay_seconds": 2})

    assert response.status_code == 200
    assert response.json() == {**NONE, "query_forbidden": True, "delay_seconds": 2.0}
    assert current() == {**NONE, "query_forbidden": True, "delay_seconds": 2.0}


def test_an_empty_object_over_http_switches_every_fault_off(client):
    set_faults(drop_notifications=True)

    post_faults(client, {})

    assert current() == NONE


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"lose_the_money": True}),
        json.dumps({"delay_seconds": -1}),
        json.dumps({"bad_mac": "sometimes"}),
        json.dumps(["bad_mac"]),
        "not json",
    ],
)
def test_faults_over_http_refuse_what_set_faults_refuses(client, body):
    response = post_faults(client, body)

    assert response.status_code == 400
    assert response.json()["message"]
    assert current() == NONE

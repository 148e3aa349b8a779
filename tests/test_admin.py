import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

PROJECT_APPS = ["accounts", "orders", "payments", "gateways", "notifications"]
PROJECT_MODELS = [
    model
    for app in PROJECT_APPS
    for model in apps.get_app_config(app).get_models()
    # The simulators' tables are the stand-in providers' state, not ours.
    if ".simulator." not in model.__module__
]


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=lambda m: m._meta.label)
def test_every_model_is_registered_in_the_admin(model):
    assert admin.site.is_registered(model)


@pytest.mark.django_db
@pytest.mark.parametrize("model", PROJECT_MODELS, ids=lambda m: m._meta.label)
def test_every_changelist_renders_for_staff(admin_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_customers_cannot_open_the_admin(client, customer):
    client.force_login(customer)
    response = client.get(reverse("admin:payments_payment_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]

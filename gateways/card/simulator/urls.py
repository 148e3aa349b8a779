"""The card simulator's routes, under /simulators/card/ when SIMULATORS_ENABLED (config/urls.py)."""

from django.urls import path

from gateways.card.simulator import views

app_name = "card_simulator"

urlpatterns = [
    path("v1/tokens", views.tokens, name="tokens"),
    path("v1/charges", views.charges, name="charges"),
    path("v1/refunds", views.refunds, name="refunds"),
]

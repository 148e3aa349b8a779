from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("payments.urls")),
    path("healthz", healthz, name="healthz"),
]

if settings.SIMULATORS_ENABLED:
    # Stand-ins for the gateways on one machine: development and tests only, never production.
    urlpatterns += [
        path("simulators/card/", include("gateways.card.simulator.urls")),
    ]

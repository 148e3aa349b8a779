from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core.views import healthz
from orders.urls import checkout_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("payments.urls")),
    path("callbacks/", include("gateways.urls")),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("checkout/", include((checkout_urlpatterns, "checkout"))),
    path("orders/", include("orders.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.SIMULATORS_ENABLED:
    # Stand-ins for the gateways on one machine: development and tests only, never production.
    urlpatterns += [
        path("simulators/card/", include("gateways.card.simulator.urls")),
        path("simulators/ecpay/", include("gateways.ecpay.simulator.urls")),
    ]

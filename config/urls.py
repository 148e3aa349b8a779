from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from core.health import healthz, readyz
from core.views import favicon
from payments.admin.dashboard import dashboard_view
from payments.checkout.urls import checkout_urlpatterns, order_urlpatterns

# Redoc, beyond the site's Content-Security-Policy: its search runs in a worker it makes from a
# blob, which only a script already let in (script-src 'self') can do.
redoc_view = csp_update({"worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(url_name="api-schema")
)

# The back office says what it is, not "Django administration".
admin.site.site_header = _("Payments back office")
admin.site.site_title = _("Payments back office")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("payments.urls")),
    # The API's OpenAPI 3 schema and its two readers, public like any API documentation.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", redoc_view, name="api-redoc"),
    path("api/v1/", include("orders.api.urls")),
    path("callbacks/", include("payments.callbacks.urls")),
    # Browsers ask for /favicon.ico whatever the page says: the one icon, where it lives.
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("checkout/", include((checkout_urlpatterns, "checkout"))),
    path("orders/", include((order_urlpatterns, "orders"))),
    path("i18n/", include("django.conf.urls.i18n")),
    # What the service emailed, kept under var/mail/: its pages answer in development only.
    path("dev/mail/", include("notifications.urls")),
]

if settings.SIMULATORS_ENABLED:
    # Stand-ins for the gateways on one machine: development and tests only, never production.
    urlpatterns += [
        path("simulators/card/", include("gateways.card.simulator.urls")),
        path("simulators/ecpay/", include("gateways.ecpay.simulator.urls")),
    ]

if settings.BENCH_ENDPOINTS_ENABLED:
    # The benchmark's bare endpoints it measures the product against (bench/): never production.
    urlpatterns += [path("bench/", include("bench.urls"))]

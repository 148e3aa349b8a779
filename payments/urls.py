from django.urls import path

from payments.api.views import (
    MeView,
    PaymentCancelView,
    PaymentDetailView,
    PaymentListView,
    PaymentRefundsView,
)

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("payments/", PaymentListView.as_view(), name="payment-list"),
    path("payments/<str:public_id>/", PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<str:public_id>/cancel/", PaymentCancelView.as_view(), name="payment-cancel"),
    path(
        "payments/<str:public_id>/refunds/",
        PaymentRefundsView.as_view(),
        name="payment-refunds",
    ),
]

from django.urls import path, re_path

from payments.api.me import MeView
from payments.api.payments import (
    PaymentCancelView,
    PaymentDetailView,
    PaymentListView,
    SeedPaymentRouteView,
)
from payments.api.refunds import PaymentRefundsView
from payments.api.wallet import (
    DepositCreateView,
    LedgerEntryListView,
    WalletView,
    WithdrawalCreateView,
)

urlpatterns = [
    path("wallet/", WalletView.as_view(), name="wallet"),
    path("wallet/entries/", LedgerEntryListView.as_view(), name="wallet-entries"),
    path("wallet/deposits/", DepositCreateView.as_view(), name="wallet-deposits"),
    path("wallet/withdrawals/", WithdrawalCreateView.as_view(), name="wallet-withdrawals"),
    path("me/", MeView.as_view(), name="me"),
    path("payments/", PaymentListView.as_view(), name="payment-list"),
    # Seed 001's singular route: refused with what to send instead.
    re_path(r"^payment/?$", SeedPaymentRouteView.as_view(), name="seed-payment-route"),
    path("payments/<str:public_id>/", PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<str:public_id>/cancel/", PaymentCancelView.as_view(), name="payment-cancel"),
    path(
        "payments/<str:public_id>/refunds/",
        PaymentRefundsView.as_view(),
        name="payment-refunds",
    ),
]

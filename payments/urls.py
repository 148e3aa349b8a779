from django.urls import path

from payments.api.views import MeView, PaymentDetailView, PaymentListView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("payments/", PaymentListView.as_view(), name="payment-list"),
    path("payments/<str:public_id>/", PaymentDetailView.as_view(), name="payment-detail"),
]

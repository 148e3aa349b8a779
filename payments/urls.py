from django.urls import path

from payments.api.views import PaymentDetailView, PaymentListView

urlpatterns = [
    path("payments/", PaymentListView.as_view(), name="payment-list"),
    path("payments/<str:public_id>/", PaymentDetailView.as_view(), name="payment-detail"),
]

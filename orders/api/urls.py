from django.urls import path

from orders.api.views import OrderDetailView, OrderListView, OrderQuoteView

urlpatterns = [
    path("orders/", OrderListView.as_view(), name="order-list"),
    path("orders/<str:number>/", OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/quote/", OrderQuoteView.as_view(), name="order-quote"),
]

from django.urls import path

from payments.checkout import views

# Mounted at /orders/ under the "orders" namespace (config/urls.py).
order_urlpatterns = [
    path("", views.order_list, name="list"),
    path("<str:number>/", views.order_detail, name="detail"),
]

# Mounted at /checkout/ under the "checkout" namespace (config/urls.py).
checkout_urlpatterns = [
    # Before "<number>/": an API client's ECPay payment, by its public id (its next_action).
    path("payments/<str:public_id>/", views.checkout_payment, name="payment"),
    path("<str:number>/", views.checkout, name="start"),
    path("<str:number>/pay/", views.checkout_pay, name="pay"),
    path(
        "<str:number>/pay-from-balance/", views.checkout_pay_from_balance, name="pay-from-balance"
    ),
    path("<str:number>/cancel/", views.checkout_cancel, name="cancel"),
    path("<str:number>/result/", views.checkout_result, name="result"),
]

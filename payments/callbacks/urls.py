from django.urls import path

from payments.callbacks.views import bank_app_callback, ecpay_notification, wallet_callback

urlpatterns = [
    path("ecpay/notify/", ecpay_notification, name="ecpay-notify"),
    path("ecpay/payment-info/", ecpay_notification, name="ecpay-payment-info"),
    path("wallet/", wallet_callback, name="wallet-callback"),
    path("bank-app/", bank_app_callback, name="bank-app-callback"),
]

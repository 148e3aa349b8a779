from django.urls import path

from gateways.views import ecpay_notification

urlpatterns = [
    path("ecpay/notify/", ecpay_notification, name="ecpay-notify"),
    path("ecpay/payment-info/", ecpay_notification, name="ecpay-payment-info"),
]

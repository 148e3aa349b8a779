"""The ECPay simulator's routes, under /simulators/ecpay/ when SIMULATORS_ENABLED
(config/urls.py): ECPay's own paths, then the simulator's buttons and fault switch."""

from django.urls import path

from gateways.ecpay.simulator import views

app_name = "ecpay_simulator"

urlpatterns = [
    path("Cashier/AioCheckOut/V5", views.checkout, name="checkout"),
    path("Cashier/QueryTradeInfo/V5", views.query_trade_info, name="query"),
    path("CreditDetail/DoAction", views.credit_do_action, name="do-action"),
    path("trades/<str:trade_no>", views.trade_detail, name="trade"),
    path("trades/<str:trade_no>/pay", views.trade_pay, name="pay"),
    path("trades/<str:trade_no>/fail", views.trade_fail, name="fail"),
    path("trades/<str:trade_no>/issue-code", views.trade_issue_code, name="issue-code"),
    path("trades/<str:trade_no>/pay-code", views.trade_pay_code, name="pay-code"),
    path("trades/<str:trade_no>/send-result", views.trade_send_result, name="send-result"),
    path("faults", views.faults_set, name="faults"),
]

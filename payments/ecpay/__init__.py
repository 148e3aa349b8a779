"""What ECPay's messages do to our payments: ECPay's protocol is `gateways.ecpay`, this is the
application of it.

- `checkout`: the signed AioCheckOut form for a payment, and the result page's check;
- `notifications`: ECPay's server notifications (ReturnURL, PaymentInfoURL) received, then
  applied once, under the payment's lock, by a worker's drain;
- `reconciliation`: the QueryTradeInfo sweep that recovers lost notifications and records what
  disagrees.
"""

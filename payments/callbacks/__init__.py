"""The gateways' callbacks, as they reach us: each is stored as it arrived, verified and parsed
by its gateway's protocol (`gateways.<name>`), and handed to what it means for our payments
(`payments.ecpay.notifications`, `payments.wallet.callbacks`).

- `views`: the endpoints ECPay, the wallet and the bank app post to (/callbacks/...);
- `replay`: processing a stored callback again, for staff.
"""

"""What the wallet's and the bank app's callbacks do to our payments: their protocol is
`gateways.wallet`, this is the application of it.

- `callbacks`: a verified callback recorded as a payment (once per the gateway's payment id),
  then settled by the worker: the order re-priced and paid, or the money credited, flagged.
"""

"""The gateways' protocols: how we talk to ECPay, the card provider, and the wallet and bank app.
Nothing here knows of payments or orders (import-linter checks it: docs/architecture.md); what a
gateway's message does to a payment is decided in `payments.<gateway>`.

Each gateway is a package with the same files, where its protocol has them:

- `__init__.py`: the way in, its settings read at each call (`ecpay_config()`,
  `get_card_gateway()`, `callback_secret()`), and its public names;
- `client.py`: what we send it (the card provider: tokenize, charge, find, refund; ECPay:
  QueryTradeInfo and DoAction);
- `checkout.py`: the signed form a customer's browser posts to it (ECPay only);
- `signature.py`: signing and verifying (ECPay's CheckMacValue, the wallets' HMAC; the card
  provider signs nothing: our key goes over TLS);
- `messages.py`: what it sends us, parsed into typed messages (ECPay's notifications, the
  wallets' callbacks; the card provider only answers, in `client.py`);
- `simulator/` or `simulator.py`: a stand-in for development and tests, never imported by
  the product.

Beside them: `base.py` (the typed errors and messages every gateway speaks), `models.py` (the
gateway list, the callback inbox, the pause switches) and its `services.py` and `selectors.py`.
"""

"""What the card provider's answers do to our payments: its protocol is `gateways.card`, this is
the application of it.

- `charges`: a card charged once, and a charge left without an answer settled by asking.
"""

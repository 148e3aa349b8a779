"""The customer's pages: their orders (/orders/), paying for one (/checkout/<number>/, on ECPay
or from their balance), cancelling the payment under way, and the result page ECPay sends the
browser back to. They only show what our database says.

- `pages`: what the pages read (the customer's orders, the payment under way, its state);
- `views`: the pages themselves; `urls`: where they are mounted.
"""

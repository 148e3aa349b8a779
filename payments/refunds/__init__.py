"""Refunds, in one place: giving money back for a completed payment, all or part.

- `services`: asking for a refund (the checks, the operation recorded), applying one the
  gateway made (the amounts, the payment and its order refunded once all is given back) and
  telling the customer of each;
- `approvals`: a refund above REFUND_APPROVAL_THRESHOLD waits for a second manager;
- `processing`: making a recorded refund at its gateway, once (the worker runs it).
"""

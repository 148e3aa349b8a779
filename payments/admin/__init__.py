"""The back office: Django's admin for payments, one module per seam of the domain.

- `payment`: the payment list (search by any reference, filters), a payment's read-only page
  with its timeline, callbacks and notifications, and the staff's actions; `payment_list`: the
  list's capped count and the work queues;
- `refunds`: refunds waiting for a second manager's approval;
- `records`: the records the services write (events, ledger entries, gateway operations) and
  the discrepancies reconciliation found;
- `callbacks`: gateway callbacks as they arrived, and replaying one;
- `customers`: the user's page, with their newest ledger entries;
- `dashboard`: /admin/dashboard/, the day's and the month's numbers.
"""

# Imported for what they register with the admin site.
from payments.admin import callbacks, customers, payment, records, refunds  # noqa: F401

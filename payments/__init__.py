"""The application: payments, and everything that acts on them (docs/architecture.md).

Top to bottom, each layer importing only the ones below it (import-linter checks it):

- the interfaces: `api/`, `callbacks/`, `checkout/`, `admin/`, `management/`, `urls.py`;
- the worker's tasks: `tasks.py`;
- what each gateway's messages do: `ecpay/`, `wallet/`, and refunds, `refunds/`;
- the pipeline's steps: `pipeline.py`, and the card's charges, `card/`;
- the domain: `services/` (every write), `selectors.py` (reads), `queue.py` (tasks queued by
  name), `limits.py`, `checks.py`, `exceptions.py`, `models.py`.
"""

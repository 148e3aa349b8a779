"""What every gateway client needs to know about a failed HTTP request."""

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError


def failed_to_connect(error: requests.ConnectionError) -> bool:
    """Whether the connection itself failed (refused, no route, unknown host), so nothing was
    sent. urllib3 reports those wrapped in MaxRetryError; a break mid-request comes bare."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)

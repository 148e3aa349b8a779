"""Delivering notifications as ECPay does: a form POST, sent again every
ECPAY_SIMULATOR_REDELIVERY_SECONDS until the answer is exactly `1|OK` with HTTP 200, at most
ECPAY_SIMULATOR_REDELIVERIES more times. Every attempt is recorded.

Deliveries run in a daemon thread so that the customer's page answers at once, as ECPay's does.
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import connections

from gateways.ecpay.simulator.models import SimulatedEcpayDelivery, SimulatedEcpayFaults

logger = logging.getLogger(__name__)

OK = "1|OK"
# Delivery threads are named after it and the trade's id.
THREAD_NAME = "ecpay-simulator-delivery"
_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Notification:
    url: str
    # Signed: CheckMacValue included.
    fields: dict[str, str]


def notifications_send(
    *, trade_id: int, notifications: Sequence[Notification], faults: SimulatedEcpayFaults
) -> None:
    """Deliver the notifications in this order, each until it is acknowledged, in the
    background. The faults decide whether they go at all, how late and how many times."""
    if faults.drop_notifications:
        return
    thread = threading.Thread(
        target=_deliver_all,
        kwargs={
            "trade_id": trade_id,
            "notifications": list(notifications),
            "copies": 1 + faults.duplicate_deliveries,
            "delay_seconds": faults.delay_seconds,
        },
        name=f"{THREAD_NAME}-{trade_id}",
        daemon=True,
    )
    thread.start()


def _deliver_all(
    *, trade_id: int, notifications: list[Notification], copies: int, delay_seconds: float
) -> None:
    try:
        time.sleep(delay_seconds)
        for notification in notifications:
            for _ in range(copies):
                _deliver(trade_id, notification)
    except Exception:
        # Nobody waits for this thread: the log is the only place a failure can show.
        logger.exception("ECPay simulator: delivering the notifications of trade %s", trade_id)
    finally:
        # The database connections this thread opened: no request cycle will close them.
        connections.close_all()


def _deliver(trade_id: int, notification: Notification) -> None:
    """POST until acknowledged or out of redeliveries."""
    attempts = 1 + settings.ECPAY_SIMULATOR_REDELIVERIES
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(settings.ECPAY_SIMULATOR_REDELIVERY_SECONDS)
        status_code, answer = _post(notification)
        SimulatedEcpayDelivery.objects.create(
            trade_id=trade_id,
            url=notification.url,
            fields=notification.fields,
            status_code=status_code,
            answer=answer[:1000],
            attempt=attempt,
        )
        if status_code == 200 and answer == OK:
            return


def _post(notification: Notification) -> tuple[int | None, str]:
    try:
        response = requests.post(
            notification.url,
            data=notification.fields,
            timeout=_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"
    return response.status_code, response.text

"""SNS in these tests is the moto server of tests/conftest.py.

Every test points boto3 at it with fake credentials (so nothing can reach AWS) and starts with
SNS off; a test that wants SNS asks for `sns_topic` or `make_topic`, which subscribe an SQS queue
to the topic so the published messages can be read back.
"""

import uuid
from collections.abc import Callable

import pytest

from tests.aws import Topic


@pytest.fixture(autouse=True)
def aws_is_moto(moto_url, monkeypatch, settings):
    # boto3 reads its SNS endpoint from the environment, the way production reads real AWS's.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    settings.NOTIFICATIONS_SNS_TOPIC_ARN = ""


@pytest.fixture
def sns_topic(make_topic: Callable[[str], Topic], settings) -> Topic:
    """A fresh topic, set as the one notifications are published to."""
    topic = make_topic(f"payments-{uuid.uuid4().hex}")
    settings.NOTIFICATIONS_SNS_TOPIC_ARN = topic.arn
    return topic

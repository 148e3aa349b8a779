"""Talking to the moto server the tests start (tests/conftest.py): SNS topics read back."""

import json
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class Topic:
    """An SNS topic with an SQS queue subscribed to it, to read back what was published."""

    arn: str
    queue_url: str
    sqs: Any

    def published(self) -> list[dict[str, Any]]:
        """Every message published since the last call: its subject and its parsed JSON body."""
        messages: list[dict[str, Any]] = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not received:
                return messages
            for message in received:
                envelope = json.loads(message["Body"])
                messages.append(
                    {"subject": envelope["Subject"], "body": json.loads(envelope["Message"])}
                )
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def topic_arn(name: str, region: str) -> str:
    """The ARN moto gives a topic called `name` (its default account)."""
    return f"arn:aws:sns:{region}:123456789012:{name}"


REGION = "ap-northeast-1"


def create_topic(*, moto_url: str, name: str) -> Topic:
    """An SNS topic on moto with an SQS queue subscribed to it."""
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_url, **_FAKE_CREDENTIALS)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url, **_FAKE_CREDENTIALS)
    arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return Topic(arn=arn, queue_url=queue_url, sqs=sqs)


_FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def secret_set(client: Any, name: str, value: dict[str, str]) -> None:
    """The Secrets Manager secret `name` holding `value` (JSON), whether or not an earlier test
    of the session made it: the moto server lives as long as the session."""
    try:
        client.create_secret(Name=name, SecretString=json.dumps(value))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=json.dumps(value))

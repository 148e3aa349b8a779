"""The SQS broker's dead-letter queues on moto (issue 22, 7): deploy/sqs-queues.yaml, deployed
as a CloudFormation stack, gives every queue a redrive policy to a dead-letter queue of its own
and an alarm on it; a poison message (received again and again, never acknowledged) lands in
the dead-letter queue; `manage.py sqs_dead_letters` lists, inspects and redrives it."""

import base64
import json
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.aws import REGION

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "sqs-queues.yaml"
CONCERNS = ("pipeline", "notifications", "maintenance")


@pytest.fixture
def stack(aws, settings):
    """The template deployed, and the settings of a service that uses it."""
    prefix = f"payments-test-{uuid.uuid4().hex[:8]}-"
    cloudformation = aws("cloudformation")
    name = prefix.rstrip("-")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "Prefix", "ParameterValue": prefix},
            {"ParameterKey": "MaxReceiveCount", "ParameterValue": "2"},
        ],
    )
    outputs = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    [url_prefix] = [
        o["OutputValue"] for o in outputs if o["OutputKey"] == "CelerySqsQueueUrlPrefix"
    ]
    settings.CELERY_BROKER_URL = "sqs://"
    settings.CELERY_SQS_QUEUE_URL_PREFIX = url_prefix
    settings.AWS_REGION = REGION
    return prefix, url_prefix


def celery_message(task: str, *args: int) -> str:
    """A task message as kombu's SQS transport sends one: its envelope, base64-encoded."""
    body = base64.b64encode(json.dumps([list(args), {}, {}]).encode()).decode()
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"task": task, "id": str(uuid.uuid4()), "argsrepr": repr(args), "retries": 0},
        "properties": {"delivery_tag": str(uuid.uuid4()), "body_encoding": "base64"},
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def poison(sqs, queue_url: str, *messages: str) -> None:
    """Send each message, then receive them without ever acknowledging, as a worker that dies on
    them does, until SQS dead-letters them (MaxReceiveCount 2)."""
    for message in messages:
        sqs.send_message(QueueUrl=queue_url, MessageBody=message)
    for _ in range(4):
        sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)


def waiting(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_the_template_gives_every_queue_a_dead_letter_queue(aws, stack):
    prefix, url_prefix = stack
    sqs = aws("sqs")
    for concern in CONCERNS:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url_prefix + concern, AttributeNames=["All"]
        )["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["deadLetterTargetArn"].endswith(f":{prefix}{concern}-dead-letters")
        assert int(policy["maxReceiveCount"]) == 2
        assert attributes["VisibilityTimeout"] == "3600"


def cloudformation_yaml(text: str) -> dict:
    """The template as data, its short-form functions (!Ref, !Sub ...) kept as {tag: value}."""

    class Loader(yaml.SafeLoader):
        pass

    def function(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: object = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {suffix: value}

    Loader.add_multi_constructor("!", function)
    template: dict = yaml.load(text, Loader=Loader)  # noqa: S506  (a SafeLoader)
    return template


def test_every_dead_letter_queue_has_an_alarm_on_its_depth():
    """Read from the template: moto's CloudFormation does not deploy CloudWatch alarms."""
    resources = cloudformation_yaml(TEMPLATE.read_text())["Resources"]
    alarms = {
        alarm["Properties"]["Dimensions"][0]["Value"]["GetAtt"]: alarm["Properties"]
        for alarm in resources.values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
    }
    for concern in CONCERNS:
        dead_letters = f"{concern.capitalize()}DeadLetters"
        alarm = alarms[f"{dead_letters}.QueueName"]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert resources[dead_letters]["Properties"]["MessageRetentionPeriod"] == 1209600


def test_a_poison_message_is_listed_inspected_and_redriven(aws, stack, capsys):
    _, url_prefix = stack
    sqs = aws("sqs")
    pipeline = url_prefix + "pipeline"
    dead_letters = url_prefix + "pipeline-dead-letters"
    poison(
        sqs,
        pipeline,
        celery_message("payments.tasks.payment_validate", 41),
        celery_message("payments.tasks.payment_validate", 42),
        "not a celery message",
    )
    assert (waiting(sqs, pipeline), waiting(sqs, dead_letters)) == (0, 3)

    call_command("sqs_dead_letters", "list")
    listed = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in listed] == [
        "pipeline: 3 dead letters",
        "notifications: 0 dead letters",
        "maintenance: 0 dead letters",
    ]

    call_command("sqs_dead_letters", "inspect", "--queue", "pipeline")
    inspected = capsys.readouterr().out
    assert "payments.tasks.payment_validate(41,)" in inspected
    assert "payments.tasks.payment_validate(42,)" in inspected
    assert "?? id ?" in inspected  # the one that is no Celery message, shown as such
    assert waiting(sqs, dead_letters) == 3  # inspecting leaves them

    call_command("sqs_dead_letters", "redrive", "--queue", "pipeline", "--dry-run")
    assert "would redrive 3" in capsys.readouterr().out
    assert (waiting(sqs, pipeline), waiting(sqs, dead_letters)) == (0, 3)

    call_command("sqs_dead_letters", "redrive", "--queue", "pipeline", "--limit", "2")
    assert "redrove 2" in capsys.readouterr().out
    assert (waiting(sqs, pipeline), waiting(sqs, dead_letters)) == (2, 1)

    call_command("sqs_dead_letters", "redrive")
    assert "pipeline: redrove 1" in capsys.readouterr().out
    assert (waiting(sqs, pipeline), waiting(sqs, dead_letters)) == (3, 0)
    bodies = [
        message["Body"]
        for message in sqs.receive_message(QueueUrl=pipeline, MaxNumberOfMessages=10)["Messages"]
    ]
    assert "not a celery message" in bodies  # sent back as it was


def test_a_queue_without_a_redrive_policy_is_an_error_that_names_the_template(
    aws, settings, capsys
):
    sqs = aws("sqs")
    prefix = f"payments-bare-{uuid.uuid4().hex[:8]}-"
    for concern in CONCERNS:
        sqs.create_queue(QueueName=prefix + concern)
    settings.CELERY_BROKER_URL = "sqs://"
    settings.CELERY_SQS_QUEUE_URL_PREFIX = sqs.get_queue_url(QueueName=prefix + "pipeline")[
        "QueueUrl"
    ].removesuffix("pipeline")

    with pytest.raises(CommandError, match=r"deploy/sqs-queues\.yaml"):
        call_command("sqs_dead_letters", "list")


def test_with_another_broker_the_command_points_to_reprocess_payments():
    with pytest.raises(CommandError, match="reprocess_payments"):
        call_command("sqs_dead_letters", "list")

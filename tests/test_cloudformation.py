"""The deployment's CloudFormation templates (deploy/*.yaml, issue 25): cfn-lint finds nothing in
them nor in the JSON that is deployed; no policy allows every action, nor every resource where a
name is known; and they deploy, queues stack then service stack, on moto, where what moto
supports (roles, secrets, topic, queues, log group, cluster, task definitions, load balancer)
comes out as the templates say."""

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gateways.services
import payments.tasks
from tests.aws import REGION
from tests.processes import ROOT

DEPLOY = ROOT / "deploy"
SERVICE = DEPLOY / "service.yaml"
QUEUES = DEPLOY / "sqs-queues.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
# Actions AWS gives no resource-level permission: a statement may name "*" for them only.
ACTIONS_WITHOUT_RESOURCES = {
    "ecr:GetAuthorizationToken",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def rendered(path: Path) -> dict[str, Any]:
    """The template as deploy/render.py gives it to CloudFormation."""
    done = subprocess.run(
        [sys.executable, "deploy/render.py", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    template: dict[str, Any] = json.loads(done.stdout)
    return template


def test_cfn_lint_finds_nothing_in_the_templates(tmp_path):
    # The sources, by .cfnlintrc.yaml ...
    sources = subprocess.run([CFN_LINT], cwd=ROOT, capture_output=True, text=True)
    assert sources.returncode == 0, sources.stdout + sources.stderr
    # ... and what is deployed, with every rule.
    for path in (SERVICE, QUEUES):
        deployed = tmp_path / f"{path.stem}.json"
        deployed.write_text(json.dumps(rendered(path)))
        done = subprocess.run(
            [CFN_LINT, "--ignore-checks", "none", "--", str(deployed)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_allows_every_action_or_every_resource_it_could_name():
    statements = list(policy_statements(rendered(SERVICE)))
    assert len(statements) > 10

    for role, statement in statements:
        actions = as_list(statement["Action"])
        assert all(action != "*" and not action.endswith(":*") for action in actions), role
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (role, statement["Sid"])


def test_each_service_has_a_role_of_its_own_and_the_load_balancer_asks_liveness():
    resources = rendered(SERVICE)["Resources"]
    tasks = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }
    roles = {name: task["TaskRoleArn"]["Fn::GetAtt"][0] for name, task in tasks.items()}
    assert roles == {
        "WebTask": "WebRole",
        "PipelineWorkerTask": "WorkerRole",
        "NotificationsWorkerTask": "WorkerRole",
        "MaintenanceWorkerTask": "WorkerRole",
        "BeatTask": "BeatRole",
        "MigrateTask": "TaskRunRole",
    }
    # Only the workers take messages from the queues.
    receivers = {
        role
        for role, statement in policy_statements({"Resources": resources})
        if "sqs:ReceiveMessage" in as_list(statement["Action"])
    }
    assert receivers == {"WorkerRole"}
    assert resources["WebTargets"]["Properties"]["HealthCheckPath"] == "/healthz"
    # No secret in a task's plain environment: each comes from Secrets Manager. The database
    # user is one too: the owner's in the migrate task only, the rows-only user's elsewhere.
    for name, task in tasks.items():
        [container] = task["ContainerDefinitions"]
        plain = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
        secret = {
            variable["Name"]: json.dumps(variable["ValueFrom"]) for variable in container["Secrets"]
        }
        assert {"DJANGO_SECRET_KEY", "DATABASE_USER", "DATABASE_PASSWORD", "ECPAY_HASH_KEY"} <= set(
            secret
        )
        assert not set(secret) & set(plain)
        assert "@" not in json.dumps(plain["DATABASE_URL"])
        database_user = "DatabaseSecret" if name == "MigrateTask" else "DatabaseAppSecret"
        assert database_user + "}:username" in secret["DATABASE_USER"], name
        assert database_user + "}:password" in secret["DATABASE_PASSWORD"], name
    migrate = tasks["MigrateTask"]["ContainerDefinitions"][0]
    assert "database_users --require-tls" in migrate["Command"][-1]


# What moto's CloudFormation cannot create (no support for secrets, SES identities or
# ElastiCache; a parameter group it creates under another name than the template gives): left
# out of the moto deployment, every reference to them standing in as a name.
NOT_ON_MOTO = {
    "AWS::SecretsManager::Secret",
    "AWS::SES::EmailIdentity",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBInstance",
}


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    left_out = {
        name for name, resource in template["Resources"].items() if resource["Type"] in NOT_ON_MOTO
    }

    def stand_in(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("Ref") in left_out:
                return f"stand-in-{value['Ref']}"
            if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] in left_out:
                return "stand-in-" + "-".join(value["Fn::GetAtt"])
            if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
                text = value["Fn::Sub"]
                for name in left_out:
                    text = re.sub(rf"\$\{{{name}(\.[A-Za-z.]+)?\}}", f"stand-in-{name}", text)
                return {"Fn::Sub": text}
            return {key: stand_in(item) for key, item in value.items()}
        if isinstance(value, list):
            return [stand_in(item) for item in value]
        return value

    kept = {name: r for name, r in template["Resources"].items() if name not in left_out}
    for resource in kept.values():
        depends = [d for d in as_list(resource.get("DependsOn", [])) if d not in left_out]
        resource.pop("DependsOn", None)
        if depends:
            resource["DependsOn"] = depends
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not any(name in json.dumps(output) for name in left_out)
    }
    moto_template: dict[str, Any] = stand_in({**template, "Resources": kept, "Outputs": outputs})
    return moto_template


def test_the_templates_deploy_on_moto(aws):
    prefix = f"payments-{uuid.uuid4().hex[:8]}"
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
        for n, zone in enumerate("acac")
    ]
    gateways = aws("secretsmanager").create_secret(
        Name=f"{prefix}/gateways", SecretString=json.dumps({"ECPAY_HASH_KEY": "x"})
    )["ARN"]
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=f"{prefix}-queues",
        TemplateBody=json.dumps(rendered(QUEUES)),
        Parameters=[{"ParameterKey": "Prefix", "ParameterValue": f"{prefix}-"}],
    )
    parameters = {
        "Prefix": prefix,
        "QueuePrefix": f"{prefix}-",
        "VpcId": vpc,
        "PublicSubnetIds": ",".join(subnets[:2]),
        "PrivateSubnetIds": ",".join(subnets[2:]),
        "ImageUri": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/payment-service@sha256:0",
        "DomainName": "payments.example.com",
        "CertificateArn": aws("acm").request_certificate(DomainName="payments.example.com")[
            "CertificateArn"
        ],
        "MailDomain": "example.com",
        "FromAddress": "payments@example.com",
        "GatewaySecretArn": gateways,
        "CardProviderUrl": "https://card-provider.example.com/v1",
    }
    cloudformation.create_stack(
        StackName=prefix,
        TemplateBody=json.dumps(for_moto(rendered(SERVICE))),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )

    [stack] = cloudformation.describe_stacks(StackName=prefix)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    iam = aws("iam")
    for role in ("execution", "web", "worker", "beat", "task"):
        [policy] = iam.list_role_policies(RoleName=f"{prefix}-{role}")["PolicyNames"]
        assert policy
    queues = aws("sqs").list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert len(queues) == 6  # three queues, each with its dead letters
    assert any(
        topic["TopicArn"].endswith(f":{prefix}-events")
        for topic in aws("sns").list_topics()["Topics"]
    )
    ecs = aws("ecs")
    families = {
        arn.rsplit("/", 1)[1].rsplit(":", 1)[0]
        for arn in ecs.list_task_definitions()["taskDefinitionArns"]
    }
    assert {f"{prefix}-{family}" for family in ("web", "beat", "migrate")} <= families
    [groups] = [aws("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{prefix}")["logGroups"]]
    assert groups[0]["retentionInDays"] == 90
    [target_group] = aws("elbv2").describe_target_groups(Names=[f"{prefix}-web"])["TargetGroups"]
    assert target_group["HealthCheckPath"] == "/healthz"

    # A release's first step (docs/deploy.md, Releasing): the new image reaches the migrate
    # task only; the services keep running the old one until their migrations are applied.
    release = parameters["ImageUri"].replace("sha256:0", "sha256:1")
    cloudformation.update_stack(
        StackName=prefix,
        TemplateBody=json.dumps(for_moto(rendered(SERVICE))),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in {**parameters, "MigrateImageUri": release}.items()
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )

    def revision(family: str) -> int:
        task = ecs.describe_task_definition(taskDefinition=f"{prefix}-{family}")
        return int(task["taskDefinition"]["revision"])

    # Which task definitions changed: moto's update keeps no container's image, so the
    # revision numbers tell (a new one for migrate, none for the services).
    assert revision("migrate") == 2
    assert revision("web") == revision("beat") == revision("worker-pipeline") == 1


def test_the_unknown_outcomes_alarm_reads_the_field_the_janitor_logs():
    resources = rendered(SERVICE)["Resources"]
    metric_filter = resources["UnknownOutcomesFilter"]["Properties"]
    alarm = resources["UnknownOutcomesAlarm"]["Properties"]

    # tests/payments/test_card_pipeline.py checks the line has these.
    assert f'$.logger = "{payments.tasks.logger.name}"' in metric_filter["FilterPattern"]
    [transformation] = metric_filter["MetricTransformations"]
    assert transformation["MetricValue"] == "$.oldest_unknown_seconds"
    assert alarm["MetricName"] == transformation["MetricName"]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 900)


def test_the_log_alarms_read_the_lines_the_code_writes():
    """tests/payments/test_metrics.py checks these lines are written as the filters expect."""
    resources = rendered(SERVICE)["Resources"]
    refused = resources["CallbacksRefusedFilter"]["Properties"]["FilterPattern"]
    ledger = resources["LedgerMismatchFilter"]["Properties"]["FilterPattern"]

    assert f'$.logger = "{gateways.services.logger.name}"' in refused
    assert "refused: bad signature" in refused
    assert f'$.logger = "{payments.tasks.logger.name}"' in ledger
    assert "differ from their ledger" in ledger
    for alarm in ("CallbacksRefusedAlarm", "LedgerMismatchAlarm"):
        assert resources[alarm]["Properties"]["Namespace"] == {"Ref": "Prefix"}

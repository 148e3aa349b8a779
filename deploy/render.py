"""Render a CloudFormation template of deploy/ as the JSON CloudFormation takes.

    .venv/bin/python deploy/render.py deploy/service.yaml > service.json
    aws cloudformation deploy --template-file service.json --stack-name ... (docs/deploy.md)

The YAML shares repeated blocks (a task's environment and secrets, the roles' trust policy)
through anchors, which keep one copy of each in the source but which CloudFormation refuses.
cfn-lint's loader (a development package: requirements-dev.txt) reads the short tags (!Sub,
!Ref ...) and the anchors; the JSON it gives has every block written out.
"""

import json
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode


def render(path: Path) -> dict[str, Any]:
    template, problems = decode(str(path))
    if problems or template is None:
        raise SystemExit("\n".join(str(problem) for problem in problems) or f"{path}: empty")
    rendered: dict[str, Any] = json.loads(json.dumps(template))
    return rendered


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} deploy/<template>.yaml")
    json.dump(render(Path(sys.argv[1])), sys.stdout, indent=2)
    sys.stdout.write("\n")

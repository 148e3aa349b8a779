"""Statuses change in one place per aggregate: nothing else in the code assigns `status`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ["accounts", "core", "gateways", "notifications", "orders", "payments"]
# The transition functions, by file: the only places allowed to assign `.status` (payment and
# order transitions make the move in a helper of their own, for a row locked or not yet).
TRANSITION_FUNCTIONS = {
    ("payments/services/transitions.py", "_payment_move"),
    ("orders/services.py", "_order_move"),
    ("payments/services/operations.py", "operation_settle"),
    ("notifications/services.py", "_notification_set_status"),
    ("payments/refunds/approvals.py", "_refund_approval_decide"),
}


def status_assignments() -> set[tuple[str, str]]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    targets = []
                    if isinstance(node, ast.Assign):
                        targets = node.targets
                    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                        targets = [node.target]
                    if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
                        found.add((str(path.relative_to(ROOT)), function.name))
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "update"
                        and any(keyword.arg == "status" for keyword in node.keywords)
                    ):
                        found.add((str(path.relative_to(ROOT)), function.name))
    return found


def test_only_the_transition_functions_assign_status():
    assert status_assignments() == TRANSITION_FUNCTIONS

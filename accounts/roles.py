"""The back office's roles: which group may do what.

Two groups, created by the data migration `accounts/0003_back_office_roles` and given more by the
later ones (`0005_sign_in_lockouts`), which hold copies of these lists (a migration must not
import code that can change later); a test checks they agree. Change a role here and in a new
migration together.

Each permission is (app label, model, codename): the model is what the permission is about, so
the migration can create one that does not exist yet.
"""

REVIEWERS = "Payment reviewers"
MANAGERS = "Payment managers"

RolePermission = tuple[str, str, str]

REVIEWER_PERMISSIONS: tuple[RolePermission, ...] = (
    ("payments", "payment", "view_payment"),
    ("payments", "payment", "reprocess_payment"),
    ("payments", "payment", "review_payment"),
    ("payments", "paymentevent", "view_paymentevent"),
    ("payments", "gatewayoperation", "view_gatewayoperation"),
    ("payments", "ledgerentry", "view_ledgerentry"),
    # Reviewers resolve the discrepancies reconciliation finds.
    ("payments", "reconciliationdiscrepancy", "view_reconciliationdiscrepancy"),
    ("payments", "reconciliationdiscrepancy", "change_reconciliationdiscrepancy"),
    ("orders", "order", "view_order"),
    ("orders", "orderitem", "view_orderitem"),
    # An order's own records: its timeline and how it was paid (the order page's inline).
    ("orders", "orderevent", "view_orderevent"),
    ("orders", "paymentheader", "view_paymentheader"),
    ("gateways", "gatewaycallback", "view_gatewaycallback"),
    ("gateways", "gatewayswitch", "view_gatewayswitch"),
    ("notifications", "notification", "view_notification"),
    ("accounts", "user", "view_user"),
    # Sign-in lockouts (django-axes): who is locked out, from where, since when.
    ("axes", "accessattempt", "view_accessattempt"),
)

MANAGER_PERMISSIONS: tuple[RolePermission, ...] = (
    *REVIEWER_PERMISSIONS,
    ("payments", "payment", "refund_payment"),
    ("payments", "payment", "approve_refund"),
    ("payments", "payment", "export_payment"),
    # Pausing and unpausing a gateway.
    ("gateways", "gatewayswitch", "change_gatewayswitch"),
    ("gateways", "gatewaycallback", "replay_callback"),
    ("notifications", "notification", "resend_notification"),
    # Lifting a sign-in lockout is deleting its attempts.
    ("axes", "accessattempt", "delete_accessattempt"),
)

ROLES: dict[str, tuple[RolePermission, ...]] = {
    REVIEWERS: REVIEWER_PERMISSIONS,
    MANAGERS: MANAGER_PERMISSIONS,
}

# The permissions no model's `Meta` declares (or had not yet when the roles were made): the
# migration creates them with these names if they do not exist.
CUSTOM_PERMISSION_NAMES: dict[str, str] = {
    "reprocess_payment": "Can reprocess payments",
    "review_payment": "Can mark payments reviewed",
    "refund_payment": "Can refund payments",
    "approve_refund": "Can approve refunds",
    "export_payment": "Can export payments",
    "replay_callback": "Can replay gateway callbacks",
    "resend_notification": "Can resend notifications",
}

from typing import Any

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import ROLES, RolePermission


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "balance", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    # Balance moves only through the ledger services, never by hand.
    readonly_fields = ("balance", "balance_currency", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Balance", {"fields": ("balance", "balance_currency")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


# Importing axes.admin (above) registered django-axes's own admin: replaced by the one below.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    """Sign-in lockouts, as django-axes lists them, without its "Clean up expired attempts"
    action: that action asks for no permission (a reviewer, who may only view lockouts, could
    run it) and crashes outside a sign-in request (it reads the sign-in's time off the
    request). Expired attempts are cleaned at every sign-in anyway; a manager lifts a lockout
    by deleting its attempts (`delete_accessattempt`)."""

    actions: list[Any] = []


def staff_member(request: HttpRequest) -> User:
    """The member of staff behind an admin request, for the services' `actor`. The admin lets
    only signed-in staff this far; the check keeps the type honest."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


class ActionPermissions:
    """For a ModelAdmin whose actions each need a permission of their own
    (`@admin.action(permissions=["refund"])`): `action_permissions` names the permission behind
    each (`{"refund": "payments.refund_payment"}`), `has_<name>_permission` checks it
    (`action_allowed`), and an action someone may not run is refused with a message that names
    the permission and the role that has it, instead of Django's "No action selected." (Django
    hides such an action from the list; an old page or a crafted post still sends it.)
    """

    action_permissions: dict[str, str] = {}

    def action_allowed(self, request: HttpRequest, name: str) -> bool:
        return bool(request.user.has_perm(self.action_permissions[name]))

    def response_action(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        refusal = self._action_refusal(request, request.POST.get("action", ""))
        if refusal:
            self.message_user(request, refusal, messages.ERROR)  # type: ignore[attr-defined]
            return None
        return super().response_action(request, queryset)  # type: ignore[misc]

    def _action_refusal(self, request: HttpRequest, name: str) -> str:
        declared = {action for action in (self.actions or ()) if isinstance(action, str)}  # type: ignore[attr-defined]
        if name not in declared or name in self.get_actions(request):  # type: ignore[attr-defined]
            return ""
        function = getattr(self, name)
        needed = [
            self.action_permissions[permission]
            for permission in getattr(function, "allowed_permissions", ())
            if permission in self.action_permissions
        ]
        if not needed:
            return ""
        permission = needed[0]
        roles = [role for role, granted in ROLES.items() if _grants(granted, permission)]
        who = (
            _("which the %(roles)s role has") % {"roles": ", ".join(roles)}
            if roles
            else _("which no role has: a superuser grants it")
        )
        return _('You may not "%(action)s": it needs the permission %(permission)s, %(who)s.') % {
            "action": getattr(function, "short_description", name),
            "permission": permission,
            "who": who,
        }


def _grants(granted: tuple[RolePermission, ...], permission: str) -> bool:
    app_label, codename = permission.split(".", 1)
    return any(app == app_label and code == codename for app, _model, code in granted)

from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """Django's admin with the back office's site (two-factor sign-in) as `admin.site`."""

    default_site = "accounts.admin_site.BackOfficeSite"

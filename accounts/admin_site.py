"""The back office's admin site: Django's, with two-factor sign-in (accounts/two_factor.py).

A member of staff who must prove a second factor and has not yet in this session is not let in:
every admin page sends them to the code page, and after a good code back where they were going.
The code and enrolment pages sit beside the admin's own, outside `admin_view` (which would send
an unverified user round in a circle).
"""

from typing import Any
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from accounts.models import User
from accounts.two_factor import (
    EnrolmentRefused,
    authenticator_key,
    enrolment_confirm,
    enrolment_device,
    has_authenticator,
    recovery_codes_left,
    session_is_trusted,
    verification_attempt,
)
from core.admin import ListFilterLookupsOnly


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class BackOfficeSite(admin.AdminSite):
    site_header = gettext_lazy("Payments back office")
    site_title = gettext_lazy("Payments back office")
    index_title = gettext_lazy("Back office")

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and session_is_trusted(request)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every admin here, Django's and other packages' too, answers only the lookups its own
        list filters make (`core.admin.ListFilterLookupsOnly` says why)."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ListFilterLookupsOnly):
            admin_class = type(admin_class.__name__, (ListFilterLookupsOnly, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [
            path("two-factor/", never_cache(self.two_factor_verify), name="two_factor_verify"),
            path(
                "two-factor/enrol/<str:token>/",
                never_cache(self.two_factor_enrol),
                name="two_factor_enrol",
            ),
            # Signing out needs no second factor: Django's admin_view would send a member of
            # staff who gave their password but no code back to the code page, signed in
            # still (the code page's "Sign out" did nothing). Django's own view, before its
            # pattern of the same path: POST only, CSRF-checked.
            path("logout/", never_cache(self.logout), name="logout"),
            *super().get_urls(),
        ]

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "GET" and self._signed_in_unverified(request):
            return self._to_verify(request, request.GET.get(REDIRECT_FIELD_NAME, ""))
        response = super().login(request, extra_context)
        if (
            request.method == "POST"
            and isinstance(response, HttpResponseRedirect)
            and self._signed_in_unverified(request)
        ):
            return self._to_verify(request, response.url)
        return response

    def two_factor_verify(self, request: HttpRequest) -> HttpResponse:
        """The second step of signing in: a code from the authenticator, or a recovery code."""
        user = request.user
        target = self._safe_target(request, request.GET.get(REDIRECT_FIELD_NAME, ""))
        if not isinstance(user, User) or not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if session_is_trusted(request):
            return HttpResponseRedirect(target)
        context = {
            **self._two_factor_context(request),
            "title": _("Two-factor sign-in"),
            "has_authenticator": has_authenticator(user),
            "next": target,
        }
        form = CodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and context["has_authenticator"]:
            result = verification_attempt(
                request=request, user=user, code=form.cleaned_data["code"]
            )
            if result.verified:
                return HttpResponseRedirect(target)
            if result.wait_seconds:
                form.add_error(
                    "code",
                    _("Too many wrong codes: wait %(seconds)s seconds, then try again.")
                    % {"seconds": result.wait_seconds},
                )
            else:
                form.add_error("code", _("That code is not right. Try the current one."))
        context["form"] = form
        return TemplateResponse(request, "admin/two_factor/verify.html", context)

    def two_factor_enrol(self, request: HttpRequest, token: str) -> HttpResponse:
        """Setting up an authenticator from an enrolment link, signed in with the password."""
        user = request.user
        if not isinstance(user, User) or not user.is_active:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        context: dict[str, Any] = {
            **self._two_factor_context(request),
            "title": _("Set up two-factor sign-in"),
        }
        try:
            device = enrolment_device(user=user, token=token)
        except EnrolmentRefused as refusal:
            context["refusal"] = str(refusal)
            return TemplateResponse(request, "admin/two_factor/enrol.html", context, status=403)
        form = CodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            codes = enrolment_confirm(
                request=request, device=device, code=form.cleaned_data["code"]
            )
            if codes is not None:
                context.update({"title": _("Your recovery codes"), "recovery_codes": codes})
                return TemplateResponse(request, "admin/two_factor/recovery_codes.html", context)
            form.add_error("code", _("That code is not right. Try the current one."))
        context.update(
            {
                "form": form,
                "qr_code": _qr_svg(device.config_url),
                "secret": authenticator_key(device),
                "recovery_codes_left": recovery_codes_left(user),
            }
        )
        return TemplateResponse(request, "admin/two_factor/enrol.html", context)

    def _two_factor_context(self, request: HttpRequest) -> dict[str, Any]:
        # No list of the back office's pages beside a page that is not yet in it.
        return {**self.each_context(request), "available_apps": [], "is_nav_sidebar_enabled": False}

    def _signed_in_unverified(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            isinstance(user, User)
            and user.is_active
            and user.is_staff
            and not session_is_trusted(request)
        )

    def _to_verify(self, request: HttpRequest, target: str) -> HttpResponseRedirect:
        target = self._safe_target(request, target)
        # The two-factor pages themselves (an enrolment link above all: where a user without an
        # authenticator is going) are open to a user signed in with their password.
        if target.startswith(reverse("admin:two_factor_verify")):
            return HttpResponseRedirect(target)
        verify = reverse("admin:two_factor_verify")
        return HttpResponseRedirect(f"{verify}?{REDIRECT_FIELD_NAME}={quote(target, safe='/')}")

    def _safe_target(self, request: HttpRequest, target: str) -> str:
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return reverse("admin:index")


def _qr_svg(text: str) -> str:
    """`text` as a QR code in SVG, to put in the page (no image file, no request elsewhere)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return mark_safe(str(image.to_string(encoding="unicode")))  # noqa: S308 - qrcode's own markup

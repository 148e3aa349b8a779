"""The payment list's reading pieces: a count that stays cheap on a large table, and the staff's
work queues."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

from payments.models import (
    GatewayOperation,
    OperationStatus,
    PaymentStatus,
    ReconciliationDiscrepancy,
    RefundApproval,
    RefundApprovalStatus,
)

# Counting a large table to number its pages reads every row: count at most this many.
COUNT_CAP = 1000


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most COUNT_CAP + 1 rows (`SELECT COUNT(*) FROM (... LIMIT n)`), so a page of
    payments costs the same on a table of a thousand rows or of fifty million. Past the cap the
    last pages are not reachable by number: staff narrow the list with filters instead."""

    @cached_property
    def count(self) -> int:
        object_list: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return object_list.order_by().values("pk")[: COUNT_CAP + 1].count()


class WorkQueueFilter(admin.SimpleListFilter):
    """The staff's work queues. Each item leaves its queue only when someone resolves it."""

    title = "work queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("review", "Needs review"),
            ("stuck", f"Stuck pending / processing > {settings.STUCK_PAYMENT_MINUTES} min"),
            ("unknown", "Gateway outcome unknown"),
            ("discrepancy", "Reconciliation discrepancy"),
            ("approval", "Refund waiting for approval"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        match self.value():
            case "review":
                return queryset.filter(needs_review=True)
            case "stuck":
                stuck_before = timezone.now() - timedelta(minutes=settings.STUCK_PAYMENT_MINUTES)
                return queryset.filter(
                    status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING],
                    created_at__lt=stuck_before,
                )
            case "unknown":
                unknown = GatewayOperation.objects.filter(
                    payment=OuterRef("pk"), status=OperationStatus.UNKNOWN
                )
                return queryset.filter(Exists(unknown))
            case "discrepancy":
                open_ = ReconciliationDiscrepancy.objects.filter(
                    payment=OuterRef("pk"), resolved_at__isnull=True
                )
                return queryset.filter(Exists(open_))
            case "approval":
                waiting = RefundApproval.objects.filter(
                    payment=OuterRef("pk"), status=RefundApprovalStatus.REQUESTED
                )
                return queryset.filter(Exists(waiting))
        return queryset

"""The back office's dashboard: what the payments did today and over the last 30 days.

`dashboard_numbers` is the selector (three aggregate queries, however many payments);
`dashboard_view` renders it at /admin/dashboard/ with a chart drawn on the server as inline SVG
(no JavaScript, nothing fetched from elsewhere).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import CENT
from gateways.models import Gateway
from payments.models import Payment, PaymentStatus

DAYS = 30
STUCK_STATUSES = (PaymentStatus.PENDING, PaymentStatus.PROCESSING)


@dataclass(frozen=True)
class Line:
    """Payments of one status or one gateway: how many, and how much in each currency."""

    key: str
    label: str
    count: int
    volumes: list[tuple[str, Decimal]]


@dataclass(frozen=True)
class Period:
    count: int
    # Every payment's amount, whatever became of it; and the money that came in.
    volumes: list[tuple[str, Decimal]]
    completed_volumes: list[tuple[str, Decimal]]
    by_status: list[Line]
    by_gateway: list[Line]
    # Percent of the payments that ended (completed or failed) that failed; None if none ended.
    failure_rate: Decimal | None


@dataclass(frozen=True)
class StuckPayments:
    status: str
    label: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class DayCounts:
    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class DashboardNumbers:
    today: Period
    last_30_days: Period
    review_queue: int
    stuck: list[StuckPayments]
    stuck_before: datetime
    days: list[DayCounts]


def dashboard_numbers(*, now: datetime | None = None) -> DashboardNumbers:
    """Counts and volumes by status and gateway for today and the last 30 days (today and the
    29 days before it, in the local time zone), the review queue, and the payments stuck
    pending or processing longer than `STUCK_PAYMENT_MINUTES`. Three queries.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    # Local midnights, computed here rather than by the database: MariaDB without its time
    # zone tables answers NULL to CONVERT_TZ, so grouping by a local day in SQL is not safe.
    midnights = [_midnight(today - timedelta(days=DAYS - 1 - index)) for index in range(DAYS)]
    day_counts = {
        f"day_{index}": Count(
            "pk",
            filter=Q(created_at__gte=start)
            & (Q(created_at__lt=midnights[index + 1]) if index + 1 < DAYS else Q()),
        )
        for index, start in enumerate(midnights)
    }
    today_only = Q(created_at__gte=midnights[-1])
    rows = list(
        Payment.objects.filter(created_at__gte=midnights[0])
        .values("status", "gateway", "currency")
        .annotate(
            count=Count("pk"),
            volume=Sum("amount"),
            today_count=Count("pk", filter=today_only),
            today_volume=Sum("amount", filter=today_only),
            **day_counts,
        )
        .order_by()
    )

    review_queue = Payment.objects.filter(needs_review=True).count()

    stuck_before = now - timedelta(minutes=settings.STUCK_PAYMENT_MINUTES)
    stuck_rows = {
        row["status"]: row
        for row in Payment.objects.filter(status__in=STUCK_STATUSES, created_at__lt=stuck_before)
        .values("status")
        .annotate(count=Count("pk"), oldest=Min("created_at"))
        .order_by()
    }
    stuck = [
        StuckPayments(
            status=status,
            label=str(status.label),
            count=stuck_rows.get(status, {}).get("count", 0),
            oldest=stuck_rows.get(status, {}).get("oldest"),
        )
        for status in STUCK_STATUSES
    ]

    return DashboardNumbers(
        today=_period(rows, count_key="today_count", volume_key="today_volume"),
        last_30_days=_period(rows, count_key="count", volume_key="volume"),
        review_queue=review_queue,
        stuck=stuck,
        stuck_before=stuck_before,
        days=[
            DayCounts(
                day=today - timedelta(days=DAYS - 1 - index),
                counts={
                    status: sum(row[f"day_{index}"] for row in rows if row["status"] == status)
                    for status in PaymentStatus.values
                },
            )
            for index in range(DAYS)
        ],
    )


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _period(rows: list[dict[str, Any]], *, count_key: str, volume_key: str) -> Period:
    by_status = _lines(rows, "status", PaymentStatus.choices, count_key, volume_key)
    by_gateway = _lines(rows, "gateway", Gateway.choices, count_key, volume_key)
    counts = {line.key: line.count for line in by_status}
    ended = counts[PaymentStatus.COMPLETED] + counts[PaymentStatus.FAILED]
    failure_rate = (
        (Decimal(100 * counts[PaymentStatus.FAILED]) / ended).quantize(Decimal("0.1"))
        if ended
        else None
    )
    return Period(
        count=sum(counts.values()),
        volumes=_volumes(rows, count_key, volume_key),
        completed_volumes=next(
            line.volumes for line in by_status if line.key == PaymentStatus.COMPLETED
        ),
        by_status=by_status,
        by_gateway=by_gateway,
        failure_rate=failure_rate,
    )


def _lines(
    rows: list[dict[str, Any]],
    field: str,
    choices: Sequence[tuple[str, Any]],
    count_key: str,
    volume_key: str,
) -> list[Line]:
    """One line per choice, in the choices' order, zeros included: the table keeps its shape."""
    return [
        Line(
            key=key,
            label=str(label),
            count=sum(row[count_key] for row in rows if row[field] == key),
            volumes=_volumes([row for row in rows if row[field] == key], count_key, volume_key),
        )
        for key, label in choices
    ]


def _volumes(
    rows: list[dict[str, Any]], count_key: str, volume_key: str
) -> list[tuple[str, Decimal]]:
    """Sums by currency, in Decimal: amounts in different currencies are never added."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row[count_key]:
            totals[row["currency"]] += Decimal(row[volume_key])
    # SQLite sums without the column's decimal places: show cents everywhere.
    return [(currency, totals[currency].quantize(CENT)) for currency in sorted(totals)]


# --- The page ----------------------------------------------------------------------------------

STATUS_COLOURS = {
    PaymentStatus.PENDING: "#e0a100",
    PaymentStatus.PROCESSING: "#3d7fc1",
    PaymentStatus.COMPLETED: "#2e8540",
    PaymentStatus.FAILED: "#c0392b",
    PaymentStatus.CANCELLED: "#8c8c8c",
    PaymentStatus.EXPIRED: "#c2c2c2",
    PaymentStatus.REFUNDED: "#7d4fb0",
    PaymentStatus.CREDITED: "#1a9a9a",
}
CHART_WIDTH = 720
CHART_HEIGHT = 240
CHART_LEFT = 40  # room for the scale's numbers
CHART_BOTTOM = 24  # room for the dates
CHART_TOP = 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    text: str
    # "middle" under its day; the last one ends at its day, inside the chart.
    anchor: str = "middle"


@dataclass(frozen=True)
class DaySlot:
    """A whole day's column, drawn under its bars: every day, an empty one too, shows a number
    on hover (its title) and a faint mark on the axis."""

    x: float
    width: float
    total: int
    title: str
    day: date
    # The day's count of each status, in PaymentStatus' order (the table's columns).
    cells: tuple[int, ...]


def chart_bars(days: list[DayCounts]) -> dict[str, object]:
    """The geometry of a stacked bar chart of daily counts by status, for the template's SVG."""
    plot_height = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    slot = (CHART_WIDTH - CHART_LEFT) / len(days)
    highest = max((day.total for day in days), default=0) or 1
    bars: list[Bar] = []
    labels: list[DayLabel] = []
    slots: list[DaySlot] = []
    for index, day in enumerate(days):
        x = CHART_LEFT + index * slot + slot * 0.15
        base = float(CHART_HEIGHT - CHART_BOTTOM)
        slots.append(
            DaySlot(
                x=round(CHART_LEFT + index * slot, 1),
                width=round(slot, 1),
                total=day.total,
                title=_day_title(day),
                day=day.day,
                cells=tuple(day.counts.get(status, 0) for status in PaymentStatus),
            )
        )
        for status, count in day.counts.items():
            if not count:
                continue
            height = plot_height * count / highest
            base -= height
            bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                    colour=STATUS_COLOURS[PaymentStatus(status)],
                    title=_("%(day)s: %(count)s %(status)s")
                    % {
                        "day": _month_day(day.day),
                        "count": count,
                        "status": PaymentStatus(status).label.lower(),
                    },
                )
            )
        # Every fifth day and today: enough to place a bar without crowding the axis. Today's
        # ends at its day's right edge, so its last digits are never cut by the chart's.
        last = index == len(days) - 1
        if last:
            labels.append(
                DayLabel(x=round(CHART_LEFT + (index + 1) * slot, 1), text=_("today"), anchor="end")
            )
        elif index % 5 == 0 and index < len(days) - 3:
            labels.append(DayLabel(x=round(x + slot * 0.35, 1), text=f"{day.day:%m-%d}"))
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "top": CHART_TOP,
        "axis_y": CHART_HEIGHT - CHART_BOTTOM,
        "plot_height": plot_height,
        "label_y": CHART_HEIGHT - 6,
        "highest": highest,
        "bars": bars,
        "labels": labels,
        "slots": slots,
        "statuses": [status.label for status in PaymentStatus],
        "legend": [(status.label, STATUS_COLOURS[status]) for status in PaymentStatus],
    }


def _day_title(day: DayCounts) -> str:
    if not day.total:
        return _("%(day)s: no payments") % {"day": _month_day(day.day)}
    parts = ", ".join(
        f"{count} {PaymentStatus(status).label.lower()}"
        for status, count in day.counts.items()
        if count
    )
    return ngettext(
        "%(day)s: %(count)s payment (%(parts)s)",
        "%(day)s: %(count)s payments (%(parts)s)",
        day.total,
    ) % {"day": _month_day(day.day), "count": day.total, "parts": parts}


def _month_day(day: date) -> str:
    """A day as the reader's language writes a month and a day ("December 4", "12月4日")."""
    return date_format(day, "MONTH_DAY_FORMAT")


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """The dashboard, for staff who may view payments (`admin.site.admin_view` wraps it and
    sends anyone else to the admin's sign-in page)."""
    if not request.user.has_perm("payments.view_payment"):
        raise PermissionDenied
    numbers = dashboard_numbers()
    changelist = reverse("admin:payments_payment_changelist")
    stuck_before = numbers.stuck_before.isoformat()
    stuck_links = {
        line.status: f"{changelist}?"
        + urlencode({"status__exact": line.status, "created_at__lt": stuck_before})
        for line in numbers.stuck
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Payments dashboard"),
        "numbers": numbers,
        "periods": [
            (_("Today"), numbers.today),
            (_("Last %(days)s days") % {"days": DAYS}, numbers.last_30_days),
        ],
        "stuck": [(line, stuck_links[line.status]) for line in numbers.stuck],
        "stuck_minutes": settings.STUCK_PAYMENT_MINUTES,
        "review_link": f"{changelist}?" + urlencode({"needs_review__exact": "1"}),
        "chart": chart_bars(numbers.days),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)

"""Traditional Chinese as Taiwan writes money: Django's zh_Hant formats, with thousands grouped
by three and a comma (2,400 TWD), as banks, ECPay and receipts write it; Django's own groups
by four with no separator (2400)."""

from django.conf.locale.zh_Hant.formats import *  # type: ignore[import-untyped]  # noqa: F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

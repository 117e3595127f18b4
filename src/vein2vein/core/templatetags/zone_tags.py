"""Times on pages in the zone of the site where they happened, labelled with that zone.

`{{ batch.started_at|zoned:batch.site.time_zone }}` renders a `<time>` whose text is the
site's wall clock with its zone abbreviation ('2026-03-02 09:05 EST') and whose title is
`core.time.format_in_zone` in full, so no time on a page is labelled UTC while showing
another clock.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from vein2vein.core.time import format_in_zone, in_zone

register = template.Library()


@register.filter
def zoned(value: dt.datetime | None, zone: str) -> SafeString | str:
    if value is None:
        return ""
    local = in_zone(value, zone)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        format_in_zone(value, zone),
        f"{local:%Y-%m-%d %H:%M %Z}",
    )

"""Every time the TUI shows, in one place: local time that says which zone it is in.

Times in the platform are nanoseconds since the epoch (UTC). A reader sees them in the terminal's
local zone, and every shown time either carries the zone ("14:02 UTC+1") or sits under a header
that names it (`zone_label()`), so no one takes a UTC time for a local one or the other way round.

Pure functions: `now_ns` and the zone are arguments (defaulting to the local zone), so tests inject
both and never sleep. One module for the job header, the log timestamps, the jobs list and the
artifacts, so they all agree.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone, tzinfo

from cycle.logline import moment

_UNITS = ((86_400 * 365, "y"), (86_400, "d"), (3_600, "h"), (60, "m"), (1, "s"))


def local_zone() -> tzinfo:
    """The terminal's zone (TZ / the system's), as a fixed offset for now."""
    return datetime.now().astimezone().tzinfo or timezone.utc


def zone_label(tz: tzinfo | None = None, at_ns: int | None = None) -> str:
    """The zone by its offset ("UTC", "UTC+1", "UTC-3:30"), which every terminal can tell apart
    (abbreviations such as "CET" or "IST" are ambiguous or missing)."""
    tz = tz or local_zone()
    moment = datetime.fromtimestamp(at_ns / 1e9, tz) if at_ns is not None else datetime.now(tz)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02}" if rest else "")


def _local(ts_ns: int, tz: tzinfo | None) -> datetime:
    return moment(ts_ns, tz or local_zone())


def clock(ts_ns: int, tz: tzinfo | None = None) -> str:
    """A log line's time of day, "14:02:07.123" (its zone is named once, in the job header)."""
    return _local(ts_ns, tz).strftime("%H:%M:%S.%f")[:-3]


def format_time(ts_ns: int | None, now_ns: int, width: int = 25, tz: tzinfo | None = None) -> str:
    """The most precise form of the time, with its zone, that fits in `width` characters:
    "2026-11-23 14:02:07 UTC+1", "2026-11-23 14:02 UTC+1", "14:02:07 UTC+1" (today),
    "Nov 23 14:02", "14:02" (today), then the age "3h ago". "-" for no time."""
    if not ts_ns:
        return "-"
    moment = _local(ts_ns, tz)
    today = moment.date() == _local(now_ns, tz).date()
    bare = [f"{moment:%H:%M}"] if today else [f"{moment:%b %d %H:%M}", f"{moment:%b %d}"]
    forms = [*zoned_forms(ts_ns, now_ns, tz), *bare, ago(ts_ns, now_ns)]
    return next((form for form in forms if len(form) <= width), forms[-1])


def zoned_forms(ts_ns: int, now_ns: int, tz: tzinfo | None = None) -> list[str]:
    """The forms of a time that name its zone, most precise first (format_time's choices for a place
    that must always carry the zone, such as the job header): the date and seconds go first, the
    zone never. The shortest: "14:02 UTC+1" today, "Nov 23 14:02 UTC+1" another day."""
    moment = _local(ts_ns, tz)
    zone = zone_label(tz, ts_ns)
    forms = [f"{moment:%Y-%m-%d %H:%M:%S} {zone}", f"{moment:%Y-%m-%d %H:%M} {zone}"]
    if moment.date() == _local(now_ns, tz).date():
        return [*forms, f"{moment:%H:%M:%S} {zone}", f"{moment:%H:%M} {zone}"]
    return [*forms, f"{moment:%b %d %H:%M} {zone}"]


def ago(ts_ns: int, now_ns: int) -> str:
    """ "5s ago", "3m ago", "2h ago", "4d ago": how long before `now_ns`, in its largest unit
    (a zone-free form for the narrowest columns); "in 5s" for a time still to come."""
    seconds = int((now_ns - ts_ns) / 1e9)
    size = abs(seconds)
    count, unit = next(((size // span, unit) for span, unit in _UNITS if size >= span), (0, "s"))
    return f"{count}{unit} ago" if seconds >= 0 else f"in {count}{unit}"


def short_time(ts_ns: int | None, now_ns: int, tz: tzinfo | None = None) -> str:
    """A time in at most 7 characters, as a list shows it (the list's header names the zone):
    "45s ago" and "59m ago" within the hour, "14:02" the same day, "Nov 21" the same year,
    "2025-11" before."""
    if not ts_ns:
        return "-"
    seconds = (now_ns - ts_ns) // 1_000_000_000
    if 0 <= seconds < 3600:
        return ago(ts_ns, now_ns)
    tz = tz or local_zone()  # resolved before the cache: the same instant reads differently in another zone
    then, today = _local(ts_ns, tz), _today(now_ns, tz)
    if then.date() == today:
        return f"{then:%H:%M}"
    return f"{then:%b %d}" if then.year == today.year else f"{then:%Y-%m}"


def short_time_valid_until(ts_ns: int | None, now_ns: int, tz: tzinfo | None = None) -> int:
    """The instant short_time(ts_ns) may next read differently (so a row cached until then is still
    right): the next second or minute while it reads "ago", else the next midnight in `tz`."""
    if not ts_ns:
        return 2**63
    age = (now_ns - ts_ns) // 1_000_000_000
    if age < 60:
        return now_ns + 1_000_000_000
    if age < 3600:
        return ts_ns + (age // 60 + 1) * 60_000_000_000
    return _next_midnight(now_ns, tz or local_zone())


@functools.lru_cache(maxsize=4)
def _today(now_ns: int, tz: tzinfo) -> date:
    """The date at `now_ns` in `tz`: the same for every row a list formats at one instant (a
    folder of 40,000 files asked the zone for it 40,000 times)."""
    return _local(now_ns, tz).date()


@functools.lru_cache(maxsize=4)
def _next_midnight(now_ns: int, tz: tzinfo) -> int:
    """The next midnight after `now_ns` in `tz` (ns), once per instant, as _today. Its timestamp,
    not its distance from now on the wall clock: a day when the clocks change is 23 or 25 hours."""
    now = _local(now_ns, tz)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * 1_000_000_000

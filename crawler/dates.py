"""Publication dates in the forms Vietnamese portals print, day first, local time.

Compiled patterns answer the known forms (``11/09/2023``, ``6:20, Thứ Sáu, 14-7-2023``,
``14 tháng 7 năm 2023``, ``Cập nhật ngày: 14/07/2023 06:20``, year-less ``Ngày 13/7``);
dateparser is only asked about a date slot none of them reads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

TZ = "+07:00"  # Asia/Ho_Chi_Minh has had no DST since 1975

_TIME = r"(?P<H>[01]?\d|2[0-3])\s*[:hg]\s*(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?!\d)"
# Same separator twice, so "25-27/9/2017" reads as 27/9/2017, never 25-27/9.
_NUMERIC = r"(?<!\d)(?P<d>[0-3]?\d)(?P<sep>[/.\-])(?P<m>[01]?\d)(?P=sep)(?P<y>(?:19|20)\d\d)(?!\d)"
_WORDS = (
    r"(?<!\d)(?P<d>[0-3]?\d)\s+(?i:tháng)\s+(?P<m>[01]?\d)\s*(?:,\s*)?(?:(?i:năm)\s+)?"
    r"(?P<y>(?:19|20)\d\d)(?!\d)"
)
# "28 Tháng Sáu, 2023" (WordPress in Vietnamese): month names become numbers first.
_MONTH_NAMES = {"một": 1, "giêng": 1, "hai": 2, "ba": 3, "tư": 4, "bốn": 4, "năm": 5,
                "sáu": 6, "bảy": 7, "tám": 8, "chín": 9, "mười": 10, "mười một": 11,
                "mười hai": 12, "chạp": 12}
_MONTH_WORD = re.compile(
    r"(?i)(?<=\d\s)(tháng)\s+(mười một|mười hai|một|giêng|hai|ba|tư|bốn|năm|sáu|bảy|tám|chín|"
    r"mười|chạp)(?=\s*,?\s*(?:năm\s+)?(?:19|20)\d\d)")
# "Ngày 13/7", "Thứ Năm, 18/4", "Chủ nhật, 7/4": a day and month with no year.
_YEARLESS = (r"(?i:ngày|thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])\s*,?|chủ\s+nhật\s*,?)"
             r"\s+(?P<d>[0-3]?\d)\s*[/\-.]\s*(?P<m>[01]?\d)(?![/\-.]?\d)")
_ISO = r"(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?:[T ](?P<H>[01]\d|2[0-3]):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?)?"

# "10:25 | 13/03": a time beside a bare day/month, as date lines print them.
_YEARLESS_TIMED = (r"(?<![\d:])(?:[01]?\d|2[0-3])\s*[:hg]\s*[0-5]\d\s*[|,\-–]?\s*"
                   r"(?P<d>[0-3]?\d)\s*/\s*(?P<m>[01]?\d)(?![/\-.]?\d)")

DATE_PATTERNS = [re.compile(p) for p in (_NUMERIC, _WORDS)]
YEARLESS_PATTERNS = [re.compile(_YEARLESS), re.compile(_YEARLESS_TIMED)]
YEARLESS = re.compile(_YEARLESS)
ISO = re.compile(_ISO)
TIME_BEFORE = re.compile(_TIME + r"[^\d]{0,25}$")
TIME_AFTER = re.compile(r"^[\s,\-–|(]{0,6}(?:lúc\s+)?" + _TIME)
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


@dataclass
class Found:
    value: str  # ISO 8601, date only or with time and +07:00
    start: int
    year_inferred: bool = False


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _with_time(day: date, text: str, start: int, end: int) -> str:
    after = TIME_AFTER.match(text[end:end + 20])
    before = TIME_BEFORE.search(text[max(0, start - 40):start])
    m = after or before
    if not m:
        return day.isoformat()
    sec = int(m.group("S") or 0)
    return f"{day.isoformat()}T{int(m.group('H')):02d}:{m.group('M')}:{sec:02d}{TZ}"


def find_date(text: str, *, allow_yearless: bool = True, default_year: int | None = None,
              with_time: bool = True) -> Found | None:
    """The first full date in ``text`` (with a time next to it, if any)."""
    if "háng" in text or "HÁNG" in text:
        text = _MONTH_WORD.sub(lambda m: f"{m.group(1)} {_MONTH_NAMES[m.group(2).lower()]}", text)
    best: Found | None = None
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if best and m.start() >= best.start:
                break
            day = _valid(int(m.group("y")), int(m.group("m")), int(m.group("d")))
            if day:
                value = _with_time(day, text, m.start(), m.end()) if with_time else day.isoformat()
                best = Found(value, m.start())
                break
    if best is None and allow_yearless and default_year:
        for pattern in YEARLESS_PATTERNS:
            for m in pattern.finditer(text):
                day = _valid(default_year, int(m.group("m")), int(m.group("d")))
                if day:
                    return Found(_with_time(day, text, m.start("d"), m.end()), m.start(), True)
    return best


def parse_iso(value: str) -> str | None:
    """``2024-02-05T08:30:00+07:00`` and friends from ``<time datetime>``/meta tags."""
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        m = ISO.search(value)
        if not m:
            return None
        day = _valid(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        return day.isoformat() if day else None
    if len(value) <= 10:
        return dt.date().isoformat()
    if dt.tzinfo is not None:
        from zoneinfo import ZoneInfo

        dt = dt.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        return dt.replace(tzinfo=None).isoformat(timespec="seconds") + TZ
    return dt.isoformat(timespec="seconds") + TZ


def has_yearless(text: str) -> bool:
    """Whether ``text`` shows a day and month without a year (``Ngày 13/7``, ``10:25 | 13/03``)."""
    return any(p.search(text) for p in YEARLESS_PATTERNS)


def page_year(texts: list[str]) -> int | None:
    """The year a page's full dates agree on most, for completing a year-less date."""
    years = Counter()
    for text in texts:
        for pattern in DATE_PATTERNS:
            for m in pattern.finditer(text):
                if _valid(int(m.group("y")), int(m.group("m")), int(m.group("d"))):
                    years[int(m.group("y"))] += 1
    if years:
        return years.most_common(1)[0][0]
    return None


def parse_with_dateparser(text: str) -> str | None:
    """Last resort for a date slot no compiled pattern reads (slow: imports lazily)."""
    text = text.strip()
    if not text or len(text) > 80 or not re.search(r"\d", text):
        return None
    import dateparser

    dt = dateparser.parse(
        text,
        languages=["vi"],
        settings={"DATE_ORDER": "DMY", "TIMEZONE": "Asia/Ho_Chi_Minh",
                  "RETURN_AS_TIMEZONE_AWARE": False, "PREFER_DAY_OF_MONTH": "first",
                  "REQUIRE_PARTS": ["day", "month", "year"]},
    )
    if dt is None:
        return None
    if dt.hour or dt.minute:
        return dt.isoformat(timespec="seconds") + TZ
    return dt.date().isoformat()

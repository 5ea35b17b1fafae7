"""Date forms from PORTALS.md, read by the compiled patterns (day first, +07:00)."""

import pytest

from crawler import dates


@pytest.mark.parametrize(
    "text, expected",
    [
        ("11/09/2023", "2023-09-11"),
        ("14-7-2023", "2023-07-14"),
        ("14/07/2023 06:20", "2023-07-14T06:20:00+07:00"),
        ("Thứ Sáu, 14/07/2023", "2023-07-14"),
        ("6:20, Thứ Sáu, 14-7-2023", "2023-07-14T06:20:00+07:00"),
        ("14 tháng 7 năm 2023", "2023-07-14"),
        ("Cập nhật ngày: 14/07/2023 06:20", "2023-07-14T06:20:00+07:00"),
        ("Ngày đăng: 14 tháng 7 năm 2023", "2023-07-14"),
        ("Chiều ngày 08/12/2023, Phòng Giáo dục", "2023-12-08"),
        ("Trong các ngày từ 25-27/9/2017, Phòng", "2017-09-27"),
        ("4-3-2024 7:05", "2024-03-04T07:05:00+07:00"),
        ("Cập nhật lúc 14h30 ngày 02.01.2024", "2024-01-02T14:30:00+07:00"),
    ],
)
def test_known_forms(text, expected):
    assert dates.find_date(text).value == expected


@pytest.mark.parametrize(
    "text",
    ["năm học 2023 - 2024", "Từ ngày 13 - 15/9, Sở", "31/02/2023", "Số 12/2023/NĐ-CP"],
)
def test_not_dates(text):
    # A school year, a year-less range, an impossible day, a decree number.
    assert dates.find_date(text, allow_yearless=False) is None


def test_yearless_takes_given_year_never_today():
    found = dates.find_date("Ngày 13/7", default_year=2019)
    assert (found.value, found.year_inferred) == ("2019-07-13", True)
    assert dates.find_date("Ngày 13/7") is None  # no year known: no guess


def test_page_year_is_most_common_full_date_year():
    assert dates.page_year(["(12/07/2023) a", "(01/06/2023) b", "(03/01/2022) c"]) == 2023


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-02-05T08:30:00+07:00", "2024-02-05T08:30:00+07:00"),
        ("2024-02-05T01:30:00Z", "2024-02-05T08:30:00+07:00"),
        ("2024-02-05", "2024-02-05"),
    ],
)
def test_iso_values_in_local_time(value, expected):
    assert dates.parse_iso(value) == expected

"""Shared test helpers (keep small)."""

from __future__ import annotations

import copy

import pytest

_RECORD = {
    "url": "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
    "?ItemID=28383&l=Tintrongtinh&lv=11",
    "site": "sgddt.backan.gov.vn",
    "family": "publishingportal",
    "title": "Hội nghị triển khai nhiệm vụ năm học 2023 – 2024",
    "published": "2023-09-11",
    "summary": "Sở Giáo dục và Đào tạo tổ chức Hội nghị tổng kết năm học.",
    "body": "Ngày 11/9, Sở GD&ĐT tổ chức hội nghị.\n\nUỷ ban nhân dân tỉnh chỉ đạo công tác "
    "giáo dục và đào tạo.",
    "captions": ["Đại biểu dự Hội nghị tại Sở GD&ĐT"],
    "images": [
        {"src": "https://sgddt.backan.gov.vn/PictureLibrary/ab12/image003.jpg",
         "caption": "Đại biểu dự Hội nghị tại Sở GD&ĐT"},
        {"src": "https://sgddt.backan.gov.vn/PictureLibrary/ab12/image004.jpg", "caption": None},
    ],
    "byline": "Ngọc Tú",
    "source": None,
    "attachments": [{"url": "https://sgddt.backan.gov.vn/Documents/kh.pdf", "name": "Kế hoạch"}],
    "language": "vi",
    "warnings": [],
}


def make_record(**changes) -> dict:
    """A record shaped exactly like ``extract_article`` returns, with fields overridden."""
    record = copy.deepcopy(_RECORD)
    record.update(changes)
    return record


@pytest.fixture
def record_factory():
    return make_record

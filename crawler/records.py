"""Records as the archive keeps them: the content fields of an extracted record,
normalized (NFC, spaces, empty -> null), and the hash that tells one version from the next.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from .text import INVISIBLE, clean

# The fields of an extracted record that are the article's content: what the content
# hash covers and what makes a new version. Not the fetch time, URL, family or warnings.
CONTENT_FIELDS = (
    "title", "published", "summary", "body", "captions", "images", "byline", "source",
    "attachments", "language",
)
_SPACES = re.compile(r"[^\S\n]+")


class InvalidRecord(ValueError):
    """A record the archive refuses; a ``fetch_errors`` row says why."""


def _text(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field {field!r} must be text or null, not {type(value).__name__}")
    return clean(value) or None


def _body(value) -> str | None:
    """Paragraphs kept (blank line between), each line's spaces collapsed, NFC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field 'body' must be text or null, not {type(value).__name__}")
    text = unicodedata.normalize("NFC", value.translate(INVISIBLE)).replace("\r\n", "\n")
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        lines = [_SPACES.sub(" ", line).strip() for line in para.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) or None


def _list(value, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidRecord(f"field {field!r} must be a list, not {type(value).__name__}")
    return list(value)


def _links(value, field: str, key: str, label: str) -> list[dict]:
    out = []
    for i, item in enumerate(_list(value, field)):
        if not isinstance(item, dict):
            raise InvalidRecord(f"{field}[{i}] must be an object with {key!r} and {label!r}")
        target = _text(item.get(key), f"{field}[{i}].{key}")
        if target:
            out.append({key: target, label: _text(item.get(label), f"{field}[{i}].{label}")})
    return out


def _images(value) -> list[dict]:
    """``[{src, caption}]``, with ``paragraph`` (how many body paragraphs come before the
    image) kept when the extractor said where it was."""
    out = _links(value, "images", "src", "caption")
    places = [item.get("paragraph") for item in _list(value, "images")
              if isinstance(item, dict) and _text(item.get("src"), "images.src")]
    for image, place in zip(out, places, strict=True):
        if isinstance(place, int) and not isinstance(place, bool) and place >= 0:
            image["paragraph"] = place
    return out


def normalize_content(record: dict) -> dict:
    """The content fields of a record, normalized (NFC, spaces, empty -> null)."""
    captions = []
    for i, cap in enumerate(_list(record.get("captions"), "captions")):
        text = _text(cap, f"captions[{i}]")
        if text:
            captions.append(text)
    return {
        "title": _text(record.get("title"), "title"),
        "published": _text(record.get("published"), "published"),
        "summary": _text(record.get("summary"), "summary"),
        "body": _body(record.get("body")),
        "captions": captions,
        "images": _images(record.get("images")),
        "byline": _text(record.get("byline"), "byline"),
        "source": _text(record.get("source"), "source"),
        "attachments": _links(record.get("attachments"), "attachments", "url", "name"),
        "language": _text(record.get("language"), "language"),
    }


def content_hash(content: dict) -> str:
    """SHA-256 over the normalized content fields (``normalize_content``)."""
    blob = json.dumps({k: content.get(k) for k in CONTENT_FIELDS}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def year_of(published: str | None) -> int | None:
    if published and re.match(r"^[12]\d{3}", published):
        return int(published[:4])
    return None


"""Images and documents kept by their bytes: one file per distinct content under
``files/`` beside the archive, named by its SHA-256 (``files/ab/cd/abcd….jpg``), so an
image many articles show is stored once. ``pipelines/media.py`` downloads them."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

_EXT = re.compile(r"^\.[a-z0-9]{1,5}$")


def media_type(content_type: str | None, url: str) -> str | None:
    """The file's type: the answer's Content-Type (no parameters), else guessed from the
    URL; None when neither says."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and ctype not in ("application/octet-stream", "binary/octet-stream"):
        return ctype
    guessed = mimetypes.guess_type(unquote(urlsplit(url).path))[0]
    return guessed or ctype or None


def extension(ctype: str | None, url: str) -> str:
    """The stored file's extension: the URL's when it fits the type, else the type's
    (``DownloadFile.aspx?id=3`` answering a PDF is kept as ``.pdf``)."""
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()
    suffix = ".jpg" if suffix == ".jpeg" else suffix
    if _EXT.match(suffix) and (not ctype or mimetypes.guess_type("f" + suffix)[0] == ctype):
        return suffix
    guessed = mimetypes.guess_extension(ctype or "") or ""
    if _EXT.match(guessed):
        return guessed
    return suffix if _EXT.match(suffix) and suffix not in _SCRIPTS else ""


_SCRIPTS = {".aspx", ".asp", ".ashx", ".php", ".jsp", ".cgi", ".html", ".htm"}


def store_file(root: Path, body: bytes, ctype: str | None, url: str) -> tuple[str, int, str]:
    """Keep ``body`` under ``root``/files by its SHA-256 (written once, fsynced, then
    renamed into place); returns (sha256, size, path relative to ``root``)."""
    digest = hashlib.sha256(body).hexdigest()
    rel = f"files/{digest[:2]}/{digest[2:4]}/{digest}{extension(ctype, url)}"
    path = Path(root) / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return digest, len(body), rel


def allowed_host(host: str, site_hosts) -> bool:  # noqa: ANN001
    """A media URL is fetched only from the site's own hosts (or their subdomains)."""
    host = host.lower()
    for own in site_hosts:
        own = own.lower()
        if host == own or host.split(":")[0].endswith("." + own.split(":")[0]):
            return True
    return False

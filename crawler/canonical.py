"""One article, one key: canonical URLs for the archive.

Portals reach the same article under many URLs: a category parameter
(PublishingPortal's ``l=``/``lv=``), session tokens, ``utm_*`` tags, http and https,
a fragment, a stray ``%20`` or ``.`` pasted after the link. ``canonical_url`` removes
what never identifies an article; ``url_key`` also sets the scheme to https, so the
http and https copies of an article share a key while ``canonical_url`` stays a link
that works.

What identifies an article is data: each family's ``canonical_params`` in
``families.toml``. A family that names parameters keeps only those when the URL has one
(PublishingPortal: host + site path + ``ItemID``); a family that names none, or a URL
without them, keeps every parameter except session-like and tracking ones.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

from .profiles import load

# Query parameters that never identify content: sessions, trackers, cache busters.
_SESSION_PARAMS = re.compile(
    r"^(jsessionid|phpsessid|sid|sessionid|session_id|aspsessionid\w*|asp\.net_sessionid|"
    r"cfid|cftoken|utm_\w+|fbclid|gclid|dclid|msclkid|zarsrc|_ga|_gl|mc_cid|mc_eid|"
    r"__viewstate\w*|__eventvalidation|_)$",
    re.I,
)
# ``;jsessionid=...`` (Java) and ``(S(...))`` (ASP.NET cookieless sessions) inside paths.
_PATH_SESSION = re.compile(r";(jsessionid|sid|phpsessid)=[^/?#]*", re.I)
_ASPNET_COOKIELESS = re.compile(r"/\((?:[A-Z]\([^)]*\))+\)", re.I)
# Pasted-link debris after the real URL: spaces, quotes, closing brackets, punctuation.
_TRAILING_JUNK = re.compile(r"""(?:\s|%20|%09|%0a|%0d|["'<>)\].,;:!*]|&(?:amp;?)?|\?)+$""", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a path keeps literally; everything else is percent-encoded once.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def host_of(url: str) -> str:
    """The one helper for a URL's host: ``host[:port]``, lowercased, as sites are keyed."""
    return urlsplit(url).netloc.lower()


class BadURL(ValueError):
    """The URL cannot identify an article (no http(s) scheme or no host)."""


def _params_for(family: str | None) -> list[str]:
    if not family:
        return []
    fam = load().family(family)
    return list(fam.canonical_params) if fam else []


@lru_cache(maxsize=64)
def _family_sessions(family: str | None) -> re.Pattern | None:
    """The session-like parameter names of ``[crawl]`` and of a family (``"*"``: every
    family's), as one pattern over a whole name."""
    profiles = load()
    patterns = list(profiles.crawl.session_params)
    for fam in profiles.families:
        if family == "*" or fam.name == family:
            patterns += fam.session_params
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I) if patterns else None


def _is_session(name: str, family: str | None) -> bool:
    if _SESSION_PARAMS.match(name):
        return True
    extra = _family_sessions(family)
    return bool(extra and extra.fullmatch(name))


@lru_cache(maxsize=100_000)
def shape_family(url: str) -> str | None:
    """The first family (file order) whose article URL shape this URL has: what identifies
    the URL does not wait for the spider to learn the site's family."""
    for fam in load().families:
        if fam.is_article_url(url):
            return fam.name
    return None


def strip_session(url: str, family: str | None = None) -> str:
    """The URL without its session-like parameters (``[crawl]``'s, the family's and those
    of the family whose article shape it has) and fragment; everything else exactly as
    written and in its order: the URL to request and to record."""
    url = url.strip()
    parts = urlsplit(url)
    families = {family, shape_family(url)}
    query = parts.query
    if query:
        kept = [pair for pair in query.split("&") if pair and not any(
            _is_session(unquote_plus(pair.split("=", 1)[0]).strip(), f) for f in families)]
        query = "&".join(kept)
    path = _ASPNET_COOKIELESS.sub("", _PATH_SESSION.sub("", parts.path))
    if query == parts.query and path == parts.path and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def fetch_key(url: str, family: str | None = None) -> str:
    """The crawl's de-duplication key of a link: ``canonical_url`` under the family whose
    article shape it has, else the site's. An article link's key does not depend on what
    the spider learned first: one article, one fetch, whatever the order of discovery.
    (Other links keep the parameters a family not yet learned would drop: at worst a
    listing is read twice, and a site's ``?s=`` is never taken for another's token.)"""
    return canonical_url(url, shape_family(url) or family)


def _clean_path(path: str) -> str:
    path = _PATH_SESSION.sub("", path)
    path = _ASPNET_COOKIELESS.sub("", path)
    # Decode then re-encode once, so %7E, ~ and %7e are one path; keep %2F as is.
    segments = [quote(unquote(seg), safe=_PATH_SAFE.replace("/", "")) for seg in path.split("/")]
    path = "/".join(segments)
    path = re.sub(r"/{2,}", "/", path)
    if path:
        path = posixpath.normpath(path)  # resolves ./ and ../
    # /a/b/ and /a/b are one article on every portal we crawl.
    return "/" + path.strip("/") if path not in ("", ".") else "/"


def _clean_value(value: str) -> str:
    return _TRAILING_JUNK.sub("", value.strip())


def canonical_url(url: str, family: str | None = None, *, sessions: str | None = None) -> str:
    """The article's URL with everything that does not identify it removed (scheme kept).
    ``sessions``: whose session parameters go (default the family's; ``"*"``: all)."""
    if not isinstance(url, str) or not url.strip():
        raise BadURL("empty URL")
    raw = url.strip()
    raw = raw.split("#", 1)[0]
    raw = _TRAILING_JUNK.sub("", raw)
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise BadURL(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BadURL(f"no host in URL: {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"bad port in URL: {url!r}") from exc
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"

    path = _clean_path(parts.path)
    pairs = [(k.strip(), v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    keep = _params_for(family)
    present = {k.lower() for k, _ in pairs}
    # The family's identity parameters decide only when the URL has one of them: a URL of
    # another shape on the same portal (a legacy ?ID= link, a listing) keeps its query.
    if keep and any(name.lower() in present for name in keep):
        wanted = {name.lower(): name for name in keep}
        found: dict[str, str] = {}
        for k, v in pairs:
            name = wanted.get(k.lower())
            if name and name not in found and _clean_value(v):
                found[name] = _clean_value(v)
        query = [(name, found[name]) for name in keep if name in found]
    else:
        query = sorted(
            (k, _clean_value(v)) for k, v in pairs
            if k and not _is_session(k, sessions or family)
        )
    return urlunsplit((scheme, netloc, path, urlencode(query, safe=":/,"), ""))


def url_key(url: str, family: str | None = None) -> str:
    """The identity of an article: ``canonical_url`` with the scheme set to https (and the
    path lowercased for families served by case-insensitive IIS)."""
    parts = urlsplit(canonical_url(url, family))
    fam = load().family(family) if family else None
    # IIS/ASP.NET portals answer any case of a path: one article, one key.
    path = parts.path.lower() if fam is not None and fam.caseless_paths else parts.path
    return urlunsplit(("https", parts.netloc, path, parts.query, ""))

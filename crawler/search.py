"""Full-text search over the archive: what the index holds and how a query finds the
newest hits fast. Used by the archive writes (crawler/store.py), the migrations that
create the index, and the Datasette search plugin.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable

from sqlite_utils import Database

# Columns of the full-text index, in order (see fts_values).
FTS_COLUMNS = ("title", "summary", "body", "captions", "byline")
FTS_TOKENIZER = "unicode61 remove_diacritics 2"


def create_fts(db: Database) -> None:
    # Contentless: the index holds no copy of the text (articles has it). The indexed
    # text has đ folded to d (search_fold); the tokenizer folds every other mark.
    # See docs/SCHEMA.md for why and what it costs.
    db.execute(
        "create virtual table articles_fts using fts5({}, content='', tokenize='{}')".format(
            ", ".join(FTS_COLUMNS), FTS_TOKENIZER
        )
    )


def rebuild_fts(db: Database) -> None:
    rows = db.execute(f"select id, {', '.join(FTS_COLUMNS)} from articles")
    db.conn.executemany(
        f"insert into articles_fts (rowid, {', '.join(FTS_COLUMNS)}) values (?, ?, ?, ?, ?, ?)",
        ((row[0], *fts_values(row[1:])) for row in rows.fetchall()),
    )


def fts_values(values: Iterable[str | None]) -> list[str]:
    """The text the index holds for (title, summary, body, captions, byline)."""
    out = []
    for value in values:
        if value and value.startswith("["):  # captions are stored as a JSON list
            try:
                value = "\n".join(json.loads(value))
            except (ValueError, TypeError):
                pass
        out.append(search_fold(value) if value else "")
    return out


# FTS5's unicode61 tokenizer with remove_diacritics 2 folds every Vietnamese mark but
# one: đ/Đ has no Unicode decomposition, so "dao" never matches "đào". The index and
# every query therefore see text with đ written as d (search_fold); both sides folded
# the same way, "dao tao" and "đào tạo" find the same rows.

_ESCAPE_FTS = re.compile(r'\s+|(".*?")')
# Measured on the 1,000,000-article bench (docs/BENCHMARKS.md): below RARE_MATCHES hits,
# materializing the hits and sorting them is cheapest; above, walking the sort index and
# checking each row against the hit list; once more than PROBE_SHARE of the archive
# matches, walking the sort index and asking FTS5 about each row (about 20 µs a row)
# reaches 101 hits before building a hit list would finish.
RARE_MATCHES = 2000
PROBE_CONSTANT = 17_000  # probe when share >= sqrt(PROBE_CONSTANT / articles)
SAMPLE_ROWS = 20_000


def search_fold(text: str) -> str:
    """What the index and a query see: NFC, with đ/Đ written d/D (see above)."""
    text = unicodedata.normalize("NFC", text)
    return text.replace("đ", "d").replace("Đ", "D")


def escape_fts(query: str) -> str:
    """Datasette's escaping: every word a quoted term, "quoted phrases" kept."""
    if query.count('"') % 2:
        query += '"'
    bits = [b for b in _ESCAPE_FTS.split(query) if b and b != '""']
    return " ".join(b if b.startswith('"') else f'"{b}"' for b in bits)


def match_expression(query: str, *, raw: bool = False) -> str:
    """The FTS5 MATCH argument for a user's search (raw: FTS5 syntax kept as typed)."""
    folded = search_fold(query)
    return folded if raw else escape_fts(folded)


def search_plan(conn: sqlite3.Connection, match: str, *, fts_table: str = "articles_fts",
                table: str = "articles") -> str:
    """How to find the newest hits of ``match`` fastest: ``"in"``, ``"scan"`` or ``"probe"``.

    Two bounded look-ups (under a millisecond at 1M articles) estimate how many articles
    match; see ``search_where`` for what each plan is.
    """
    try:
        hits = conn.execute(
            f"select count(*) from (select 1 from [{fts_table}] where [{fts_table}] match ? "
            f"limit {RARE_MATCHES})", [match]
        ).fetchone()[0]
    except sqlite3.OperationalError:
        return "in"  # a malformed raw query: let the real query report the error
    if hits < RARE_MATCHES:
        return "in"
    top = conn.execute(f"select max(rowid) from [{table}]").fetchone()[0] or 0
    low = max(0, top - SAMPLE_ROWS)
    sample = conn.execute(
        f"select count(*) from [{fts_table}] where [{fts_table}] match ? and rowid > ?",
        [match, low],
    ).fetchone()[0]
    share = sample / max(1, top - low)
    return "probe" if share >= min(0.5, (PROBE_CONSTANT / max(1, top)) ** 0.5) else "scan"


def search_where(plan: str, *, fts_table: str = "articles_fts", table: str = "articles",
                 param: str = "search", column: str | None = None) -> str:
    """The WHERE clause for a plan; every plan selects exactly the matching rows.

    ``in``: the hits drive the query (materialized, looked up, sorted).
    ``scan``: the ``+`` keeps SQLite from driving by rowid, so it walks the sort index
    and checks each row against the materialized hits, stopping at the page size.
    ``probe``: walks the sort index and asks FTS5 about each row; nothing materialized.
    """
    target = f"[{column}]" if column else f"[{fts_table}]"
    hits = f"select rowid from [{fts_table}] where {target} match :{param}"
    if plan == "probe":
        return (f"exists (select 1 from [{fts_table}] where {target} match :{param} "
                f"and [{fts_table}].rowid = [{table}].rowid)")
    if plan == "scan":
        return f"+[{table}].rowid in ({hits})"
    return f"[{table}].rowid in ({hits})"


"""``python -m crawler serve``: the archive in Datasette, with the metadata, templates and
plugins shipped in ``crawler/datasette/``.

The database is always served as ``/archive/`` whatever the file is called, so every
citable URL stays the same. ``--public`` serves a snapshot made with SQLite's backup API
(a consistent copy, never the file a crawl is writing), immutable and read-only; the
snapshot is refreshed on SIGHUP and, with ``--refresh MINUTES``, on a timer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from .store import Archive

HERE = Path(__file__).with_name("datasette")
METADATA = HERE / "metadata.yml"
TEMPLATES = HERE / "templates"
PLUGINS = HERE / "plugins"
# The name the archive is served under, whatever its file is called: /archive/...
DB_NAME = "archive"
METADATA_DB = DB_NAME
SETTINGS = {
    # Table pages show the start of long bodies; the article page shows all of it.
    "truncate_cells_html": 400,
    "default_page_size": 50,
    # Suggesting facets runs a query per column over the whole result: seconds on a
    # large archive. The useful facets are configured in metadata.yml.
    "suggest_facets": False,
    # Chosen, not inherited: an ad-hoc SQL query or a table page gets 1 s (the server
    # has few threads: a slow query holds one), a facet 200 ms; the reading pages
    # (search, article) bound their own work to 3 s.
    "sql_time_limit_ms": 1000,
    "facet_time_limit_ms": 200,
    "max_returned_rows": 1000,
    "num_sql_threads": 3,
}
PUBLIC_SETTINGS = {
    # Read-only for the public: no whole-file download, no unbounded CSV stream.
    "allow_download": False,
    "allow_csv_stream": False,
}
# Seconds an old snapshot stays open after a refresh, for queries still running on it.
SNAPSHOT_GRACE_S = 30


class ServeError(Exception):
    """The archive cannot be served; the message says why."""


def metadata_for(db_name: str = DB_NAME) -> dict:
    """The shipped metadata (its database section is for ``/archive``)."""
    meta = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    databases = meta.get("databases", {})
    if METADATA_DB in databases and db_name != METADATA_DB:
        databases[db_name] = databases.pop(METADATA_DB)
    return meta


def prepare(db: Path, *, public: bool) -> None:
    """Bring the file to the current schema (not for ``--public``: a snapshot is
    migrated instead, the crawl's file is only read)."""
    if not db.exists():
        raise ServeError(f"no archive at {db}: run a crawl first (python -m crawler demo)")
    if public:
        return
    try:
        with Archive(db):
            pass
    except sqlite3.DatabaseError as exc:
        raise ServeError(f"cannot open {db} as an archive: {exc}") from exc


def take_snapshot(db: Path, directory: Path) -> Path:
    """A consistent copy of ``db`` (SQLite's backup API, in one step, so one read
    transaction: what a crawl commits meanwhile is not in it), migrated to the current
    schema and in rollback-journal mode, for immutable serving. Returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    final = directory / f"{DB_NAME}-{stamp}.db"
    part = final.with_suffix(".db.part")
    try:
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(part)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        try:
            with Archive(part):
                pass  # pending migrations applied to the copy
        except sqlite3.DatabaseError:
            pass  # not an archive of ours: served as it is
        conn = sqlite3.connect(part)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("ANALYZE")
        conn.close()
        for suffix in ("-wal", "-shm"):
            Path(str(part) + suffix).unlink(missing_ok=True)
        os.replace(part, final)
    except sqlite3.DatabaseError as exc:
        part.unlink(missing_ok=True)
        raise ServeError(f"cannot copy {db}: {exc}") from exc
    return final


def _database_class():
    from datasette.database import Database, connections

    class ArchiveDatabase(Database):
        """A Database whose per-thread connections belong to this object, not to its
        name: after a snapshot refresh, threads open the new file."""

        async def execute_fn(self, fn):
            if self.ds.executor is None:
                return await super().execute_fn(fn)
            key = f"_vngov_{id(self)}"

            def in_thread():
                conn = getattr(connections, key, None)
                if not conn:
                    conn = self.connect()
                    self.ds._prepare_connection(conn, self.name)
                    setattr(connections, key, conn)
                return fn(conn)

            return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)

    return ArchiveDatabase


def build_datasette(path: Path, *, public: bool, settings: dict | None = None):
    """A Datasette serving ``path`` as ``/archive/`` with the shipped metadata,
    templates and plugins (immutable when ``public``)."""
    from datasette.app import Datasette

    merged = dict(SETTINGS)
    if public:
        merged.update(PUBLIC_SETTINGS)
    merged.update(settings or {})
    ds = Datasette([], metadata=metadata_for(), template_dir=str(TEMPLATES),
                   plugins_dir=str(PLUGINS), settings=merged)
    if "_memory" in ds.databases:  # added when Datasette is given no file
        ds.remove_database("_memory")
    attach(ds, path, public=public)
    ds._vngov = {"public": public, "file": path.name, "taken": None}
    return ds


def attach(ds, path: Path, *, public: bool):
    """Serve ``path`` as ``/archive/`` (replacing what was served there); returns the
    Database it replaced, or None."""
    db = _database_class()(ds, path=str(path), is_mutable=not public)
    db.name = db.route = DB_NAME
    old = ds.databases.get(DB_NAME)
    ds.databases = {**ds.databases, DB_NAME: db}
    return old


def warm_search(ds, path: Path) -> None:
    """Load the search page's arrays for a snapshot before it is served (the plugin
    finds them under the database's name and file)."""
    from .browse import FacetIndex

    index = FacetIndex()
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        index.refresh(conn)
    except sqlite3.DatabaseError:
        return  # not an archive of ours: the page will say so
    finally:
        conn.close()
    ds.__dict__["_vngov_facet_indexes"] = {(DB_NAME, str(path)): index}


class Snapshots:
    """Takes snapshots of the live file and swaps them in."""

    def __init__(self, ds, source: Path, directory: Path):
        self.ds, self.source, self.directory = ds, source, directory
        self.current: Path | None = None
        self.wake = threading.Event()
        self.lock = threading.Lock()

    def refresh(self) -> Path:
        with self.lock:
            path = take_snapshot(self.source, self.directory)
            warm_search(self.ds, path)
            old_path = self.current
            old = attach(self.ds, path, public=True)
            self.current = path
            self.ds._vngov.update(file=path.name, taken=datetime.now(UTC).isoformat(
                timespec="seconds"))
        if old is not None:
            threading.Thread(target=self._retire, args=(old, old_path), daemon=True).start()
        return path

    def _retire(self, old, path: Path | None) -> None:
        time.sleep(SNAPSHOT_GRACE_S)
        old.close()
        if path is not None:
            path.unlink(missing_ok=True)

    def run(self, every_s: float | None) -> None:
        while True:
            self.wake.wait(every_s)
            self.wake.clear()
            try:
                path = self.refresh()
                print(f"archive snapshot refreshed: {path}", file=sys.stderr, flush=True)
            except ServeError as exc:
                print(f"archive snapshot not refreshed: {exc}", file=sys.stderr, flush=True)

    def cleanup(self) -> None:
        for p in self.directory.glob(f"{DB_NAME}-*.db*"):
            p.unlink(missing_ok=True)


def serve(db: str | Path, *, host: str = "127.0.0.1", port: int = 8001,
          public: bool = False, refresh_minutes: float | None = None,
          snapshot_dir: str | Path | None = None) -> int:
    """Run Datasette on the archive until interrupted."""
    import uvicorn

    db = Path(db).expanduser().resolve()
    prepare(db, public=public)
    snapshots = None
    if public:
        directory = Path(snapshot_dir) if snapshot_dir else db.parent / f"{db.stem}-public"
        ds = build_datasette(db, public=True)
        snapshots = Snapshots(ds, db, directory)
        snapshots.cleanup()
        snapshots.refresh()
        signal.signal(signal.SIGHUP, lambda *_: snapshots.wake.set())
        threading.Thread(target=snapshots.run, args=(
            refresh_minutes * 60 if refresh_minutes else None,), daemon=True).start()
    else:
        ds = build_datasette(db, public=False)
    asyncio.run(ds.invoke_startup())
    # uvicorn shuts down on SIGTERM, then raises it again: end normally, so that the
    # snapshots are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on")
    except KeyboardInterrupt:
        pass
    finally:
        if snapshots is not None:
            snapshots.cleanup()
    return 0

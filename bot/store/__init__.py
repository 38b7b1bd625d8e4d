"""What the bot keeps beside its answers: questions, 👍/👎 votes, "did you mean" picks, closed gaps
and the audit of edits.

One interface (`Store`, in base.py) and two backends: SQLite (`SQLiteStore`, the embedded
default, a file at DATABASE_PATH) and PostgreSQL (`PostgresStore`, when DATABASE_URL is a
postgresql:// URL: many machines share questions, votes, audit and the entries moderators add).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import SettingsError
from bot.store.audit import Edit
from bot.store.base import SCHEMA_VERSION, Store
from bot.store.common import StoreUnavailable
from bot.store.records import GAP_WINDOW, MissedWording, Stats
from bot.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["GAP_WINDOW", "SCHEMA_VERSION", "Edit", "MissedWording", "SQLiteStore", "Stats", "Store", "StoreUnavailable",
           "open_store"]


def open_store(settings: Settings) -> Store:
    """The store the settings name, keyed by the configured or file-kept salt and reconciling edits against
    the knowledge directory; raises StoreUnavailable (one line, for the operator) when it cannot be used."""
    try:
        salt = settings.with_salt().hash_salt
    except SettingsError as exc:
        raise StoreUnavailable(str(exc)) from None
    options = {"salt": salt, "keep_days": settings.keep_days, "max_rows": settings.keep_rows,
               "knowledge_dir": settings.knowledge_dir}
    if settings.database_url:
        from bot.store.postgres import PostgresStore  # only now: psycopg is needed only with PostgreSQL

        return PostgresStore(settings.database_url, **options)
    return SQLiteStore(settings.database_path, **options)

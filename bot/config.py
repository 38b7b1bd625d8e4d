"""Settings, read once at start from the environment and a `.env` file, then passed down.

python-dotenv parses `.env` (quoting, comments, `export`) the way operators expect;
the environment wins over the file so a process manager can override anything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_KNOWLEDGE_DIR = PACKAGE_ROOT.parent / "knowledge"
DEFAULT_DATABASE = Path("data/bot.sqlite3")
DEFAULT_COOLDOWN = (5, 60.0)  # questions per seconds, per user
# Messages nobody addressed to the bot (answer channels, forum posts) are answered only above this
# confidence: stricter than for direct questions, so chatter is left alone.
DEFAULT_CHANNEL_CONFIDENCE = 0.8
DEFAULT_KEEP_DAYS = 90  # recorded questions older than this are pruned…
DEFAULT_KEEP_ROWS = 2_000_000  # …and at most this many of the newest are kept


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    token: str | None = field(default=None, repr=False)  # never printed, never logged
    answer_channels: frozenset[int] = frozenset()
    dev_guild_id: int | None = None
    moderator_role_id: int | None = None
    mod_log_channel_id: int | None = None
    knowledge_dir: Path = DEFAULT_KNOWLEDGE_DIR
    database_path: Path = DEFAULT_DATABASE
    cooldown_rate: int = DEFAULT_COOLDOWN[0]
    cooldown_seconds: float = DEFAULT_COOLDOWN[1]
    log_level: str = "INFO"
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    hash_salt: str = field(default="", repr=False)
    forum_channels: frozenset[int] = frozenset()
    channel_confidence: float = DEFAULT_CHANNEL_CONFIDENCE
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    keep_days: int = DEFAULT_KEEP_DAYS
    keep_rows: int = DEFAULT_KEEP_ROWS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, env_file: Path | str | None = ".env") -> Settings:
        """Build settings from `env` (default: os.environ) layered over `env_file` if it exists."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if env is None else env)
        return cls._parse(values)

    @classmethod
    def _parse(cls, v: Mapping[str, str]) -> Settings:
        def text(name: str) -> str | None:
            raw = v.get(name, "").strip()
            return raw or None

        def integer(name: str) -> int | None:
            raw = text(name)
            if raw is None:
                return None
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None

        def ids(name: str) -> tuple[int, ...]:
            raw = text(name) or ""
            try:
                return tuple(int(part) for part in raw.replace(" ", ",").split(",") if part)
            except ValueError:
                raise SettingsError(f"{name} must be a comma-separated list of ids, got {raw!r}") from None

        def fraction(name: str, default: float) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = math.nan  # fails the range check below, with the same message
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}")
            return value

        rate, seconds = DEFAULT_COOLDOWN
        if cooldown := text("COOLDOWN"):
            try:
                r, s = cooldown.split("/")
                rate, seconds = int(r), float(s)
            except ValueError:
                raise SettingsError(f"COOLDOWN must look like 5/60 (questions per seconds), got {cooldown!r}") from None
            if rate < 1 or seconds <= 0:
                raise SettingsError("COOLDOWN needs at least 1 question per a positive number of seconds")

        shard_count = integer("SHARD_COUNT")
        shard_ids = ids("SHARD_IDS") or None
        if shard_ids is not None and shard_count is None:
            raise SettingsError("SHARD_IDS needs SHARD_COUNT as well")
        if shard_ids is not None and shard_count is not None and any(i >= shard_count for i in shard_ids):
            raise SettingsError("every id in SHARD_IDS must be below SHARD_COUNT")

        keep_days, keep_rows = integer("QUESTIONS_KEEP_DAYS"), integer("QUESTIONS_KEEP_ROWS")
        if (keep_days is not None and keep_days < 1) or (keep_rows is not None and keep_rows < 1):
            raise SettingsError("QUESTIONS_KEEP_DAYS and QUESTIONS_KEEP_ROWS must be at least 1")
        database_url = text("DATABASE_URL")
        if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("DATABASE_URL must start with postgresql:// (empty: SQLite at DATABASE_PATH)")

        level = (text("LOG_LEVEL") or "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

        return cls(
            token=text("DISCORD_TOKEN"),
            answer_channels=frozenset(ids("ANSWER_CHANNELS")),
            dev_guild_id=integer("DEV_GUILD_ID"),
            moderator_role_id=integer("MODERATOR_ROLE_ID"),
            mod_log_channel_id=integer("MOD_LOG_CHANNEL_ID"),
            knowledge_dir=Path(text("KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE_DIR),
            database_path=Path(text("DATABASE_PATH") or DEFAULT_DATABASE),
            cooldown_rate=rate,
            cooldown_seconds=seconds,
            log_level=level,
            shard_count=shard_count,
            shard_ids=shard_ids,
            hash_salt=text("STATS_SALT") or "",
            forum_channels=frozenset(ids("FORUM_CHANNELS")),
            channel_confidence=fraction("CHANNEL_CONFIDENCE", DEFAULT_CHANNEL_CONFIDENCE),
            database_url=database_url,
            keep_days=keep_days or DEFAULT_KEEP_DAYS,
            keep_rows=keep_rows or DEFAULT_KEEP_ROWS,
        )

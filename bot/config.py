"""Settings, read once at start from the environment and a `.env` file, then passed down.

Where things are: one folder, the bot's *home*, is `STORY_BOT_HOME` when set, else the working directory.
`.env` is read from the home; relative `DATABASE_PATH` and `KNOWLEDGE_DIR` are taken relative to it; with no
`KNOWLEDGE_DIR`, the home's `knowledge/` folder is used when there is one, else the story's knowledge that
ships inside the package (so `pip install .` answers from any directory).

python-dotenv parses `.env` (quoting, comments, `export`) the way operators expect. The file is loaded into
`os.environ` without overriding what is already there: the environment wins (a process manager can override
anything), and a library setting in `.env` (WATCHFILES_FORCE_POLLING) works exactly as if it were exported.
"""

from __future__ import annotations

import io
import math
import os
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

from bot.knowledge.packs import MAIN_STORY, Pack, PackError, check_slug, find_packs
from bot.safefile import read_regular

PACKAGE_ROOT = Path(__file__).resolve().parent
# bot/story is package data in a wheel; in the repository it is a symlink to knowledge/, resolved here so that
# file watching and `/kb` edits see the real folder.
DEFAULT_KNOWLEDGE_DIR = (PACKAGE_ROOT / "story").resolve()
DEFAULT_DATABASE = Path("data/bot.sqlite3")
DEFAULT_COOLDOWN = (5, 60.0)  # questions per seconds, per user
# Messages nobody addressed to the bot (answer channels, forum posts) are answered only above this
# confidence: stricter than for direct questions, so chatter is left alone.
DEFAULT_CHANNEL_CONFIDENCE = 0.8
DEFAULT_ANSWER_DEADLINE = 2.0
DEFAULT_KEEP_DAYS = 90  # recorded questions older than this are pruned…
DEFAULT_KEEP_ROWS = 2_000_000  # …and at most this many of the newest are kept
HOME_VARIABLE = "STORY_BOT_HOME"
MAX_SNOWFLAKE = 2**64 - 1  # Discord ids are unsigned 64-bit numbers
# Discord asks for one shard per 1,000-2,500 servers; more than this is a typo that would never become ready.
MAX_SHARDS = 16_384
MAX_ENV_BYTES = 1024 * 1024  # a .env or salt file is a few lines; anything larger is not one
LOG_FORMATS = ("text", "json")
_SWITCH = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


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
    log_format: str = "text"
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    hash_salt: str = field(default="", repr=False)
    forum_channels: frozenset[int] = frozenset()
    channel_confidence: float = DEFAULT_CHANNEL_CONFIDENCE
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    keep_days: int = DEFAULT_KEEP_DAYS
    keep_rows: int = DEFAULT_KEEP_ROWS
    health_host: str = "127.0.0.1"
    health_port: int | None = None  # None: no health/metrics server
    # Answer in a child process (bot/engine/process.py) rather than in threads beside the event loop. from_env
    # turns it on where there are two cores or more; off here, for bots built in tests and tools.
    answer_process: bool = False
    # Seconds the answer process may go without answering while it has questions: then it counts as hung, the
    # questions are answered in threads and it is restarted.
    answer_deadline: float = DEFAULT_ANSWER_DEADLINE
    # Further story packs, one subfolder each (bot/knowledge/packs.py); the knowledge folder is the story `main`.
    stories_dir: Path | None = None
    default_story: str = MAIN_STORY  # the story answered where a server, channel or DM has none of its own

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, env_file: Path | str | None = None) -> Settings:
        """Settings from `env` (default: os.environ, after loading the home's `.env` into it).

        With an explicit `env`, `env_file` is layered under it instead and os.environ is left alone (tests).
        """
        if env is None:
            home = home_dir(os.environ)
            load_env_file(home / ".env" if env_file is None else Path(env_file), os.environ)
            return cls._parse(os.environ, home)
        values: dict[str, str] = {}
        if env_file is not None:
            load_env_file(Path(env_file), values)
        values.update(env)
        return cls._parse(values, home_dir(values))

    @classmethod
    def _parse(cls, v: Mapping[str, str], home: Path) -> Settings:
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

        def numbers(name: str) -> tuple[int, ...]:
            raw = text(name) or ""
            try:
                return tuple(int(part) for part in raw.replace(" ", ",").split(",") if part)
            except ValueError:
                raise SettingsError(f"{name} must be a comma-separated list of ids, got {raw!r}") from None

        def ids(name: str) -> tuple[int, ...]:
            return tuple(discord_id(name, one) for one in numbers(name))

        def discord_id(name: str, value: int) -> int:
            # An id Discord cannot have (-5, 10^26) was accepted, and the bot never became ready.
            if not 0 < value <= MAX_SNOWFLAKE:
                raise SettingsError(f"{name} must be a Discord id (a positive 64-bit number; copy it with "
                                    f"developer mode on), got {value}")
            return value

        def snowflake(name: str) -> int | None:
            value = integer(name)
            return None if value is None else discord_id(name, value)

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
        def switch(name: str, default: bool) -> bool:
            raw = (text(name) or "").lower()
            if not raw:
                return default
            if raw not in _SWITCH:
                raise SettingsError(f"{name} must be on or off, got {raw!r}")
            return _SWITCH[raw]

        def path(name: str, default: Path) -> Path:
            return home / (text(name) or default)  # an absolute value stays as it is

        rate, seconds = DEFAULT_COOLDOWN
        if cooldown := text("COOLDOWN"):
            try:
                r, s = cooldown.split("/")
                rate, seconds = int(r), float(s)
            except ValueError:
                raise SettingsError(f"COOLDOWN must look like 5/60 (questions per seconds), got {cooldown!r}") from None
            if rate < 1 or not (0 < seconds < math.inf):
                raise SettingsError(f"COOLDOWN needs at least 1 question per a finite, positive number of seconds, "
                                    f"got {cooldown!r}")

        shard_count = integer("SHARD_COUNT")
        shard_ids = numbers("SHARD_IDS") or None
        if shard_count is not None and not 1 <= shard_count <= MAX_SHARDS:
            raise SettingsError(f"SHARD_COUNT must be from 1 to {MAX_SHARDS:,}, got {shard_count}")
        if shard_ids is not None and shard_count is None:
            raise SettingsError("SHARD_IDS needs SHARD_COUNT as well")
        if shard_ids is not None and shard_count is not None:
            if any(not 0 <= i < shard_count for i in shard_ids):
                raise SettingsError(f"every id in SHARD_IDS must be from 0 to SHARD_COUNT - 1 ({shard_count - 1})")
            if len(set(shard_ids)) != len(shard_ids):
                raise SettingsError("SHARD_IDS lists a shard more than once")

        keep_days, keep_rows = integer("QUESTIONS_KEEP_DAYS"), integer("QUESTIONS_KEEP_ROWS")
        if (keep_days is not None and keep_days < 1) or (keep_rows is not None and keep_rows < 1):
            raise SettingsError("QUESTIONS_KEEP_DAYS and QUESTIONS_KEEP_ROWS must be at least 1")
        database_url = text("DATABASE_URL")
        if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("DATABASE_URL must start with postgresql:// (empty: SQLite at DATABASE_PATH)")

        level = (text("LOG_LEVEL") or "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        log_format = (text("LOG_FORMAT") or "text").lower()
        if log_format not in LOG_FORMATS:
            raise SettingsError(f"LOG_FORMAT must be text or json, got {log_format!r}")

        health_port = integer("HEALTH_PORT")
        if health_port is not None and not 0 <= health_port <= 65535:
            raise SettingsError(f"HEALTH_PORT must be a port number (0-65535), got {health_port}")

        answer_process = switch("ANSWER_PROCESS", (os.cpu_count() or 1) >= 2)
        deadline = text("ANSWER_DEADLINE")
        try:
            answer_deadline = DEFAULT_ANSWER_DEADLINE if deadline is None else float(deadline)
        except ValueError:
            answer_deadline = math.nan  # fails the range check below, with the same message
        if not 0 < answer_deadline < math.inf:
            raise SettingsError(f"ANSWER_DEADLINE must be a positive number of seconds, got {deadline!r}")

        default_story = text("DEFAULT_STORY") or MAIN_STORY
        try:
            check_slug(default_story)
        except PackError as exc:
            raise SettingsError(f"DEFAULT_STORY: {exc}") from None
        stories = text("STORIES_DIR")
        knowledge = text("KNOWLEDGE_DIR")
        local = home / "knowledge"
        return cls(
            token=text("DISCORD_TOKEN"),
            answer_channels=frozenset(ids("ANSWER_CHANNELS")),
            dev_guild_id=snowflake("DEV_GUILD_ID"),
            moderator_role_id=snowflake("MODERATOR_ROLE_ID"),
            mod_log_channel_id=snowflake("MOD_LOG_CHANNEL_ID"),
            knowledge_dir=home / knowledge if knowledge else local if local.is_dir() else DEFAULT_KNOWLEDGE_DIR,
            database_path=path("DATABASE_PATH", DEFAULT_DATABASE),
            cooldown_rate=rate,
            cooldown_seconds=seconds,
            log_level=level,
            log_format=log_format,
            shard_count=shard_count,
            shard_ids=shard_ids,
            hash_salt=text("STATS_SALT") or "",
            forum_channels=frozenset(ids("FORUM_CHANNELS")),
            channel_confidence=fraction("CHANNEL_CONFIDENCE", DEFAULT_CHANNEL_CONFIDENCE),
            database_url=database_url,
            keep_days=keep_days or DEFAULT_KEEP_DAYS,
            keep_rows=keep_rows or DEFAULT_KEEP_ROWS,
            health_host=text("HEALTH_HOST") or "127.0.0.1",
            health_port=health_port,
            answer_process=answer_process,
            answer_deadline=answer_deadline,
            stories_dir=home / stories if stories else None,
            default_story=default_story,
        )

    def packs(self) -> dict[str, Pack]:
        """The stories these settings serve, by slug; SettingsError when STORIES_DIR or DEFAULT_STORY is unusable."""
        try:
            packs = find_packs(self.knowledge_dir, self.stories_dir)
        except PackError as exc:
            raise SettingsError(str(exc)) from None
        if self.default_story not in packs:
            raise SettingsError(f"DEFAULT_STORY is {self.default_story!r}, but the stories are {', '.join(packs)}")
        return packs

    def with_salt(self) -> Settings:
        """These settings with a STATS_SALT: the configured one, else one kept in a file beside the database.

        The salt must not sit in the database with the hashes it keys: whoever has the database and a member list
        could otherwise map every hash back to a reader. The file is created once, readable by its owner only.
        """
        if self.hash_salt:
            return self
        salt_file = self.database_path.with_name(self.database_path.stem + ".salt")
        try:
            salt_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                salt = read_regular(salt_file, MAX_ENV_BYTES).decode("ascii").strip()
            else:
                salt = secrets.token_hex(32)
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(salt + "\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"STATS_SALT is empty and the salt file {salt_file} cannot be used ({exc}): "
                                "set STATS_SALT or make the database's folder writable") from None
        if not salt:
            raise SettingsError(f"the salt file {salt_file} is empty: delete it or set STATS_SALT")
        return replace(self, hash_salt=salt)


def home_dir(env: Mapping[str, str]) -> Path:
    """The folder `.env`, data and a local knowledge/ are found in: STORY_BOT_HOME, else the working directory."""
    return Path(env.get(HOME_VARIABLE, "").strip() or os.getcwd())


def missing_token(home: Path) -> str:
    """One line on what to do about an unset DISCORD_TOKEN, right for where the bot runs.

    "Copy .env.example to .env" was said when `.env` existed with an empty token, and in the container,
    which has no `.env.example`.
    """
    env, example = home / ".env", home / ".env.example"
    if env.is_file():
        return f"DISCORD_TOKEN is not set: {env} has no token (or an empty one); put the bot's token there."
    if example.is_file():
        return f"DISCORD_TOKEN is not set: copy {example} to {env} and put the bot's token there."
    return (f"DISCORD_TOKEN is not set: set it in the environment (with compose, in the .env beside compose.yaml; "
            f"with docker run, -e DISCORD_TOKEN=…) or in {env}.")


def load_env_file(path: Path, into: MutableMapping[str, str]) -> None:
    """Add the variables of the `.env` file at `path` (if there is one) to `into`, never overriding a value there."""
    try:
        text = read_regular(path, MAX_ENV_BYTES).decode("utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    values = dotenv_values(stream=io.StringIO(text))
    for key, value in values.items():
        if value is not None:
            into.setdefault(key, value)

"""Settings: one home for .env, data and knowledge; .env acts like the environment; bad values are one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_KNOWLEDGE_DIR, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A private os.environ (Settings.from_env loads .env into it) and a working directory with nothing in it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "STORY_BOT_", "WATCHFILES_"))}
    monkeypatch.setattr(os, "environ", env)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return env


def test_env_file_in_the_working_directory_is_loaded_into_the_environment(environ: dict[str, str]) -> None:
    Path(".env").write_text("DISCORD_TOKEN=from-file\nWATCHFILES_FORCE_POLLING=1\nLOG_LEVEL=debug\n")
    environ["LOG_LEVEL"] = "WARNING"
    settings = Settings.from_env()
    assert settings.token == "from-file"
    assert environ["WATCHFILES_FORCE_POLLING"] == "1"  # what watchfiles reads: as if it had been exported
    assert settings.log_level == "WARNING" and environ["LOG_LEVEL"] == "WARNING"  # the environment wins


def test_story_bot_home_holds_env_data_and_knowledge(environ: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "knowledge").mkdir(parents=True)
    (home / ".env").write_text("DISCORD_TOKEN=home-token\n")
    Path(".env").write_text("DISCORD_TOKEN=working-directory-token\n")  # not the home: ignored
    environ["STORY_BOT_HOME"] = str(home)
    settings = Settings.from_env()
    assert settings.token == "home-token"
    assert settings.database_path == home / "data" / "bot.sqlite3"
    assert settings.knowledge_dir == home / "knowledge"


def test_relative_paths_are_relative_to_the_home_and_absolute_ones_stay(environ: dict[str, str],
                                                                         tmp_path: Path) -> None:
    environ |= {"STORY_BOT_HOME": str(tmp_path), "DATABASE_PATH": "db/q.sqlite3", "KNOWLEDGE_DIR": "/srv/k"}
    settings = Settings.from_env()
    assert settings.database_path == tmp_path / "db" / "q.sqlite3"
    assert settings.knowledge_dir == Path("/srv/k")


def test_without_a_local_knowledge_folder_the_packaged_story_is_used(environ: dict[str, str]) -> None:
    settings = Settings.from_env()
    assert settings.knowledge_dir == DEFAULT_KNOWLEDGE_DIR
    assert (DEFAULT_KNOWLEDGE_DIR / "article.txt").is_file()


@pytest.mark.parametrize(("variables", "named"), [
    ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "0,0"}, "more than once"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, "SHARD_IDS"),
    ({"SHARD_COUNT": "2", "SHARD_IDS": "-1"}, "SHARD_IDS"),
    ({"COOLDOWN": "5/inf"}, "COOLDOWN"),
    ({"COOLDOWN": "5/nan"}, "COOLDOWN"),
    ({"COOLDOWN": "0/60"}, "COOLDOWN"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"HEALTH_PORT": "70000"}, "HEALTH_PORT"),
    ({"ANSWER_PROCESS": "maybe"}, "ANSWER_PROCESS"),
    ({"ANSWER_DEADLINE": "0"}, "ANSWER_DEADLINE"),
    ({"ANSWER_DEADLINE": "two"}, "ANSWER_DEADLINE must be a positive number of seconds"),
    ({"ANSWER_DEADLINE": "inf"}, "ANSWER_DEADLINE"),
    ({"SHARD_COUNT": str(10**26)}, "SHARD_COUNT must be from 1 to 16,384"),
    ({"DEV_GUILD_ID": "-5"}, "DEV_GUILD_ID must be a Discord id"),
    ({"MODERATOR_ROLE_ID": "0"}, "MODERATOR_ROLE_ID"),
    ({"MOD_LOG_CHANNEL_ID": str(2**64)}, "MOD_LOG_CHANNEL_ID"),
    ({"ANSWER_CHANNELS": "123,-4"}, "ANSWER_CHANNELS must be a Discord id"),
    ({"FORUM_CHANNELS": str(10**26)}, "FORUM_CHANNELS"),
])  # fmt: skip
def test_values_that_would_fail_forever_are_refused_at_start(variables: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as refused:
        Settings.from_env(env=variables)
    assert "\n" not in str(refused.value)


def test_good_values_parse() -> None:
    s = Settings.from_env(env={"SHARD_COUNT": "4", "SHARD_IDS": "2,3", "COOLDOWN": "3/30", "LOG_FORMAT": "JSON",
                               "HEALTH_PORT": "9100", "HEALTH_HOST": "0.0.0.0", "ANSWER_DEADLINE": "1.5"})
    assert (s.shard_count, s.shard_ids, s.cooldown_rate, s.cooldown_seconds) == (4, (2, 3), 3, 30.0)
    assert (s.log_format, s.health_host, s.health_port) == ("json", "0.0.0.0", 9100)
    assert (s.answer_deadline, Settings.from_env(env={}).answer_deadline) == (1.5, 2.0)
    assert Settings.from_env(env={}).health_port is None  # no health server unless asked for


@pytest.mark.parametrize(("value", "cores", "on"), [
    ("", 2, True), ("", 1, False), ("off", 8, False), ("No", 8, False), ("on", 1, True), ("1", 1, True),
])  # fmt: skip
def test_answer_process_is_on_where_there_is_a_second_core_unless_set(
        value: str, cores: int, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert Settings.from_env(env={"ANSWER_PROCESS": value}).answer_process is on


def test_an_unreadable_env_file_is_a_setting_error(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()  # unreadable as a file even for root
    with pytest.raises(SettingsError, match=r"cannot read .*\.env"):
        Settings.from_env(env={}, env_file=tmp_path / ".env")
    (tmp_path / "bad.env").write_bytes(b"DISCORD_TOKEN=\xff\xfe\n")
    with pytest.raises(SettingsError, match=r"bad\.env"):
        Settings.from_env(env={}, env_file=tmp_path / "bad.env")


def test_the_command_line_reports_a_bad_env_file_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    env = {**os.environ, "STORY_BOT_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and ".env" in done.stderr and done.stdout == ""


def test_an_empty_stats_salt_is_made_once_and_kept_beside_the_database_owner_only(tmp_path: Path) -> None:
    settings = Settings(database_path=tmp_path / "data" / "bot.sqlite3")
    first = settings.with_salt()
    salt_file = tmp_path / "data" / "bot.salt"
    assert len(first.hash_salt) == 64 and salt_file.read_text().strip() == first.hash_salt
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    assert settings.with_salt().hash_salt == first.hash_salt  # the same salt on every start
    assert Settings(hash_salt="configured").with_salt().hash_salt == "configured"


def test_a_salt_that_cannot_be_kept_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bot.salt").mkdir()
    with pytest.raises(SettingsError, match="STATS_SALT"):
        Settings(database_path=tmp_path / "bot.sqlite3").with_salt()

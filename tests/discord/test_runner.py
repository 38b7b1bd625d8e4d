"""`python -m bot run` and `python -m bot sync`: exit codes, one clear line, clean signals, the 4014 fallback.

These run the real runner (its own event loop and signal handlers, as in production) against
the stand-in's REST API (in process); only `connect` is replaced, by a gateway that stays up until the bot closes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import discord
import pytest

from bot.config import Settings
from bot.discord import runner
from bot.discord.bot import StoryBot
from tests.discord.conftest import APP_ID, GUILD_ID, TOKEN, InProcessDiscord

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG = 0, 1, 2


@dataclass
class FakeGateway:
    """Stands in for the websocket: 'connected' until close(), sending `signal` to this process once up."""

    signal: int = signal.SIGTERM
    refuse_message_content: bool = False  # answer like Discord's close code 4014
    connected: list[StoryBot] = field(default_factory=list)

    async def connect(self, bot: StoryBot) -> None:
        self.connected.append(bot)
        if self.refuse_message_content and bot.intents.message_content:
            raise discord.PrivilegedIntentsRequired(0)  # what AutoShardedClient.connect raises on 4014
        os.kill(os.getpid(), self.signal)
        while not bot.is_closed():
            await asyncio.sleep(0.01)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake_gateway = FakeGateway()

    async def connect(self: StoryBot, *, reconnect: bool = True) -> None:
        await fake_gateway.connect(self)

    monkeypatch.setattr(StoryBot, "connect", connect)
    return fake_gateway


def test_run_without_a_token_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.run(Settings(token=None)) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DISCORD_TOKEN is not set" in err


def test_python_m_bot_run_without_a_token_exits_2(tmp_path) -> None:
    """The whole path from the command line: no traceback, one line, exit code 2."""
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.count("\n") == 1 and "DISCORD_TOKEN is not set" in done.stderr


def test_a_refused_token_is_one_line_and_exit_2(settings: Settings, fake: InProcessDiscord,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fake.token = "revoked"  # Discord no longer takes TOKEN
    assert runner.run(settings) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Discord refused DISCORD_TOKEN")
    assert "Traceback" not in err and TOKEN not in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly_with_exit_0(settings: Settings, fake: InProcessDiscord, gateway: FakeGateway,
                                               sig: int, capsys: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    gateway.signal = sig
    with caplog.at_level(logging.INFO):
        assert runner.run(settings) == EXIT_OK
    (bot,) = gateway.connected
    assert bot.is_closed()
    assert "Traceback" not in capsys.readouterr().err
    assert any(f"{signal.Signals(sig).name} received" in r.getMessage() for r in caplog.records)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers are removed again


def test_refused_message_content_reconnects_without_it(settings: Settings, fake: InProcessDiscord,
                                                        gateway: FakeGateway,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    gateway.refuse_message_content = True
    with caplog.at_level(logging.WARNING):
        assert runner.run(settings) == EXIT_OK
    assert [b.intents.message_content for b in gateway.connected] == [True, False]
    warning = next(r.getMessage() for r in caplog.records if "4014" in r.getMessage())
    assert "Message Content Intent" in warning and "mentions, direct messages and slash commands" in warning


def test_invalid_knowledge_exits_1_with_the_problems(settings: Settings, fake: InProcessDiscord, tmp_path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty-knowledge"
    empty.mkdir()
    assert runner.run(dataclasses.replace(settings, knowledge_dir=empty)) == EXIT_PROBLEMS
    err = capsys.readouterr().err
    assert "the knowledge has problems" in err and "story.yaml" in err and "Traceback" not in err


def test_sync_forces_a_sync_even_when_nothing_changed(settings: Settings, fake: InProcessDiscord,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.sync(settings) == EXIT_OK
    assert runner.sync(settings) == EXIT_OK
    puts = [c.path for c in fake.calls if c.method == "PUT"]
    assert puts == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"] * 2
    assert f"commands to guild {GUILD_ID}" in capsys.readouterr().out


def test_sync_without_a_token_or_with_a_bad_one_exits_2(settings: Settings, fake: InProcessDiscord,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.sync(Settings(token=None)) == EXIT_CONFIG
    fake.token = "revoked"  # Discord no longer takes TOKEN
    assert runner.sync(settings) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err


def test_env_example_documents_every_setting() -> None:
    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'(?:text|integer|ids|numbers|snowflake|fraction|path)\("([A-Z_]+)"[,)]',
                          (root / "bot" / "config.py").read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (root / ".env.example").read_text(), re.MULTILINE))
    libraries = {"WATCHFILES_FORCE_POLLING"}  # read by a library from the environment, which .env feeds
    assert read and read | libraries == documented
    Settings.from_env(env={}, env_file=root / ".env.example")  # and it parses as it stands

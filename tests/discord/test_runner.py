"""`python -m bot run` and `python -m bot sync`: exit codes, one clear line, clean signals, the 4014 fallback.

These run the real runner (its own event loop and signal handlers, as in production) against
the stand-in's REST API (in process); only `connect` is replaced, by a gateway that stays up until the bot closes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
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


class HealthWatcher:
    """Polls /healthz from a thread while the runner owns the main one; remembers each distinct answer."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.seen: list[tuple[int, str | None]] = []
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    status, body = response.status, json.load(response)
            except urllib.error.HTTPError as error:
                status, body = error.code, json.load(error)
            except OSError:
                status, body = 0, {"why": "no answer"}
            with self.changed:
                if not self.seen or self.seen[-1] != (status, body.get("why")):
                    self.seen.append((status, body.get("why")))
                    self.changed.notify_all()
            self._stop.wait(0.02)

    def wait_for(self, words: str) -> None:
        """Until /healthz has answered with `words` in its why (at most 20 s)."""
        with self.changed:
            assert self.changed.wait_for(lambda: any(words in (why or "") for _, why in self.seen), 20), self.seen

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_answers_503_with_why_from_before_the_first_login_until_the_gateway(
        settings: Settings, fake: InProcessDiscord, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    watcher = HealthWatcher(port)
    monkeypatch.setattr(runner, "RETRY_DELAYS", (0.5,))
    login, attempts = discord.Client.login, []

    async def unreachable_once(self: discord.Client, token: str) -> None:
        attempts.append(self)
        if len(attempts) == 1:
            await asyncio.to_thread(watcher.wait_for, "logging in")  # it answers before any login is done
            raise aiohttp.ClientConnectionError("Cannot connect to host discord.com:443")
        await login(self, token)

    monkeypatch.setattr(discord.Client, "login", unreachable_once)  # Discord's side of the bot's login
    connect = FakeGateway.connect

    async def connect_once_seen(self: FakeGateway, bot: StoryBot) -> None:
        await asyncio.to_thread(watcher.wait_for, "connecting to Discord's gateway")
        await connect(self, bot)

    monkeypatch.setattr(FakeGateway, "connect", connect_once_seen)
    try:
        assert runner.run(dataclasses.replace(settings, health_port=port)) == EXIT_OK
        watcher.wait_for("Discord unreachable (ClientConnectionError")
    finally:
        watcher.stop()
    answered = [(status, why) for status, why in watcher.seen if status]
    assert answered and all(status == 503 for status, _ in answered)
    whys = [why for _, why in answered]
    assert whys.index("starting: logging in to Discord") < next(
        i for i, why in enumerate(whys) if why.startswith("Discord unreachable")) < whys.index(
        "starting: connecting to Discord's gateway")


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

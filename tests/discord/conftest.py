"""A real StoryBot against a fake Discord REST API, and Discord payloads built as plain JSON.

The bot logs in for real (GET /users/@me, GET /oauth2/applications/@me), loads the real
knowledge and cogs, and receives events through discord.py's own gateway parsers
(`ConnectionState.parsers[...]`), so commands run through the real CommandTree, buttons
through the real view store and messages through the real event dispatch. Only the two
places where discord.py puts bytes on the wire are replaced: `HTTPClient.request` (REST)
and `AsyncWebhookAdapter.request` (interaction responses and followups). Every call is
recorded as the JSON Discord would receive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter

from bot.config import DEFAULT_KNOWLEDGE_DIR, Settings
from bot.discord.bot import StoryBot
from bot.engine import Answer, Conversation, Engine, load_engine
from bot.knowledge import watch as watch_module

TOKEN = "MTIz.fake-token.never-logged"
APP_ID = 1100000000000000001
BOT_ID = APP_ID
GUILD_ID = 1200000000000000001
ANSWER_CHANNEL = 1300000000000000001
OTHER_CHANNEL = 1300000000000000002
DM_CHANNEL = 1300000000000000003
THREAD_IN_ANSWER_CHANNEL = 1300000000000000004
READER_ID = 1400000000000000001
OTHER_READER_ID = 1400000000000000002
DISCORD_EPOCH_MS = 1_420_070_400_000
TIMESTAMP = "2025-02-05T12:00:00.000000+00:00"
EPHEMERAL = 1 << 6

_counter = itertools.count(1)


def snowflake() -> int:
    """A fresh, time-ordered id, like Discord's."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


# --- payloads ------------------------------------------------------------------------


def user(user_id: int = READER_ID, name: str = "reader", *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
            "bot": bot, "public_flags": 0}


def member(user_id: int = READER_ID, name: str = "reader") -> dict[str, Any]:
    return {"user": user(user_id, name), "roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False,
            "flags": 0, "permissions": str((1 << 31) | (1 << 11) | (1 << 10))}


def text_channel(channel_id: int, name: str) -> dict[str, Any]:
    return {"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "name": name, "position": 0,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None,
            "rate_limit_per_user": 0}


def guild_create() -> dict[str, Any]:
    """GUILD_CREATE for the test guild: two text channels, a thread in the answer channel, the bot and a reader."""
    return {
        "id": str(GUILD_ID), "name": "Readers", "icon": None, "owner_id": str(OTHER_READER_ID),
        "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "features": [], "mfa_level": 0, "system_channel_id": None,
        "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None, "description": None,
        "banner": None, "premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": None,
        "nsfw_level": 0, "premium_progress_bar_enabled": False, "large": False, "unavailable": False,
        "member_count": 2, "joined_at": TIMESTAMP, "emojis": [], "stickers": [], "voice_states": [],
        "presences": [], "stage_instances": [], "guild_scheduled_events": [],
        "threads": [{"id": str(THREAD_IN_ANSWER_CHANNEL), "type": 11, "guild_id": str(GUILD_ID),
                     "parent_id": str(ANSWER_CHANNEL), "name": "about the tariffs", "owner_id": str(READER_ID),
                     "last_message_id": None, "rate_limit_per_user": 0, "message_count": 1, "member_count": 1,
                     "flags": 0, "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                                     "archive_timestamp": TIMESTAMP, "locked": False}}],
        "roles": [{"id": str(GUILD_ID), "name": "@everyone", "permissions": str((1 << 31) | (1 << 11) | (1 << 10)),
                   "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
        "channels": [text_channel(ANSWER_CHANNEL, "ask-the-story"), text_channel(OTHER_CHANNEL, "general")],
        "members": [member(BOT_ID, "StoryBot") | {"user": user(BOT_ID, "StoryBot", bot=True)}, member()],
    }


def message_create(content: str, *, channel_id: int = ANSWER_CHANNEL, author: dict[str, Any] | None = None,
                   mentions: tuple[int, ...] = (), replying_to: dict[str, Any] | None = None,
                   dm: bool = False) -> dict[str, Any]:
    """A MESSAGE_CREATE payload as the gateway sends it; `mentions` are user ids whose <@id> is in `content`."""
    author = author or user()
    data: dict[str, Any] = {
        "id": str(snowflake()), "channel_id": str(DM_CHANNEL if dm else channel_id), "author": author,
        "content": content, "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": [user(i, f"user{i}", bot=i == BOT_ID) for i in mentions],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
        "components": [],
    }
    if not dm:
        data["guild_id"] = str(GUILD_ID)
        data["member"] = {k: v for k, v in member(int(author["id"])).items() if k != "user"}
    if replying_to is not None:
        data["type"] = 19
        data["message_reference"] = {"type": 0, "message_id": replying_to["id"],
                                     "channel_id": replying_to["channel_id"], "guild_id": str(GUILD_ID)}
        data["referenced_message"] = replying_to
    return data


def _interaction(kind: int, data: dict[str, Any], *, dm: bool = False, message: dict[str, Any] | None = None,
                 user_id: int = READER_ID) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(snowflake()), "application_id": str(APP_ID), "type": kind, "token": f"tok-{snowflake()}",
        "version": 1, "data": data, "locale": "en-US", "app_permissions": str((1 << 11) | (1 << 14)),
        "entitlements": [], "attachment_size_limit": 10 * 1024 * 1024,
    }
    if dm:
        payload |= {"user": user(user_id), "channel_id": str(DM_CHANNEL), "context": 1,
                    "channel": {"id": str(DM_CHANNEL), "type": 1, "recipients": [user(user_id)]},
                    "authorizing_integration_owners": {"0": str(APP_ID)}}
    else:
        payload |= {"guild_id": str(GUILD_ID), "guild_locale": "en-US", "member": member(user_id),
                    "channel_id": str(ANSWER_CHANNEL), "context": 0,
                    "channel": text_channel(ANSWER_CHANNEL, "ask-the-story"),
                    "authorizing_integration_owners": {"0": str(GUILD_ID)}}
    if message is not None:
        payload["message"] = message
    return payload


def _option(name: str, value: Any, focused: bool = False) -> dict[str, Any]:
    kind = 4 if isinstance(value, int) else 3
    option = {"type": kind, "name": name, "value": value}
    return option | {"focused": True} if focused else option


def slash(command: str, /, *, dm: bool = False, user_id: int = READER_ID, **options: Any) -> dict[str, Any]:
    """INTERACTION_CREATE for a chat-input command, as sent for a command synced to the dev guild."""
    data: dict[str, Any] = {"id": str(snowflake()), "name": command, "type": 1,
                            "options": [_option(k, v) for k, v in options.items()]}
    if not dm:
        data["guild_id"] = str(GUILD_ID)
    return _interaction(2, data, dm=dm, user_id=user_id)


def autocomplete(name: str, option: str, current: str) -> dict[str, Any]:
    data = {"id": str(snowflake()), "name": name, "type": 1, "guild_id": str(GUILD_ID),
            "options": [_option(option, current, focused=True)]}
    return _interaction(4, data)


def button_press(message: dict[str, Any], custom_id: str, *, user_id: int = READER_ID) -> dict[str, Any]:
    """INTERACTION_CREATE for pressing the button `custom_id` on `message` (a message the bot sent)."""
    return _interaction(3, {"custom_id": custom_id, "component_type": 2}, message=message, user_id=user_id)


# --- the fake REST API -------------------------------------------------------------------


@dataclass
class Call:
    """One request the bot made: the JSON body is exactly what Discord would receive."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The message in this call: the `data` of an interaction callback, else the body itself."""
        if self.path.endswith("/callback"):
            return self.json.get("data") or {}
        return self.json or {}

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.body.get("embeds") or []

    @property
    def content(self) -> str | None:
        return self.body.get("content")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.body.get("components") or [] for c in row["components"]]

    @property
    def ephemeral(self) -> bool:
        return bool(self.body.get("flags", 0) & EPHEMERAL)


@dataclass
class FakeDiscord:
    calls: list[Call] = field(default_factory=list)
    refuse_token: bool = False
    failures: dict[str, int] = field(default_factory=dict)  # path regex → HTTP status to answer with

    # What the bot sends to readers: channel messages, interaction responses, followups.
    SENDS = re.compile(r"^(/channels/\d+/messages|/interactions/\d+/[^/]+/callback|/webhooks/\d+/[^/]+"
                       r"(/messages/@original)?)$")

    def sent(self) -> list[Call]:
        """Every call that shows something to a reader, in order."""
        return [c for c in self.calls if self.SENDS.match(c.path) and c.method in ("POST", "PATCH")]

    def last(self) -> Call:
        sent = self.sent()
        assert sent, f"nothing was sent; calls: {[(c.method, c.path) for c in self.calls]}"
        return sent[-1]

    def message_of(self, call: Call) -> dict[str, Any]:
        """The message payload Discord would store for `call`: what a later button press carries."""
        return self._message(call.body, channel_id=ANSWER_CHANNEL)

    async def rest(self, route: Route, *, files: Any = None, form: Any = None, **kwargs: Any) -> Any:
        return self._answer(route, kwargs.get("json"), kwargs.get("params"))

    async def webhook(self, route: Route, session: Any, *, payload: Any = None,
                      params: Any = None, **kwargs: Any) -> Any:
        return self._answer(route, payload, params)

    def _answer(self, route: Route, body: Any, params: Any) -> Any:
        path = route.url[len(Route.BASE):]
        self.calls.append(Call(route.method, path, body, params))
        for pattern, status in self.failures.items():
            if re.search(pattern, path):
                raise discord.HTTPException(SimpleNamespace(status=status, reason="Injected"),
                                            {"message": "injected failure", "code": 0})
        if path == "/users/@me":
            if self.refuse_token:
                raise discord.HTTPException(SimpleNamespace(status=401, reason="Unauthorized"),
                                            {"message": "401: Unauthorized", "code": 0})
            return user(BOT_ID, "StoryBot", bot=True)
        if path == "/oauth2/applications/@me":
            return {"id": str(APP_ID), "name": "StoryBot", "icon": None, "description": "", "bot_public": True,
                    "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0,
                    "owner": user(OTHER_READER_ID, "owner")}
        if re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path) and route.method == "PUT":
            # Discord answers a context menu's description as "" (discord.py requires the key)
            return [{"description": ""} | c | {"id": str(snowflake()), "application_id": str(APP_ID), "version": "1"}
                    for c in body]
        if re.fullmatch(r"/channels/\d+/messages", path):
            return self._message(body, channel_id=int(path.split("/")[2]))
        if path.endswith("/callback"):
            return self._callback(body)
        if re.fullmatch(r"/webhooks/\d+/[^/]+(/messages/@original)?", path):
            return self._message(body, channel_id=ANSWER_CHANNEL)
        raise AssertionError(f"unexpected request {route.method} {path}")

    def _message(self, body: dict[str, Any], *, channel_id: int) -> dict[str, Any]:
        return {
            "id": str(snowflake()), "channel_id": str(channel_id), "author": user(BOT_ID, "StoryBot", bot=True),
            "content": body.get("content") or "", "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": body.get("embeds") or [], "pinned": False, "type": 0, "flags": body.get("flags", 0),
            "components": body.get("components") or [],
        }

    def _callback(self, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data") or {}
        interaction = {"id": str(snowflake()), "type": body["type"],
                       "response_message_loading": body["type"] == 5,
                       "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL)}
        if body["type"] not in (4, 5):
            return {"interaction": interaction}
        message = self._message(data, channel_id=ANSWER_CHANNEL)
        return {"interaction": interaction | {"response_message_id": message["id"]},
                "resource": {"type": body["type"], "message": message}}


# --- engines ----------------------------------------------------------------------------

ABSTAINS = "who won the hockey game last night?"  # nothing in the story is about hockey


class SuggestingEngine(Engine):
    """The real engine, except that an abstention always suggests the first three curated questions.

    The face shows whatever suggestions come; which ones the engine picks is for the engine's tests.
    """

    def ask(self, text: str, conversation: Conversation | None = None) -> Answer:
        answer = super().ask(text, conversation)
        if answer.answered:
            return answer
        return dataclasses.replace(answer, suggestions=tuple(e.question for e in self.kb.qa[:3]))


# --- fixtures ---------------------------------------------------------------------------


@functools.cache
def _story_engine() -> tuple[Engine | None, tuple]:
    return load_engine(DEFAULT_KNOWLEDGE_DIR)


@pytest.fixture(autouse=True)
def shared_story_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index knowledge/ once per session: an Engine is immutable, and indexing is most of a bot's start.

    Any other knowledge directory (a broken copy, a moderator's edit) is loaded for real.
    """
    real = watch_module.load_engine  # the bot loads (at start and on reloads) through its KnowledgeReloader

    def load(directory: Path | str) -> tuple[Engine | None, tuple]:
        return _story_engine() if Path(directory) == DEFAULT_KNOWLEDGE_DIR else real(directory)

    monkeypatch.setattr(watch_module, "load_engine", load)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    """Capture every REST and webhook request any client makes during the test.

    The class attributes become the fake's bound methods, so `self` (the HTTPClient or adapter) is not passed.
    """
    fake = FakeDiscord()
    monkeypatch.setattr(discord.http.HTTPClient, "request", fake.rest)
    monkeypatch.setattr(AsyncWebhookAdapter, "request", fake.webhook)
    return fake


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        token=TOKEN,
        answer_channels=frozenset({ANSWER_CHANNEL}),
        dev_guild_id=GUILD_ID,
        knowledge_dir=DEFAULT_KNOWLEDGE_DIR,
        database_path=tmp_path / "data" / "bot.sqlite3",
        cooldown_rate=50,
        cooldown_seconds=60.0,
    )


async def settle(before: set[asyncio.Task], timeout: float = 5.0) -> None:
    """Wait until every task started since `before` (commands, listeners, buttons) has finished.

    Long-lived tasks that were already running (the knowledge watcher) are not waited for.
    """
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := [t for t in asyncio.all_tasks() - before if t is not me and not t.done()]:
        left = deadline - loop.time()
        assert left > 0, f"tasks still running: {[t.get_name() for t in pending]}"
        await asyncio.wait(pending, timeout=left)


class Harness:
    """A logged-in StoryBot, with helpers that deliver gateway events and wait for the bot to finish."""

    def __init__(self, bot: StoryBot, fake: FakeDiscord) -> None:
        self.bot = bot
        self.fake = fake

    async def event(self, name: str, payload: dict[str, Any]) -> None:
        """Deliver one gateway dispatch (e.g. "MESSAGE_CREATE") the way DiscordWebSocket does, then settle."""
        before = asyncio.all_tasks()
        self.bot._connection.parsers[name](payload)
        await settle(before)

    async def interact(self, payload: dict[str, Any]) -> Call:
        """Deliver an INTERACTION_CREATE and return the last thing the bot sent in answer."""
        before = len(self.fake.sent())
        await self.event("INTERACTION_CREATE", payload)
        sent = self.fake.sent()
        assert len(sent) > before, "the bot did not answer the interaction"
        return sent[-1]

    async def say(self, content: str, **kwargs: Any) -> list[Call]:
        """Post a message; return what the bot sent because of it."""
        before = len(self.fake.sent())
        await self.event("MESSAGE_CREATE", message_create(content, **kwargs))
        return self.fake.sent()[before:]


async def start_bot(settings: Settings, fake: FakeDiscord, **kwargs: Any) -> StoryBot:
    bot = StoryBot(settings, **kwargs)
    await bot.login(TOKEN)
    return bot


@pytest.fixture
async def harness(settings: Settings, fake: FakeDiscord) -> AsyncIterator[Harness]:
    bot = await start_bot(settings, fake)
    h = Harness(bot, fake)
    await h.event("GUILD_CREATE", guild_create())
    yield h
    await bot.close()


@pytest.fixture
def suggesting(harness: Harness) -> Harness:
    harness.bot.engine = SuggestingEngine(harness.bot.engine.kb)
    return harness


@pytest.fixture
def limits() -> Iterator[dict[str, int]]:
    """Discord's documented limits, written out here independently of bot.discord.render."""
    yield {"content": 2000, "title": 256, "description": 4096, "field_name": 256, "field_value": 1024,
           "footer": 2048, "total": 6000, "fields": 25, "buttons_per_row": 5, "rows": 5, "label": 80,
           "custom_id": 100, "choices": 25, "choice_name": 100}


def embed_size(embed: dict[str, Any]) -> int:
    """Discord's count toward the 6,000 total: title, description, field names and values, footer, author."""
    return (len(embed.get("title", "")) + len(embed.get("description", ""))
            + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
            + len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", "")))


def assert_within_limits(call: Call, limits: dict[str, int]) -> None:
    """What Discord would reject, checked on the JSON actually sent."""
    body = call.body
    assert len(body.get("content") or "") <= limits["content"]
    for embed in call.embeds:
        assert len(embed.get("title", "")) <= limits["title"]
        assert len(embed.get("description", "")) <= limits["description"]
        assert len(embed.get("fields", [])) <= limits["fields"]
        for f in embed.get("fields", []):
            assert len(f["name"]) <= limits["field_name"] and len(f["value"]) <= limits["field_value"]
        assert len(embed.get("footer", {}).get("text", "")) <= limits["footer"]
        assert embed_size(embed) <= limits["total"]
    rows = body.get("components") or []
    assert len(rows) <= limits["rows"]
    for row in rows:
        assert len(row["components"]) <= limits["buttons_per_row"]
        for button in row["components"]:
            assert len(button.get("label") or "") <= limits["label"]
            assert len(button.get("custom_id") or "") <= limits["custom_id"]


"""A real StoryBot against the stand-in Discord (tests/standin), in this process: no sockets.

The bot logs in for real (GET /users/@me, GET /oauth2/applications/@me), loads the real
knowledge and cogs, and receives events through discord.py's own gateway parsers
(`ConnectionState.parsers[...]`), so commands run through the real CommandTree, buttons
through the real view store and messages through the real event dispatch. Every payload it
receives is built by the stand-in's world, and every request it makes is answered by the
stand-in's own REST handlers (the ones the end-to-end tests reach over a socket), which record it
as the JSON Discord would receive and refuse what Discord would refuse.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import watch as watch_module
from bot.config import DEFAULT_KNOWLEDGE_DIR, Settings
from bot.discord.bot import StoryBot
from bot.engine import Answer, Conversation, Engine
from tests.standin import Person, Request, World, world
from tests.standin import limits as discord_limits
from tests.standin.actors import command_data
from tests.standin.inprocess import InProcess
from tests.standin.limits import FLAG_EPHEMERAL as EPHEMERAL
from tests.standin.world import Snowflakes

TOKEN = "MTIz.fake-token.never-logged"
WORLD = World()  # one world for every test: its ids are fixed, and what is made in it is made the same way each time
READER, MODERATOR, OTHER_READER = WORLD.member, WORLD.moderator, WORLD.reader(1)
APP_ID = WORLD.application_id
BOT_ID = WORLD.bot.id
GUILD_ID = WORLD.guild_id
ANSWER_CHANNEL = WORLD.answers
OTHER_CHANNEL = WORLD.chatter
READER_ID = READER.id
OTHER_READER_ID = OTHER_READER.id
DM_CHANNEL = WORLD.dm_channel(READER_ID)
THREAD_IN_ANSWER_CHANNEL = int(WORLD.add_thread(1_400_000_000_000_000_010, ANSWER_CHANNEL, "about the tariffs",
                                                READER)["id"])
new_id = Snowflakes()
SELECT_MENU = 3  # a string select's component type


# --- payloads, from the stand-in's world ------------------------------------------------------


def guild_create() -> dict[str, Any]:
    """GUILD_CREATE for the world's guild: its channels (a thread in the answer channel), roles and people."""
    return WORLD.guild()


def message_create(content: str, *, channel_id: int = ANSWER_CHANNEL, author: Person = READER,
                   replying_to: dict[str, Any] | None = None, dm: bool = False) -> dict[str, Any]:
    """A MESSAGE_CREATE payload as the gateway sends it; the people <@id> names in `content` are its mentions."""
    return WORLD.message(new_id(), DM_CHANNEL if dm else channel_id, {"content": content}, author,
                         replying_to=replying_to)


def _interaction(kind: int, data: dict[str, Any], *, dm: bool = False, message: dict[str, Any] | None = None,
                 user: Person = READER, channel_id: int = ANSWER_CHANNEL) -> dict[str, Any]:
    return WORLD.interaction(kind, data, interaction_id=new_id(), token=f"tok-{new_id()}", user=user,
                             channel_id=WORLD.dm_channel(user.id) if dm else channel_id, message=message)


def slash(command: str, /, *, dm: bool = False, user: Person = READER, channel_id: int = ANSWER_CHANNEL,
          **options: Any) -> dict[str, Any]:
    """INTERACTION_CREATE for a chat-input command ("kb add" for a subcommand), as for one synced to the guild,
    run in `channel_id` (the answer channel) or in `user`'s DM."""
    data = command_data(WORLD, command, options, scope=None if dm else GUILD_ID, new_id=new_id)
    return _interaction(2, data, dm=dm, user=user, channel_id=channel_id)


def autocomplete(command: str, option: str, current: str, *, user: Person = READER) -> dict[str, Any]:
    """INTERACTION_CREATE for typing `current` into `option` of `/command`."""
    data = command_data(WORLD, command, {option: current}, focused=option, scope=GUILD_ID, new_id=new_id)
    return _interaction(4, data, user=user)


def button_press(message: dict[str, Any], custom_id: str, *, user: Person = READER, dm: bool = False,
                 values: list[str] | None = None) -> dict[str, Any]:
    """INTERACTION_CREATE for pressing the button `custom_id` on `message` (a message the bot sent), or for
    picking `values` in its select menu."""
    data = world.button_press(custom_id)
    if values is not None:
        data = {**data, "component_type": SELECT_MENU, "values": values}
    return _interaction(3, data, message=message, user=user, dm=dm)


# --- what the bot sent ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request the bot made, as the stand-in recorded it: the JSON body is exactly what Discord would receive."""

    request: Request

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def json(self) -> Any:
        return self.request.body

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


class InProcessDiscord(InProcess):
    """The stand-in, answering this process's discord.py; with the reading the tests do of what the bot sent."""

    # What the bot sends to readers: channel messages, interaction responses, followups.
    SENDS = re.compile(r"^(/channels/\d+/messages|/interactions/\d+/[^/]+/callback|/webhooks/\d+/[^/]+"
                       r"(/messages/@original)?)$")

    @property
    def calls(self) -> list[Call]:
        """Every request the bot made, in order."""
        return [Call(r) for r in self.requests]

    def sent(self) -> list[Call]:
        """Every call that shows something to a reader, in order."""
        return [c for c in self.calls if self.SENDS.match(c.path) and c.method in ("POST", "PATCH")]

    def last(self) -> Call:
        sent = self.sent()
        assert sent, f"nothing was sent; calls: {[(c.method, c.path) for c in self.calls]}"
        return sent[-1]

    def message_of(self, call: Call) -> dict[str, Any]:
        """The message the stand-in made of `call`: what a later button press on it carries."""
        answer = call.request.answer or {}
        return answer["resource"]["message"] if call.path.endswith("/callback") else answer

    def bot_messages(self) -> list[dict[str, Any]]:
        """Every message the bot made, oldest first."""
        return [m for m in self.messages.values() if m["author"]["id"] == str(BOT_ID)]


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


@pytest.fixture(autouse=True)
def shared_story_engine(monkeypatch: pytest.MonkeyPatch, story_engine: Engine) -> None:
    """Index knowledge/ once per session: an Engine is immutable, and indexing is most of a bot's start.

    Any other knowledge directory (a broken copy, a moderator's edit) is loaded for real.
    """
    real = watch_module.load_engine  # the bot loads (at start and on reloads) through its KnowledgeReloader

    def load(directory: Path | str) -> tuple[Engine | None, tuple]:
        return (story_engine, ()) if Path(directory) == DEFAULT_KNOWLEDGE_DIR else real(directory)

    monkeypatch.setattr(watch_module, "load_engine", load)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> InProcessDiscord:
    """The stand-in answers every REST and webhook request any client makes during the test.

    Interactions get 30 s to be answered, not Discord's 3: timing is for tests that measure it, not load on the machine.
    """
    return in_process(monkeypatch)


def in_process(monkeypatch: pytest.MonkeyPatch) -> InProcessDiscord:
    """A stand-in for the story's world that answers every discord.py client of this process until the test ends."""
    standin = InProcessDiscord(token=TOKEN, world=WORLD, response_deadline=30.0)
    standin.install(monkeypatch)
    return standin


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

    Long-lived tasks that were already running (the knowledge watcher) are not waited for, nor the answer
    process's own tasks (starting, stopping and reading a child), which a question may find under way.
    """
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := [t for t in asyncio.all_tasks() - before
                      if t is not me and not t.done() and not t.get_name().startswith("answer process")]:
        left = deadline - loop.time()
        assert left > 0, f"tasks still running: {[t.get_name() for t in pending]}"
        await asyncio.wait(pending, timeout=left)


class Harness:
    """A logged-in StoryBot, with helpers that deliver gateway events and wait for the bot to finish."""

    def __init__(self, bot: StoryBot, fake: InProcessDiscord) -> None:
        self.bot = bot
        self.fake = fake

    async def event(self, name: str, payload: dict[str, Any]) -> None:
        """Deliver one gateway dispatch (e.g. "MESSAGE_CREATE") the way DiscordWebSocket does, then settle."""
        before = asyncio.all_tasks()
        self.fake.deliver(self.bot, name, payload)
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


async def start_bot(settings: Settings, fake: InProcessDiscord, **kwargs: Any) -> StoryBot:
    bot = StoryBot(settings, **kwargs)
    await bot.login(TOKEN)
    return bot


@pytest.fixture
async def harness(settings: Settings, fake: InProcessDiscord) -> AsyncIterator[Harness]:
    bot = await start_bot(settings, fake)
    h = Harness(bot, fake)
    await h.event("GUILD_CREATE", guild_create())
    yield h
    await bot.close()
    fake.assert_clean()  # nothing Discord would refuse or that pings someone


@pytest.fixture
def suggesting(harness: Harness) -> Harness:
    harness.bot.engine = SuggestingEngine(harness.bot.engine.kb)
    return harness


@pytest.fixture
def limits() -> dict[str, int]:
    """Discord's documented limits the tests compare with, as the stand-in checks them (not bot.discord.render's)."""
    return {"label": discord_limits.BUTTON_LABEL, "custom_id": discord_limits.CUSTOM_ID,
            "choices": discord_limits.AUTOCOMPLETE_CHOICES, "choice_name": discord_limits.CHOICE_TEXT}


def assert_within_limits(call: Call) -> None:
    """Nothing Discord would reject in the message `call` carries, by the stand-in's own checks."""
    editing = call.method == "PATCH" or (call.path.endswith("/callback") and call.json.get("type") == 7)
    problems = discord_limits.check_message(call.body, editing=editing)
    assert not problems, "; ".join(map(str, problems))

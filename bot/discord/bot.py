"""StoryBot: the Discord client. Loads knowledge, cogs and buttons; syncs commands only when they change.

The bot owns the store, the knowledge watchers, reloads and the answer process (made in setup_hook, closed in
close), so no cog's failure can switch them off; cogs use `bot.answerer` (bot/discord/answerer.py), `bot.store`
and `bot.reloaders`.

It serves every story pack at once (bot/knowledge/packs.py): each is loaded, watched and reloaded on its own,
and one answer process answers them all. Which story a question is about depends on where it is asked: the
channel's story, else its server's (`/kb story set`), else the reader's own pick in a DM, else DEFAULT_STORY.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import backoff
from bot.discord import access, render, respond, views
from bot.discord.answerer import Answerer
from bot.discord.cooldown import QuestionCooldown
from bot.discord.health import Health
from bot.discord.i18n import StoryTranslator
from bot.discord.render import Reply
from bot.discord.respond import LoopLag
from bot.discord.sync import CommandSync
from bot.knowledge.loader import problem_lines
from bot.knowledge.packs import MAIN_STORY
from bot.logs import reader_tag
from bot.store import StoreUnavailable, open_store
from bot.watch import KnowledgeReloader, ReloadResult

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Engine
    from bot.knowledge import Problem
    from bot.store import Store

log = logging.getLogger(__name__)

WATCHER_TASK = "knowledge watcher"
STORE_RETRY = (1.0, 30.0)  # seconds before attempts to open a database unusable at start: first, doubling to cap

INITIAL_EXTENSIONS = (
    "bot.discord.cogs.ask",
    "bot.discord.cogs.lookup",
    "bot.discord.cogs.meta",
    "bot.discord.cogs.menu",
    "bot.discord.cogs.kb",
)
SHUTDOWN_GRACE = 10.0  # seconds close() waits for answers being written before the HTTP session goes
PROCESS_START_WAIT = 30.0  # seconds setup_hook waits for the first answer process (threads answer meanwhile)
DISCONNECTED = "the gateway is disconnected (reconnecting)"
HTTP_CONNECTIONS = 256  # to Discord's API at once; more requests wait for a free kept-alive connection


class KnowledgeError(RuntimeError):
    """The knowledge did not load; the bot refuses to serve readers from half a story."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)) or "the knowledge did not load")


class StoryTree(app_commands.CommandTree["StoryBot"]):
    """The command tree: every command's task is finished before shutdown, and every failure gets an apology."""

    async def interaction_check(self, interaction: discord.Interaction[StoryBot], /) -> bool:
        self.client.hold_current_task()
        return True

    async def on_error(self, interaction: discord.Interaction[StoryBot], error: app_commands.AppCommandError,
                       /) -> None:
        # A cog that already told the user what went wrong marks it, so they do not get two messages.
        if interaction.extras.get("error_handled"):
            return
        if isinstance(error, app_commands.CheckFailure):
            log.info("check failed for /%s (reader %s): %s", _name(interaction), reader_tag(interaction.user.id),
                     error)
            note = str(error) if type(error) is not app_commands.CheckFailure else "You can't use this command here."
            await respond.send(interaction, Reply(content=note), ephemeral=True)
            return
        if respond.expired(error):
            respond.log_expired(interaction)
            return
        self.client.health.question(respond.face(interaction), "failed")
        log.error("/%s failed (reader %s, channel %s)", _name(interaction), reader_tag(interaction.user.id),
                  interaction.channel_id, exc_info=error)
        await respond.apologise(interaction)


def _name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


class StoryBot(commands.AutoShardedBot):
    """One story, many readers: sharded on Discord's gateway, with the engine swapped by assignment on reload."""

    tree: StoryTree

    def __init__(
        self,
        settings: Settings,
        *,
        message_content: bool = True,
        extensions: Iterable[str] = INITIAL_EXTENSIONS,
        auto_sync: bool = True,
        health: Health | None = None,
    ) -> None:
        # Only the events the bot uses: fewer events per shard is less work at scale.
        intents = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=message_content)
        super().__init__(
            command_prefix=commands.when_mentioned,  # required by commands.Bot; there are no prefix commands
            help_command=None,
            intents=intents,
            allowed_mentions=render.NO_MENTIONS,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,
            tree_cls=StoryTree,
            allowed_installs=access.SERVER_INSTALL_ONLY,  # reader commands opt in to user installs themselves
            max_messages=None,  # nothing reads the message cache; replies carry the message they reply to
            chunk_guilds_at_startup=False,
        )
        self.settings = settings
        self.initial_extensions = tuple(extensions)
        self.auto_sync = auto_sync
        self.store: Store | None = None  # None while the database is unusable: readers are answered all the same
        self.store_problem: str | None = None  # why it is unusable, for /kb replies
        self._store_retry: asyncio.Task | None = None
        self.questions = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        # The runner's, which outlives a failed start; else the bot's own, served from its login.
        self._own_health = health is None
        self.health = health or Health()
        self.health.gateway = self
        # Everything that answers readers; the bot feeds it the store and the knowledge, and cogs ask it.
        self.answerer = Answerer(settings, self.health, store=lambda: self.store,
                                 in_guild=lambda guild_id: self.get_guild(guild_id) is not None)
        # One reloader per story, each loading its folder and the story's entries kept in the database (with
        # PostgreSQL: the entries added from Discord; with SQLite they are the folder's qa-discord.yaml).
        self.reloaders = {slug: KnowledgeReloader(pack.directory, functools.partial(self.answerer.swap, slug),
                                                  functools.partial(self._extra_knowledge, slug),
                                                  prepare=functools.partial(self.answerer.start_process, slug))
                          for slug, pack in self.answerer.packs.items()}
        self.command_sync = CommandSync(self.tree, settings, lambda: self.application_id)
        self._watchers: list[asyncio.Task] = []
        self._work: set[asyncio.Task] = set()
        self._shards_up: dict[int, bool] = {}  # for /healthz: kept by the shard events below
        self.loop_lag = LoopLag()  # how late the event loop runs: interactions are deferred at once when it is late

    @property
    def health_port(self) -> int | None:
        """Where /healthz listens, once it does."""
        return self.health.port

    @property
    def answers_in_flight(self) -> int:
        """For /healthz and the metrics: answers being produced now."""
        return self.answerer.answers_in_flight

    @property
    def answering_in_process(self) -> bool:
        """For /healthz and the metrics: whether the answer process answers every story."""
        return self.answerer.answering_in_process

    @property
    def engine(self) -> Engine:
        """The default story's engine, as the answerer holds it (set in setup_hook, replaced by reloads)."""
        return self.answerer.engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self.answerer.engine = engine

    def connected_shards(self) -> dict[int, bool]:
        """Each shard this process runs, and whether it is connected: READY or RESUMED since it last dropped."""
        return {shard_id: self._shards_up.get(shard_id, False) for shard_id in self.shards}

    async def on_shard_ready(self, shard_id: int) -> None:
        self._shards_up[shard_id] = True
        self.health.why_not_ready = DISCONNECTED  # from now on, a shard down is the only reason

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shards_up[shard_id] = True

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shards_up[shard_id] = False

    # --- start ---------------------------------------------------------------------

    async def login(self, token: str) -> None:
        # discord.py opens a new connection for every concurrent request (limit=0): in a burst, thousands of TCP
        # (and, with Discord, TLS) handshakes. A bounded pool reuses kept-alive connections instead.
        self.http.connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS)
        self.health.why_not_ready = "starting: logging in to Discord"
        if self._own_health and self.settings.health_port is not None:
            await self.health.serve(self.settings.health_host, self.settings.health_port)
        await super().login(token)

    async def setup_hook(self) -> None:
        self.health.why_not_ready = "starting: loading the knowledge"
        self.loop_lag.start()
        if not await self.open_store():
            self._store_retry = asyncio.create_task(self._retry_store(), name="store retry")
        loaded = {}
        for slug, reloader in self.reloaders.items():
            engine, problems = await asyncio.to_thread(reloader.load)
            if engine is None:  # no usable story or article: nothing to answer from
                raise KnowledgeError(problems)
            if problems:  # a broken entry disables itself only: answer from everything else, and say what is off
                log.warning("story %s has %d problem(s); answering from everything else until they are fixed:\n%s",
                            slug, len(problems), problem_lines(problems))
            loaded[slug] = engine
        self.answerer.use(loaded)
        await self.answerer.load_places()
        self._watchers = [asyncio.create_task(reloader.watch(functools.partial(self._reloaded, slug)),
                                              name=f"{WATCHER_TASK} ({slug})")
                          for slug, reloader in self.reloaders.items()]
        self.add_dynamic_items(*views.DYNAMIC_ITEMS)
        await self.tree.set_translator(StoryTranslator())
        for extension in self.initial_extensions:
            try:
                await self.load_extension(extension)
            except Exception:
                log.exception("could not load %s; the other extensions still load", extension)
        if not self.intents.message_content:
            log.warning(
                "the Message Content intent is off: answering mentions, direct messages and slash commands only%s. "
                "Turn it on in the developer portal (Bot → Privileged Gateway Intents → Message Content Intent).",
                "; ANSWER_CHANNELS are ignored" if self.settings.answer_channels else "",
            )
        self.command_sync.to_dev_guild()
        if self.auto_sync:
            await self.command_sync.if_changed()
        await self.answerer.process_ready(PROCESS_START_WAIT)  # connect with it ready: a burst at start finds it
        # Everything loaded so far (knowledge, indexes, discord.py's state) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise walk it again and again in a burst of questions.
        gc.freeze()
        self.health.why_not_ready = "starting: connecting to Discord's gateway"

    # --- the store and reloads ------------------------------------------------------------

    async def open_store(self) -> bool:
        """Open the database; when it is unusable (corrupt, locked, unwritable), say so loudly and carry on without it.

        Readers are answered all the same; /kb stays registered and says the store is unavailable.
        """
        try:
            store = await asyncio.to_thread(open_store, self.settings)
        except StoreUnavailable as exc:
            again, self.store_problem = self.store_problem == str(exc), str(exc)
            log.log(logging.DEBUG if again else logging.ERROR,  # one line for each new reason, not one each try
                    "DATABASE UNAVAILABLE, running without it (questions and votes are not recorded, /kb edits "
                    "are refused; trying again within %.0f s): %s", STORE_RETRY[1], exc)
            return False
        self.store, self.store_problem = store, None
        loop = asyncio.get_running_loop()
        store.listen(lambda: loop.call_soon_threadsafe(self._reload_soon))
        return True

    async def _retry_store(self) -> None:
        for delay in backoff.delays(*STORE_RETRY):
            await asyncio.sleep(delay)
            if await self.open_store():
                log.info("the database is usable again: recording resumes")
                self._reload_soon()  # entries kept in the database may be new to us
                return

    def _extra_knowledge(self, story: str) -> dict[str, str]:
        store = self.store
        return dict(store.extra_knowledge(story)) if store is not None else {}

    @property
    def reloader(self) -> KnowledgeReloader:
        """The main story's reloader (the knowledge folder's)."""
        return self.reloaders[MAIN_STORY]

    def _reload_soon(self) -> None:
        """Another process changed the shared entries: reload every story (each reloader runs one at a time;
        a story whose knowledge did not change is rebuilt all the same, off the loop)."""
        for slug, reloader in self.reloaders.items():
            task = asyncio.create_task(reloader.reload(), name=f"shared entries reload ({slug})")
            self._work.add(task)
            task.add_done_callback(self._work.discard)

    async def _reloaded(self, story: str, result: ReloadResult) -> None:
        """A reload a watcher started: cogs hear of it (the kb cog posts failures to the moderators' log)."""
        self.dispatch("knowledge_reload", result, story)

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds (shards %s of %s)", self.user, len(self.guilds),
                 self.shard_ids or "all", self.shard_count)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the ask cog decides which messages are questions."""

    # --- stop ------------------------------------------------------------------------

    def hold_current_task(self) -> None:
        """Mark the running task as work that close() lets finish: an answer half-written is not dropped."""
        task = asyncio.current_task()
        if task is not None:
            self._work.add(task)
            task.add_done_callback(self._work.discard)

    async def close(self) -> None:
        self.answerer.stop_starting()  # no new answer process from here on
        pending = self._work - {asyncio.current_task()}
        if pending and not self.is_closed():
            log.info("finishing %d answers before closing", len(pending))
            await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        if self._own_health:
            await self.health.stop()
        await self.loop_lag.stop()
        for task in (*self._watchers, self._store_retry):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await super().close()
        await self.answerer.close()
        store, self.store = self.store, None
        if store is not None:
            await asyncio.to_thread(store.close)  # writes what is queued first

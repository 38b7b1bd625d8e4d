"""StoryBot: the Discord client. Loads knowledge, cogs and buttons; syncs commands only when they change.

The bot owns the store, the knowledge watchers, reloads and the answer process (made in setup_hook, closed in
close), so no cog's failure can switch them off; cogs use `bot.store`, `bot.reloaders` and `bot.engines`.

It serves every story pack at once (bot/knowledge/packs.py): each is loaded, watched and reloaded on its own,
and one answer process answers them all. Which story a question is about depends on where it is asked: the
channel's story, else its server's (`/kb story set`), else the reader's own pick in a DM, else DEFAULT_STORY.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import discord
from cachetools import LRUCache, TTLCache
from discord import app_commands
from discord.ext import commands

from bot import backoff
from bot.discord import access, render, respond, views
from bot.discord.cooldown import QuestionCooldown
from bot.discord.health import Health
from bot.discord.i18n import StoryTranslator
from bot.discord.render import Reply
from bot.discord.respond import Asker, LoopLag
from bot.engine import ConversationBook
from bot.engine.process import ChildGone, ChildLate, EngineProcess
from bot.knowledge.loader import problem_lines
from bot.knowledge.packs import MAIN_STORY
from bot.knowledge.watch import KnowledgeReloader, ReloadResult
from bot.logs import reader_tag
from bot.safefile import read_regular
from bot.store import StoreUnavailable, open_store

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Answer, Engine
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
# Threads that produce answers when there is no answer process (ANSWER_PROCESS=off, or while one starts). The
# engine is pure Python and holds the GIL: more threads would only take turns with the event loop, which must
# stay free to acknowledge interactions within Discord's 3 s. Their own pool, so no other work in the default
# pool (/kb gaps, reloads) can queue in front of a reader's answer.
ANSWER_WORKERS = 2
PROCESS_START_WAIT = 30.0  # seconds setup_hook waits for the first answer process (threads answer meanwhile)
PROCESS_RESTART = 5.0  # seconds from an answer process's death to the start of the next
ACK_PRIORITY = 2.0  # seconds an answer waits at most for other readers' acknowledgements to go out first
DISCONNECTED = "the gateway is disconnected (reconnecting)"
READER_STORIES = 100_000  # readers whose DM story is remembered here (the store keeps every one)
PENDING_QUESTION = 600.0  # seconds a question asked before picking a story waits to be answered
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
        self.packs = settings.packs()  # every story, by slug: `main` is the knowledge folder
        # One reloader per story. Entries kept in PostgreSQL (added from Discord) belong to `main`; the other
        # stories' Discord entries are files in their own folders (qa-discord.yaml), which their watchers see.
        self.reloaders = {slug: KnowledgeReloader(pack.directory, functools.partial(self._swap, slug),
                                                  self._extra_knowledge if slug == MAIN_STORY else None,
                                                  prepare=functools.partial(self._start_process, slug))
                          for slug, pack in self.packs.items()}
        self.engines: dict[str, Engine] = {}  # each story's engine in use: replaced (one assignment) by a reload
        # Which story each place answers about: (server, channel or 0 for the whole server) → slug, from the
        # store; and the story each reader picked for DMs, by user id (read from the store when not known here).
        self.place_stories: dict[tuple[int, int], str] = {}
        self._reader_stories: LRUCache[int, str] = LRUCache(READER_STORIES)
        self._pending: TTLCache[int, str] = TTLCache(READER_STORIES, PENDING_QUESTION)  # asked before choosing
        self._watchers: list[asyncio.Task] = []
        self._store_retry: asyncio.Task | None = None
        self.questions = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        # Each reader's recent questions per place (channel, thread or DM), so follow-ups lean on their own.
        self.conversations = ConversationBook()
        # The runner's, which outlives a failed start; else the bot's own, served from its login.
        self._own_health = health is None
        self.health = health or Health()
        self.health.gateway = self
        self._work: set[asyncio.Task] = set()
        self._answering = ThreadPoolExecutor(ANSWER_WORKERS, thread_name_prefix="answer")
        self._in_flight = 0
        # The child process answering from the knowledge in use (settings.answer_process), once it is ready.
        self._process: EngineProcess | None = None
        self._process_lock = asyncio.Lock()  # one start at a time, so an older start never replaces a newer one
        self._process_work: set[asyncio.Task] = set()  # answer processes being started or stopped
        self._process_wanted: dict[str, Engine] | None = None  # the engines the latest start was asked for
        self._closing = False
        self._acknowledging = 0
        self._shards_up: dict[int, bool] = {}  # for /healthz: kept by the shard events below
        self._acks_sent = asyncio.Event()
        self.loop_lag = LoopLag()  # how late the event loop runs: interactions are deferred at once when it is late

    @property
    def health_port(self) -> int | None:
        """Where /healthz listens, once it does."""
        return self.health.port

    @property
    def engine(self) -> Engine:
        """The default story's engine (DEFAULT_STORY): where no place has a story of its own. Read it at each use."""
        return self.engines[self.settings.default_story]

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._swap(self.settings.default_story, engine)

    def _swap(self, story: str, engine: Engine) -> None:
        """Put a story's new engine in use: one reference, so a question in flight keeps the engine it started
        with, and the other stories are left alone."""
        self.engines[story] = engine
        if story == self.settings.default_story:
            self.health.knowledge_loaded(engine)
        self._answer_in_process(story, engine)

    def _answer_in_process(self, story: str, engine: Engine) -> None:
        """With ANSWER_PROCESS on, have a child process answer from the engines in use, `engine` for `story`."""
        if self.settings.answer_process and not self._closing:
            task = asyncio.create_task(self._start_process(story, engine), name="answer process start")
            self._process_work.add(task)
            task.add_done_callback(self._process_work.discard)

    async def _start_process(self, story: str, engine: Engine) -> None:
        """Start a child process answering every story from the engines in use, `engine` for `story`, and use
        it once it is ready.

        A reload awaits this before swapping the engine in (the reloader's `prepare`), so readers go from the old
        knowledge to the new with no gap. Whenever the child is not answering from a story's knowledge in use
        (starting at start-up, dead, or another story's reload under way), that story is answered from threads.
        """
        if not self.settings.answer_process:
            return
        wanted = self._process_wanted = {**(self._process_wanted or self.engines), story: engine}
        async with self._process_lock:
            if self._closing or wanted is not self._process_wanted:
                return  # stopping, or a newer set of engines has its own start waiting behind this one
            process = self._process
            if process is not None and all(process.serves(e, s) for s, e in wanted.items()):
                return  # started before the swap
            starting = asyncio.ensure_future(EngineProcess.start(
                wanted, log_level=self.settings.log_level, log_format=self.settings.log_format,
                on_exit=self._process_died))
            try:
                process = await asyncio.shield(starting)
            except asyncio.CancelledError:  # a reload cancelled by close(): the child, once started, is stopped
                starting.add_done_callback(self._stop_started)
                raise
            except Exception:
                log.exception("could not start the answer process; answering in threads of this process")
                return
            if self._closing:
                self._stop_process(process)
                return
            old, self._process = self._process, process
            if old is not None:
                self._stop_process(old)  # after the questions already sent to it
            log.info("answering in child process %d from now on (%s)", process.pid,
                     "; ".join(f"{slug}: {e.kb.summary()}" for slug, e in wanted.items()))

    @property
    def answers_in_flight(self) -> int:
        """Answers being produced now (by the answer process or a thread, or waiting for one)."""
        return self._in_flight

    def _stop_process(self, process: EngineProcess) -> None:
        """Stop a child in the background, once it has answered what it was sent; close() waits for it."""
        task = asyncio.create_task(process.close(), name=f"answer process {process.pid} stop")
        self._process_work.add(task)
        task.add_done_callback(self._process_work.discard)

    def _stop_started(self, starting: asyncio.Future[EngineProcess]) -> None:
        if not starting.cancelled() and starting.exception() is None:
            self._stop_process(starting.result())

    @property
    def answering_in_process(self) -> bool:
        """Whether the answer process answers every story from the knowledge in use (else threads answer some)."""
        return all(self._in_process(story) for story in self.engines)

    def _in_process(self, story: str) -> bool:
        process = self._process
        return process is not None and process.alive and process.serves(self.engines[story], story)

    @contextlib.asynccontextmanager
    async def acknowledging(self) -> AsyncIterator[None]:
        """Mark a first response being sent: answers wait (ACK_PRIORITY at most) until none is, so in a burst
        every reader's "thinking…" reaches Discord before the answers compete with it for the loop and the API."""
        self._acknowledging += 1
        self._acks_sent.clear()
        try:
            yield
        finally:
            self._acknowledging -= 1
            if not self._acknowledging:
                self._acks_sent.set()

    async def _after_acknowledgements(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ACK_PRIORITY):
                while self._acknowledging:
                    await self._acks_sent.wait()

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
        for slug, reloader in self.reloaders.items():
            engine, problems = await asyncio.to_thread(reloader.load)
            if engine is None:  # no usable story or article: nothing to answer from
                raise KnowledgeError(problems)
            if problems:  # a broken entry disables itself only: answer from everything else, and say what is off
                log.warning("story %s has %d problem(s); answering from everything else until they are fixed:\n%s",
                            slug, len(problems), problem_lines(problems))
            self.engines[slug] = engine
        self.health.knowledge_loaded(self.engine)
        self._answer_in_process(self.settings.default_story, self.engine)  # one child for every story
        await self._load_places()
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
        if self.dev_guild is not None:
            self.tree.copy_global_to(guild=self.dev_guild)
        if self.auto_sync and self.syncs_commands and await self.command_hash() != self.stored_command_hash():
            try:
                await self.sync_commands()
            except discord.HTTPException:
                log.exception("command sync failed; the next start tries again (or run `python -m bot sync`)")
        if self._process_work:  # connect with the answer process ready, so a burst at start finds it answering
            await asyncio.wait(self._process_work, timeout=PROCESS_START_WAIT)
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

    def _extra_knowledge(self) -> dict[str, str]:
        store = self.store
        return dict(store.extra_knowledge()) if store is not None else {}

    @property
    def reloader(self) -> KnowledgeReloader:
        """The main story's reloader: the one that also loads the entries kept in the database."""
        return self.reloaders[MAIN_STORY]

    def _reload_soon(self) -> None:
        """Another process changed the shared entries (the main story's): reload (one reload at a time)."""
        task = asyncio.create_task(self.reloader.reload(), name="shared entries reload")
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _reloaded(self, story: str, result: ReloadResult) -> None:
        """A reload a watcher started: cogs hear of it (the kb cog posts failures to the moderators' log)."""
        self.dispatch("knowledge_reload", result, story)

    # --- which story where ---------------------------------------------------------------

    async def _load_places(self) -> None:
        """The servers' and channels' stories, from the store; without one, every place has the default story."""
        store = self.store
        if store is None:
            return
        try:
            places = await asyncio.to_thread(store.place_stories)
        except StoreUnavailable as exc:
            log.error("the stories mapped to servers and channels cannot be read (%s): answering about %s "
                      "everywhere until the database is back", exc, self.settings.default_story)
            return
        self.place_stories = {place: slug for place, slug in places.items() if slug in self.packs}
        for (guild, channel), slug in places.items():
            if slug not in self.packs:
                log.warning("server %s channel %s is mapped to the story %r, which is not among the stories "
                            "(%s): it answers about %s", guild, channel or "(all)", slug, ", ".join(self.packs),
                            self.settings.default_story)

    def mapped_story(self, asker: Asker) -> str | None:
        """The story mapped to where `asker` asks: the channel (or a thread's channel), else the server; None."""
        if asker.guild_id is None:
            return None
        for channel in (asker.channel_id, asker.parent_id):
            if channel is not None and (slug := self.place_stories.get((asker.guild_id, channel))):
                return slug
        return self.place_stories.get((asker.guild_id, 0))

    def private(self, asker: Asker) -> bool:
        """A DM, or a server the bot is not in (a user install): no moderator chose a story there."""
        return asker.guild_id is None or self.get_guild(asker.guild_id) is None

    async def story_at(self, asker: Asker) -> str | None:
        """The story `asker` asks about; None when they must pick one first (a DM with several stories)."""
        if (slug := self.mapped_story(asker)) is not None:
            return slug
        if len(self.packs) == 1 or not self.private(asker):
            return self.settings.default_story
        return await self.reader_story(asker.user_id)

    async def reader_story(self, user_id: int) -> str | None:
        """The story a reader picked for DMs (remembered here, else read from the store), if they have."""
        if (slug := self._reader_stories.get(user_id)) is not None:
            return slug
        store = self.store
        if store is None:
            return None
        try:
            slug = await asyncio.to_thread(store.reader_story, user_id)
        except StoreUnavailable as exc:
            log.warning("a reader's story cannot be read (%s): they are asked to pick one", exc)
            return None
        if slug in self.packs:
            self._reader_stories[user_id] = slug
            return slug
        return None

    async def choose_story(self, user_id: int, story: str) -> str | None:
        """Remember a reader's pick for DMs; returns the question they asked before picking, if any.

        Kept here at once, so the reader is answered whatever the database does; stored for the next start.
        """
        self._reader_stories[user_id] = story
        store = self.store
        if store is not None:
            try:
                await asyncio.to_thread(store.set_reader_story, user_id, story)
            except StoreUnavailable as exc:
                log.error("a reader's story pick is not stored (%s): it holds until the bot restarts", exc)
        return self._pending.pop(user_id, None)

    async def set_place_story(self, guild_id: int, channel_id: int | None, story: str, moderator_id: int) -> None:
        """Map a server or one channel to a story, stored and audited first. Raises StoreUnavailable."""
        store = self.store
        if store is None:
            raise StoreUnavailable(self.store_problem or "the database is not open")
        await asyncio.to_thread(store.set_place_story, guild_id, channel_id, story, moderator_id=moderator_id)
        self.place_stories[guild_id, channel_id or 0] = story

    async def story_or_default(self, asker: Asker) -> str:
        """The story `asker` asks about; the default story while a DM reader has picked none."""
        return await self.story_at(asker) or self.settings.default_story

    async def engine_at(self, asker: Asker) -> Engine:
        """The engine of the story `asker` asks about (the default story's while a DM reader has picked none)."""
        return self.engines[await self.story_or_default(asker)]

    def story_titles(self) -> list[tuple[str, str]]:
        """(slug, title) of every story, in the order the packs were found (`main` first)."""
        return [(slug, engine.kb.story.title) for slug, engine in self.engines.items()]

    def story_choice_reply(self, asker: Asker, question: str | None) -> Reply:
        """Ask a reader which story they mean; their question is answered once they pick."""
        if question:
            self._pending[asker.user_id] = question
        return dataclasses.replace(render.choose_story_reply(), view=views.choose_story_view(self.story_titles()))

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds (shards %s of %s)", self.user, len(self.guilds),
                 self.shard_ids or "all", self.shard_count)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the ask cog decides which messages are questions."""

    # --- answering -------------------------------------------------------------------

    async def answer(self, question: str, asker: Asker, *, face: str = "message", **options: bool) -> Reply:
        """Consult the engine and reply: for questions addressed to the bot (mentions, DMs, commands, buttons).

        A reader in a DM who has not picked a story yet (with several stories) is asked which one first.
        """
        story = await self.story_at(asker)
        if story is None:
            return self.story_choice_reply(asker, question)
        return await self.reply_for(await self.consult(question, asker, story), asker, story, face=face, **options)

    async def consult(self, question: str, asker: Asker, story: str) -> Answer:
        """`story`'s answer, leaning on this reader's conversation in this place.

        In an answer thread, so the loop stays free for the gateway and acknowledgements. Nothing is
        remembered or recorded yet: for a message nobody addressed to the bot, the caller may still
        decide to stay quiet.
        """
        conversation = self.conversations.get((story, *asker.key), time.monotonic())
        started = time.perf_counter()
        self._in_flight += 1
        try:
            await self._after_acknowledgements()
            engine, process = self.engines[story], self._process
            answer = None
            if process is not None and self._in_process(story):
                try:
                    answer = await process.ask(question, conversation, self.settings.answer_deadline, story)
                except ChildLate:  # hung: it is being stopped, and restarted (see _process_died)
                    self.health.answer_deadline_misses.inc()
                except ChildGone:  # answer first: a thread answers instead (see _process_died)
                    pass
            if answer is None:
                answer = await asyncio.get_running_loop().run_in_executor(self._answering, engine.ask, question,
                                                                          conversation)
        finally:
            self._in_flight -= 1
        self.health.latency.observe(time.perf_counter() - started)
        return answer

    def _process_died(self, process: EngineProcess) -> None:
        """The child exited unasked (killed, out of memory), or was stopped as hung or for a corrupt stream.
        Answer first: the questions it had are answered in threads, and so is every other until a new child is
        ready."""
        if self._process is not process:
            return  # one already replaced: its exit is expected
        self._process = None
        self._stop_process(process)  # closes its pipes; it has exited already
        if process.fault is None:
            reason, why = "exited", "the answer process died"
        else:
            reason, why = process.fault[0], f"the answer process {process.fault[1]}, so it was stopped"
        self.health.answer_process_failed(reason, why)
        log.error("%s; answering in threads of this process until a new one is ready (starting in %.0f s)", why,
                  PROCESS_RESTART)
        asyncio.get_running_loop().call_later(PROCESS_RESTART,
                                              lambda: self._answer_in_process(self.settings.default_story, self.engine))

    async def reply_for(self, answer: Answer, asker: Asker, story: str, *, offer_alternatives: bool = True,
                        forum: bool = False, face: str = "message") -> Reply:
        """Remember the answer in the reader's conversation about `story`, record it, and render it with its
        buttons.

        Two close answers become a "Did you mean…?" with both as buttons (unless this already is a pick);
        `forum` adds "This answered it" for the poster of a forum question.
        """
        self.conversations.record((story, *asker.key), answer, time.monotonic())
        outcome = "intent" if answer.intent is not None else "answered" if answer.answered else "declined"
        self.health.question(face, outcome, story)
        if answer.intent is not None:  # help, a greeting, thanks: the engine's pointer to /help, not a story answer
            return render.intent_reply(answer)
        question_id = await self.record_question(answer, asker, story)
        if offer_alternatives and len(answer.alternatives) >= 2:
            return dataclasses.replace(render.did_you_mean_reply(answer),
                                       view=views.did_you_mean_view(answer.alternatives, question_id))
        reply = render.answer_reply(answer, self.engines[story].kb.story.title)
        return dataclasses.replace(reply, view=views.answer_view(answer, question_id, forum=forum))

    async def record_question(self, answer: Answer, asker: Asker, story: str) -> int | None:
        """Record the question for moderators (gaps, stats, votes); its id, or None without a store.

        Answer first: a store that fails is logged loudly and counted, and the reader still gets the answer,
        without votes.
        """
        store = self.store
        if store is None:
            return None
        try:  # queued by the store: returns at once, neither waiting for nor failing on the database
            return store.record_question(
                question=answer.question, answered=answer.answered, source=answer.source,
                confidence=answer.confidence, guild_id=asker.guild_id, channel_id=asker.channel_id,
                user_id=asker.user_id, story=story,
            )
        except Exception:
            log.exception("recording a question failed (reader %s); answering without vote buttons",
                          reader_tag(asker.user_id))
            self.health.database_write_failures.inc()
            return None

    # --- command sync ----------------------------------------------------------------

    @property
    def dev_guild(self) -> discord.Object | None:
        return discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None

    @property
    def syncs_commands(self) -> bool:
        """Only the process that runs shard 0 syncs: commands belong to the application, not to a shard."""
        return self.settings.shard_ids is None or 0 in self.settings.shard_ids

    @property
    def command_hash_path(self) -> Path:
        db = self.settings.database_path
        return db.with_name(db.stem + ".commands.sha256")

    async def command_hash(self) -> str:
        """A hash of what a sync would send (translations included), and where: a change in either means a sync
        is due."""
        guild, tree = self.dev_guild, self.tree
        translator = tree.translator
        commands = [await c.get_translated_payload(tree, translator) if translator else c.to_dict(tree)
                    for c in tree.get_commands(guild=guild)]
        payload = {
            "application": self.application_id,
            "guild": guild.id if guild else None,
            "commands": sorted(commands, key=lambda c: (c["type"], c["name"])),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def stored_command_hash(self) -> str | None:
        try:
            return read_regular(self.command_hash_path, 4096).decode("ascii", "replace").strip()
        except OSError:
            return None

    async def sync_commands(self) -> int:
        """Sync to the development guild when one is set, else globally; remember what was synced."""
        synced = await self.tree.sync(guild=self.dev_guild)
        path = self.command_hash_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temporary file, then replace: a crash mid-write never leaves half a hash.
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(await self.command_hash() + "\n")
            os.replace(tmp, path)
        except OSError as exc:  # the data directory is unusable: the commands are synced all the same
            log.warning("could not remember the command sync in %s (%s): the next start syncs again", path, exc)
        where = f"guild {self.dev_guild.id}" if self.dev_guild else "all guilds (global)"
        log.info("synced %d commands to %s", len(synced), where)
        return len(synced)

    # --- stop ------------------------------------------------------------------------

    def hold_current_task(self) -> None:
        """Mark the running task as work that close() lets finish: an answer half-written is not dropped."""
        task = asyncio.current_task()
        if task is not None:
            self._work.add(task)
            task.add_done_callback(self._work.discard)

    async def close(self) -> None:
        self._closing = True  # no new answer process from here on
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
        if self._process_work:  # a start finishes (and its child is stopped at once), a stop finishes
            await asyncio.wait(self._process_work, timeout=SHUTDOWN_GRACE)
        process, self._process = self._process, None
        if process is not None:
            await process.close()
        if self._process_work:
            await asyncio.wait(self._process_work, timeout=SHUTDOWN_GRACE)
        self._answering.shutdown(wait=False, cancel_futures=True)
        store, self.store = self.store, None
        if store is not None:
            await asyncio.to_thread(store.close)  # writes what is queued first

"""StoryBot: the Discord client. Loads knowledge, cogs and buttons; syncs commands only when they change."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond, views
from bot.discord.cooldown import QuestionCooldown
from bot.discord.health import Health
from bot.discord.render import Reply
from bot.engine import load_engine
from bot.logs import reader_tag

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Answer, Engine
    from bot.knowledge import Problem
    from bot.store import Store

log = logging.getLogger(__name__)

INITIAL_EXTENSIONS = (
    "bot.discord.cogs.ask",
    "bot.discord.cogs.lookup",
    "bot.discord.cogs.meta",
    "bot.discord.cogs.kb",
)
SHUTDOWN_GRACE = 10.0  # seconds close() waits for answers being written before the HTTP session goes
# Threads that produce answers. The engine is pure Python and holds the GIL: more threads would only take turns
# with the event loop, which must stay free to acknowledge interactions within Discord's 3 s. Their own pool, so
# no other work in the default pool (/kb gaps, reloads) can queue in front of a reader's answer.
ANSWER_WORKERS = 2
ACK_PRIORITY = 2.0  # seconds an answer waits at most for other readers' acknowledgements to go out first
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
            max_messages=None,  # nothing reads the message cache; replies carry the message they reply to
            chunk_guilds_at_startup=False,
        )
        self.settings = settings
        self.initial_extensions = tuple(extensions)
        self.auto_sync = auto_sync
        self.store: Store | None = None
        self.questions = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        self.health = Health(self)
        self._work: set[asyncio.Task] = set()
        self._answering = ThreadPoolExecutor(ANSWER_WORKERS, thread_name_prefix="answer")
        self._in_flight = 0
        self._acknowledging = 0
        self._shards_up: dict[int, bool] = {}  # for /healthz: kept by the shard events below
        self._acks_sent = asyncio.Event()
        self.health_port: int | None = None  # where /healthz listens, once started

    @property
    def engine(self) -> Engine:
        """The engine in use; set in setup_hook, and replaced (one assignment) by a reload. Read it at each use."""
        return self._engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._engine = engine
        self.health.knowledge_loaded(engine)

    @property
    def answers_in_flight(self) -> int:
        """Answers being produced now (in or waiting for an answer thread)."""
        return self._in_flight

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

    @property
    def busy(self) -> int:
        """Questions and commands being handled now, from the moment their handler starts until it returns."""
        return len(self._work)

    def connected_shards(self) -> dict[int, bool]:
        """Each shard this process runs, and whether it is connected: READY or RESUMED since it last dropped."""
        return {shard_id: self._shards_up.get(shard_id, False) for shard_id in self.shards}

    async def on_shard_ready(self, shard_id: int) -> None:
        self._shards_up[shard_id] = True

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shards_up[shard_id] = True

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shards_up[shard_id] = False

    # --- start ---------------------------------------------------------------------

    async def login(self, token: str) -> None:
        # discord.py opens a new connection for every concurrent request (limit=0): in a burst, thousands of TCP
        # (and, with Discord, TLS) handshakes. A bounded pool reuses kept-alive connections instead.
        self.http.connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        engine, problems = load_engine(self.settings.knowledge_dir)
        if engine is None or problems:
            raise KnowledgeError(problems)
        self.engine = engine
        self.add_dynamic_items(*views.DYNAMIC_ITEMS)
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
        if self.auto_sync and self.syncs_commands and self.command_hash() != self.stored_command_hash():
            try:
                await self.sync_commands()
            except discord.HTTPException:
                log.exception("command sync failed; the next start tries again (or run `python -m bot sync`)")
        # Everything loaded so far (knowledge, indexes, discord.py's state) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise walk it again and again in a burst of questions.
        gc.freeze()
        if self.settings.health_port is not None:
            try:
                self.health_port = await self.health.start(self.settings.health_host, self.settings.health_port)
            except OSError as exc:  # answer first: readers are still served, the operator reads why in the log
                log.error("no health and metrics server: cannot listen on %s:%s (%s)", self.settings.health_host,
                          self.settings.health_port, exc.strerror or exc)

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds (shards %s of %s)", self.user, len(self.guilds),
                 self.shard_ids or "all", self.shard_count)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the ask cog decides which messages are questions."""

    # --- answering -------------------------------------------------------------------

    async def answer(self, question: str, *, guild_id: int | None, channel_id: int | None,
                     user_id: int | None, face: str = "message") -> Reply:
        """Ask the engine (in an answer thread: the loop stays free for the gateway and acknowledgements), record
        it, and render the reply. A failed record is logged and counted; the reader is answered all the same."""
        engine, store = self.engine, self.store

        def work() -> tuple[Answer, int | None]:
            answer = engine.ask(question)
            question_id = None
            if store is not None:
                try:
                    question_id = store.record_question(
                        question=question, answered=answer.answered, source=answer.source,
                        confidence=answer.confidence, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
                    )
                except Exception:
                    log.exception("recording a question failed (reader %s); answering anyway", reader_tag(user_id))
                    self.health.database_write_failures.inc()
            return answer, question_id

        started = time.perf_counter()
        self._in_flight += 1
        try:
            await self._after_acknowledgements()
            answer, question_id = await asyncio.get_running_loop().run_in_executor(self._answering, work)
        finally:
            self._in_flight -= 1
        reply = render.answer_reply(answer, engine.kb.story.title)
        self.health.latency.observe(time.perf_counter() - started)
        self.health.question(face, "answered" if answer.answered else "declined")
        return dataclasses.replace(reply, view=views.answer_view(answer, question_id))

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

    def command_hash(self) -> str:
        """A hash of what a sync would send, and where: a change in either means a sync is due."""
        guild = self.dev_guild
        payload = {
            "application": self.application_id,
            "guild": guild.id if guild else None,
            "commands": sorted((c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)),
                               key=lambda c: (c["type"], c["name"])),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def stored_command_hash(self) -> str | None:
        try:
            return self.command_hash_path.read_text().strip()
        except OSError:
            return None

    async def sync_commands(self) -> int:
        """Sync to the development guild when one is set, else globally; remember what was synced."""
        synced = await self.tree.sync(guild=self.dev_guild)
        path = self.command_hash_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file, then replace: a crash mid-write never leaves half a hash.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.command_hash() + "\n")
        os.replace(tmp, path)
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
        pending = self._work - {asyncio.current_task()}
        if pending and not self.is_closed():
            log.info("finishing %d answers before closing", len(pending))
            await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        await self.health.stop()
        await super().close()
        self._answering.shutdown(wait=False, cancel_futures=True)

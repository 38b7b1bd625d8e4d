"""StoryBot: the Discord client. Loads knowledge, cogs and buttons; syncs commands only when they change.

The bot owns the store, the knowledge watcher and reloads (made in setup_hook, closed in close),
so no cog's failure can switch them off; cogs use `bot.store` and `bot.reloader`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import access, render, respond, views
from bot.discord.i18n import StoryTranslator
from bot.discord.render import Reply
from bot.discord.respond import Asker
from bot.engine import ConversationBook
from bot.knowledge.watch import KnowledgeReloader, ReloadResult
from bot.store import StoreUnavailable, open_store

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Answer, Engine
    from bot.knowledge import Problem
    from bot.store import Store

log = logging.getLogger(__name__)

WATCHER_TASK = "knowledge watcher"
STORE_RETRY = 60.0  # seconds between attempts to open a database that was unusable at start

INITIAL_EXTENSIONS = (
    "bot.discord.cogs.ask",
    "bot.discord.cogs.lookup",
    "bot.discord.cogs.meta",
    "bot.discord.cogs.menu",
    "bot.discord.cogs.kb",
)
SHUTDOWN_GRACE = 10.0  # seconds close() waits for answers being written before the HTTP session goes


class KnowledgeError(RuntimeError):
    """The knowledge did not load; the bot refuses to serve readers from half a story."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)) or "the knowledge did not load")


class QuestionCooldown:
    """Questions per user, counted across messages, /ask and suggestion buttons alike.

    A second mapping allows one "slow down" note per window, so a reader who keeps
    typing in a channel is told once rather than answered with a wall of notes.
    """

    def __init__(self, rate: int, per: float) -> None:
        self._questions: commands.CooldownMapping[int] = commands.CooldownMapping.from_cooldown(rate, per, _user)
        self._notices: commands.CooldownMapping[int] = commands.CooldownMapping.from_cooldown(1, per, _user)

    def retry_after(self, user_id: int) -> float | None:
        """Count one question; None when it may be answered, else the seconds to wait."""
        return self._questions.update_rate_limit(user_id)

    def first_notice(self, user_id: int) -> bool:
        """Whether this user has not been told to slow down in the current window."""
        return self._notices.update_rate_limit(user_id) is None


def _user(user_id: int) -> int:
    return user_id


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
            log.info("check failed for /%s (user %s): %s", _name(interaction), interaction.user.id, error)
            note = str(error) if type(error) is not app_commands.CheckFailure else "You can't use this command here."
            await respond.send(interaction, Reply(content=note), ephemeral=True)
            return
        log.error("/%s failed (user %s, channel %s)", _name(interaction), interaction.user.id,
                  interaction.channel_id, exc_info=error)
        await respond.apologise(interaction)


def _name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


class StoryBot(commands.AutoShardedBot):
    """One story, many readers: sharded on Discord's gateway, with the engine swapped by assignment on reload."""

    engine: Engine  # set in setup_hook; cogs read it at each use because a reload replaces it
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
            allowed_installs=access.SERVER_INSTALL_ONLY,  # reader commands opt in to user installs themselves
            max_messages=None,  # nothing reads the message cache; replies carry the message they reply to
            chunk_guilds_at_startup=False,
        )
        self.settings = settings
        self.initial_extensions = tuple(extensions)
        self.auto_sync = auto_sync
        self.store: Store | None = None  # None while the database is unusable: readers are answered all the same
        self.store_problem: str | None = None  # why it is unusable, for /kb replies
        self.reloader = KnowledgeReloader(settings.knowledge_dir, self._swap, self._extra_knowledge)
        self._watcher: asyncio.Task | None = None
        self._store_retry: asyncio.Task | None = None
        self.questions = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        # Each reader's recent questions per place (channel, thread or DM), so follow-ups lean on their own.
        self.conversations = ConversationBook()
        self._work: set[asyncio.Task] = set()

    # --- start ---------------------------------------------------------------------

    async def setup_hook(self) -> None:
        if not await self.open_store():
            self._store_retry = asyncio.create_task(self._retry_store(), name="store retry")
        engine, problems = await asyncio.to_thread(self.reloader.load)
        if engine is None:  # no usable story or article: nothing to answer from
            raise KnowledgeError(problems)
        if problems:  # a broken entry disables itself only: answer from everything else, and say what is off
            log.warning("knowledge has %d problem(s); answering from everything else until they are fixed:\n%s",
                        len(problems), "\n".join(map(str, problems)))
        self.engine = engine
        self._watcher = asyncio.create_task(self.reloader.watch(self._reloaded), name=WATCHER_TASK)
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

    # --- the store and reloads ------------------------------------------------------------

    async def open_store(self) -> bool:
        """Open the database; when it is unusable (corrupt, locked, unwritable), say so loudly and carry on without it.

        Readers are answered all the same; /kb stays registered and says the store is unavailable.
        """
        try:
            store = await asyncio.to_thread(open_store, self.settings)
        except StoreUnavailable as exc:
            self.store_problem = str(exc)
            log.error("DATABASE UNAVAILABLE, running without it (questions and votes are not recorded, /kb edits "
                      "are refused; retrying every %.0f s): %s", STORE_RETRY, exc)
            return False
        self.store, self.store_problem = store, None
        loop = asyncio.get_running_loop()
        store.listen(lambda: loop.call_soon_threadsafe(self._reload_soon))
        return True

    async def _retry_store(self) -> None:
        while True:
            await asyncio.sleep(STORE_RETRY)
            if await self.open_store():
                log.info("the database is usable again: recording resumes")
                self._reload_soon()  # entries kept in the database may be new to us
                return

    def _extra_knowledge(self) -> dict[str, str]:
        store = self.store
        return dict(store.extra_knowledge()) if store is not None else {}

    def _swap(self, engine: Engine) -> None:
        self.engine = engine  # one reference: a question in flight keeps the engine it started with

    def _reload_soon(self) -> None:
        """Another process changed the shared entries: reload (the reloader runs one reload at a time)."""
        task = asyncio.create_task(self.reloader.reload(), name="shared entries reload")
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _reloaded(self, result: ReloadResult) -> None:
        """A reload the watcher started: cogs hear of it (the kb cog posts failures to the moderators' log)."""
        self.dispatch("knowledge_reload", result)

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds (shards %s of %s)", self.user, len(self.guilds),
                 self.shard_ids or "all", self.shard_count)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the ask cog decides which messages are questions."""

    # --- answering -------------------------------------------------------------------

    async def answer(self, question: str, asker: Asker, **options: bool) -> Reply:
        """Consult the engine and reply: for questions addressed to the bot (mentions, DMs, commands, buttons)."""
        return await self.reply_for(await self.consult(question, asker), asker, **options)

    async def consult(self, question: str, asker: Asker) -> Answer:
        """The engine's answer, leaning on this reader's conversation in this place.

        In a worker thread, so the gateway keeps its heartbeat. Nothing is remembered or recorded yet:
        for a message nobody addressed to the bot, the caller may still decide to stay quiet.
        """
        conversation = self.conversations.get(asker.key, time.monotonic())
        return await asyncio.to_thread(self.engine.ask, question, conversation)

    async def reply_for(self, answer: Answer, asker: Asker, *, offer_alternatives: bool = True,
                        forum: bool = False) -> Reply:
        """Remember the answer in the reader's conversation, record it, and render it with its buttons.

        Two close answers become a "Did you mean…?" with both as buttons (unless this already is a pick);
        `forum` adds "This answered it" for the poster of a forum question.
        """
        self.conversations.record(asker.key, answer, time.monotonic())
        if answer.intent is not None:  # help, a greeting, thanks: the engine's pointer to /help, not a story answer
            return render.intent_reply(answer)
        question_id = await self.record_question(answer, asker)
        if offer_alternatives and len(answer.alternatives) >= 2:
            return dataclasses.replace(render.did_you_mean_reply(answer),
                                       view=views.did_you_mean_view(answer.alternatives, question_id))
        reply = render.answer_reply(answer, self.engine.kb.story.title)
        return dataclasses.replace(reply, view=views.answer_view(answer, question_id, forum=forum))

    async def record_question(self, answer: Answer, asker: Asker) -> int | None:
        """Record the question for moderators (gaps, stats, votes); its id, or None without a store.

        Answer first: a store that fails is logged loudly and the reader still gets the answer, without votes.
        """
        store = self.store
        if store is None:
            return None
        try:  # queued by the store: returns at once, neither waiting for nor failing on the database
            return store.record_question(
                question=answer.question, answered=answer.answered, source=answer.source,
                confidence=answer.confidence, guild_id=asker.guild_id, channel_id=asker.channel_id,
                user_id=asker.user_id,
            )
        except Exception:
            log.exception("recording a question failed (channel %s); answering without vote buttons",
                          asker.channel_id)
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
            return self.command_hash_path.read_text().strip()
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
        pending = self._work - {asyncio.current_task()}
        if pending and not self.is_closed():
            log.info("finishing %d answers before closing", len(pending))
            await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        for task in (self._watcher, self._store_retry):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await super().close()
        store, self.store = self.store, None
        if store is not None:
            await asyncio.to_thread(store.close)  # writes what is queued first

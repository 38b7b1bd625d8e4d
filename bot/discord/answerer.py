"""The Answerer: a question and an asker in, a rendered reply out; the one way every face of the bot answers.

Behind it: which story the asker means (bot/knowledge/packs.py), each story's engine in use, the answer process
serving every story (bot/engine/process.py) with threads as its fallback, the readers' conversations, and
recording for moderators. Cogs and buttons depend on this and on nothing of the Discord client, so an `/ask`
walks cog → answerer → engine → render → cog; the client (bot/discord/bot.py) only wires it and feeds it the
store and the knowledge its reloaders load.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from cachetools import LRUCache, TTLCache

from bot.discord import render, views
from bot.discord.render import Reply
from bot.discord.respond import Asker
from bot.engine import ConversationBook
from bot.engine.process import ChildGone, ChildLate, EngineProcess
from bot.logs import reader_tag
from bot.store import StoreUnavailable

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.discord.health import Health
    from bot.engine import Answer, Engine
    from bot.store import Store

log = logging.getLogger(__name__)

# Threads that produce answers when there is no answer process (ANSWER_PROCESS=off, or while one starts). The
# engine is pure Python and holds the GIL: more threads would only take turns with the event loop, which must
# stay free to acknowledge interactions within Discord's 3 s. Their own pool, so no other work in the default
# pool (/kb gaps, reloads) can queue in front of a reader's answer.
ANSWER_WORKERS = 2
PROCESS_RESTART = 5.0  # seconds from an answer process's death to the start of the next
STOP_GRACE = 10.0  # seconds close() waits for answer processes being started or stopped
ACK_PRIORITY = 2.0  # seconds an answer waits at most for other readers' acknowledgements to go out first
READER_STORIES = 100_000  # readers whose DM story is remembered here (the store keeps every one)
PENDING_QUESTION = 600.0  # seconds a question asked before picking a story waits to be answered


class Answerer:
    """Answers readers: the stories' engines, the answer process, conversations, and recording."""

    def __init__(self, settings: Settings, health: Health, *, store: Callable[[], Store | None],
                 in_guild: Callable[[int], bool]) -> None:
        """`store` gives the store when the database is usable (else None); `in_guild` says whether the bot is a
        member of a server (a reader's own install in another server is private, like a DM)."""
        self.settings = settings
        self.health = health
        self._store = store
        self._in_guild = in_guild
        self.packs = settings.packs()  # every story, by slug: `main` is the knowledge folder
        self.engines: dict[str, Engine] = {}  # each story's engine in use: replaced (one assignment) by a reload
        # Each reader's recent questions per story and place (channel, thread or DM), so follow-ups lean on their own.
        self.conversations = ConversationBook()
        # Which story each place answers about: (server, channel or 0 for the whole server) → slug, from the
        # store; and the story each reader picked for DMs, by user id (read from the store when not known here).
        self.place_stories: dict[tuple[int, int], str] = {}
        self._reader_stories: LRUCache[int, str] = LRUCache(READER_STORIES)
        self._pending: TTLCache[int, str] = TTLCache(READER_STORIES, PENDING_QUESTION)  # asked before choosing
        self._answering = ThreadPoolExecutor(ANSWER_WORKERS, thread_name_prefix="answer")
        self._in_flight = 0
        # The child process answering from the knowledge in use (settings.answer_process), once it is ready.
        self._process: EngineProcess | None = None
        self._process_lock = asyncio.Lock()  # one start at a time, so an older start never replaces a newer one
        self._process_work: set[asyncio.Task] = set()  # answer processes being started or stopped
        self._process_wanted: dict[str, Engine] | None = None  # the engines the latest start was asked for
        self._closing = False
        self._acknowledging = 0
        self._acks_sent = asyncio.Event()

    @property
    def engine(self) -> Engine:
        """The default story's engine (DEFAULT_STORY): where no place has a story of its own. Read it at each use."""
        return self.engines[self.settings.default_story]

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self.swap(self.settings.default_story, engine)

    def use(self, engines: dict[str, Engine]) -> None:
        """The engines loaded at start, in use at once; one answer process is started for them all."""
        self.engines.update(engines)
        self.health.knowledge_loaded(self.engine)
        self._answer_in_process(self.settings.default_story, self.engine)

    def swap(self, story: str, engine: Engine) -> None:
        """Put a story's new engine in use: one reference, so a question in flight keeps the engine it started
        with, and the other stories are left alone."""
        self.engines[story] = engine
        if story == self.settings.default_story:
            self.health.knowledge_loaded(engine)
        self._answer_in_process(story, engine)

    def _answer_in_process(self, story: str, engine: Engine) -> None:
        """With ANSWER_PROCESS on, have a child process answer from the engines in use, `engine` for `story`."""
        if self.settings.answer_process and not self._closing:
            task = asyncio.create_task(self.start_process(story, engine), name="answer process start")
            self._process_work.add(task)
            task.add_done_callback(self._process_work.discard)

    async def start_process(self, story: str, engine: Engine) -> None:
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

    # --- which story where ---------------------------------------------------------------

    async def load_places(self) -> None:
        """The servers' and channels' stories, from the store; without one, every place has the default story."""
        store = self._store()
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
        return asker.guild_id is None or not self._in_guild(asker.guild_id)

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
        store = self._store()
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
        store = self._store()
        if store is not None:
            try:
                await asyncio.to_thread(store.set_reader_story, user_id, story)
            except StoreUnavailable as exc:
                log.error("a reader's story pick is not stored (%s): it holds until the bot restarts", exc)
        return self._pending.pop(user_id, None)

    async def set_place_story(self, store: Store, guild_id: int, channel_id: int | None, story: str,
                              moderator_id: int) -> None:
        """Map a server or one channel to a story, stored and audited first. Raises StoreUnavailable."""
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

    def stories_like(self, typed: str) -> list[tuple[str, str]]:
        """("title (slug)", slug) of the stories whose slug or title holds what was typed: autocomplete's choices."""
        wanted = typed.casefold()
        return [(f"{title} ({slug})", slug) for slug, title in self.story_titles()
                if wanted in slug or wanted in title.casefold()]

    def story_choice_reply(self, asker: Asker, question: str | None) -> Reply:
        """Ask a reader which story they mean; their question is answered once they pick."""
        if question:
            self._pending[asker.user_id] = question
        return dataclasses.replace(render.choose_story_reply(), view=views.choose_story_view(self.story_titles()))

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
        store = self._store()
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

    # --- start and stop ---------------------------------------------------------------

    async def process_ready(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the answer process being started: a burst at start then finds it
        answering, while threads answer meanwhile."""
        if self._process_work:
            await asyncio.wait(self._process_work, timeout=timeout)

    def stop_starting(self) -> None:
        """No new answer process from now on: the bot is closing."""
        self._closing = True

    async def close(self) -> None:
        """Stop the answer process once it has answered what it was sent, and the answer threads."""
        self._closing = True
        if self._process_work:  # a start finishes (and its child is stopped at once), a stop finishes
            await asyncio.wait(self._process_work, timeout=STOP_GRACE)
        process, self._process = self._process, None
        if process is not None:
            await process.close()
        if self._process_work:
            await asyncio.wait(self._process_work, timeout=STOP_GRACE)
        self._answering.shutdown(wait=False, cancel_futures=True)

"""/kb: the moderators' tools. Reload, add, remove, show and restore Q&A entries, see their history;
see what readers missed and turn it into answers (a new phrasing of an entry, or a new entry).

Only moderators: Manage Server (or Administrator) in the interaction's permissions, or the
configured moderator role. default_permissions hides the group from others in the client, but
server admins can change that and Discord does not enforce it, so every command, form and
button checks again when it runs. The cog only translates: validating and writing live in
bot.knowledge.editor, reloading in bot.watch, counting and auditing in bot.store, gaps in
bot.gaps. The bot, not this cog, owns the store and the knowledge watcher: unloading or breaking the
cog stops neither.

Heavy work (asking gaps again, grouping, stats over millions of rows, id lookups' index, edits with
their audit) runs in the cog's own one-thread executor, not asyncio's shared default pool that readers'
answers use, so a moderator's /kb gaps never delays a reader; the commands that start it defer first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.render import BUTTON_LABEL_LIMIT, CONTENT_LIMIT, DESCRIPTION_LIMIT, Reply
from bot.discord.respond import Asker
from bot.gaps import Gap, closed_this_week, find_gaps, gap_line, settled, stats_lines
from bot.knowledge.editor import EditResult, NewEntry, entry_yaml, parse_paragraph, parse_phrasings
from bot.knowledge.finder import EntryFinder
from bot.logs import reader_tag
from bot.store import Store, StoreUnavailable
from bot.watch import KnowledgeReloader, ReloadResult

if TYPE_CHECKING:
    from pathlib import Path

    from bot.discord.bot import StoryBot
    from bot.engine import Engine
    from bot.knowledge import KnowledgeBase, QAEntry
    from bot.store import Edit

log = logging.getLogger(__name__)
Interaction = discord.Interaction["StoryBot"]
T = TypeVar("T")

REFUSAL = "Only moderators (Manage Server, or the moderator role) can use /kb. Nothing was changed."
GAPS_SHOWN = 5  # one row of buttons per gap, and a message has five rows
HISTORY_SHOWN = 5  # edits per /kb history reply: five fields of ~1,000 characters fit an embed's 6,000
HISTORY_FIELD = 1000
FORM_TIMEOUT = 15 * 60  # Discord keeps an interaction's followups this long; a form or button past it is useless


def is_moderator(interaction: discord.Interaction, role_id: int | None) -> bool:
    """Manage Server or Administrator in this interaction, or the configured moderator role."""
    perms = interaction.permissions  # the payload's bits as they are: Administrator is not expanded
    if perms.manage_guild or perms.administrator:
        return True
    member = interaction.user
    return role_id is not None and isinstance(member, discord.Member) and member.get_role(role_id) is not None


def code_block(lines: list[str], limit: int) -> str:
    """Lines in a code block that fits `limit`, with nothing inside able to close the block early:
    a zero-width space after every backtick that another follows, so no run of two or more remains."""
    body = render.fit_lines([_BACKTICK_RUN.sub("`\u200b", line) for line in lines], limit - 8)
    return f"```\n{body}\n```"


_BACKTICK_RUN = re.compile(r"`(?=`)")


@dataclass(frozen=True, slots=True)
class EntryText:
    """The /kb add form as typed, kept verbatim so a refused entry can be shown back and retried."""

    question: str = ""
    phrasings: str = ""
    answer: str = ""
    paragraph: str = ""
    quote: str = ""
    closes: tuple[str, ...] = field(default=(), compare=False)  # keys of the gap the form was opened from

    def lines(self) -> list[str]:
        return [f"question: {self.question}", "phrasings:", *(f"  {p}" for p in self.phrasings.splitlines()),
                f"answer: {self.answer}", f"paragraph: {self.paragraph}", f"quote: {self.quote}"]


class EntryForm(ui.Modal, title="Add a Q&A entry"):
    def __init__(self, cog: KnowledgeAdmin, typed: EntryText) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.cog = cog
        self.closes = typed.closes

        def field(label: str, value: str, limit: int, *, long: bool = False, required: bool = True,
                  placeholder: str | None = None) -> ui.TextInput:
            item: ui.TextInput = ui.TextInput(
                label=label, default=value[:limit] or None, max_length=limit, required=required,
                style=discord.TextStyle.paragraph if long else discord.TextStyle.short, placeholder=placeholder)
            self.add_item(item)
            return item

        self.question = field("Question", typed.question, 300)
        self.phrasings = field("Other phrasings (one per line)", typed.phrasings, 1000, long=True, required=False)
        self.answer = field("Answer, in the bot's words", typed.answer, 1500, long=True)
        self.paragraph = field("Citation: paragraph number", typed.paragraph, 10, placeholder="e.g. 7")
        self.quote = field("Citation: exact quote from that paragraph", typed.quote, 500, long=True)

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        typed = EntryText(self.question.value, self.phrasings.value, self.answer.value, self.paragraph.value,
                          self.quote.value, self.closes)
        async with respond.handling(interaction, "/kb add form"):
            await self.cog.submit(interaction, typed)


class RetryView(ui.View):
    """Under a refused entry: reopen the form with everything the moderator typed."""

    def __init__(self, cog: KnowledgeAdmin, typed: EntryText) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.cog = cog
        self.typed = typed

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await self.cog.interaction_check(interaction)

    @ui.button(label="Edit and try again", style=discord.ButtonStyle.primary)
    async def retry(self, interaction: Interaction, _button: ui.Button) -> None:
        await interaction.response.send_modal(EntryForm(self.cog, self.typed))


class GapsView(ui.View):
    """A row per gap: add its wording as a phrasing of the closest entry, or open the add form pre-filled."""

    def __init__(self, cog: KnowledgeAdmin, gaps: list[Gap]) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.cog = cog
        for row, gap in enumerate(gaps):
            number = row + 1
            if gap.closest is not None:
                label = render.truncate(f"{number}. Add as a phrasing of «{gap.closest}»", BUTTON_LABEL_LIMIT)
                phrasing: ui.Button = ui.Button(label=label, style=discord.ButtonStyle.primary, row=row)
                phrasing.callback = self._adder(gap, gap.closest)
                self.add_item(phrasing)
            new: ui.Button = ui.Button(label=f"{number}. New answer", style=discord.ButtonStyle.secondary, row=row)
            new.callback = self._opener(EntryText(question=gap.question, phrasings="\n".join(gap.phrasings),
                                                  closes=gap.keys))
            self.add_item(new)

    def _opener(self, typed: EntryText) -> Callable:
        async def open_form(interaction: Interaction) -> None:
            await interaction.response.send_modal(EntryForm(self.cog, typed))

        return open_form

    def _adder(self, gap: Gap, entry_id: str) -> Callable:
        async def add(interaction: Interaction) -> None:
            async with respond.handling(interaction, "/kb gaps phrasing"):
                await self.cog.add_gap_phrasing(interaction, gap, entry_id)

        return add

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await self.cog.interaction_check(interaction)


@dataclass(frozen=True, slots=True)
class Place:
    """The story a moderator works on where they run /kb: its engine in use, its reloader and its folder."""

    story: str
    engine: Engine
    reloader: KnowledgeReloader
    directory: Path


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class KnowledgeAdmin(commands.GroupCog, group_name="kb", group_description="Moderators: the bot's knowledge"):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot
        self._heavy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-heavy")
        # Each story's latest index of entry ids, and the one being built, with the knowledge each is of.
        self._finders: dict[str, tuple[KnowledgeBase, EntryFinder]] = {}
        self._indexing: dict[str, tuple[KnowledgeBase, asyncio.Task[EntryFinder]]] = {}

    # --- life cycle (the bot owns the store, the watcher and reloads; the cog only its thread and index) ----

    async def cog_load(self) -> None:
        self._index_entries(self.bot.settings.default_story, self.bot.engine.kb)  # ready before the first id typed

    async def cog_unload(self) -> None:
        tasks = [task for _, task in self._indexing.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._heavy.shutdown(wait=False, cancel_futures=True)

    @commands.Cog.listener()
    async def on_knowledge_reload(self, result: ReloadResult, story: str) -> None:
        """A reload the watcher started failed: tell the moderators' log channel, if there is one."""
        if not result.ok:
            self.bot.health.reload_failed(len(result.problems))
        channel_id = self.bot.settings.mod_log_channel_id
        if result.ok or channel_id is None:
            return
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        reply = self._reload_reply(result, self.bot.answerer.engines[story], f"Story `{story}`: ")
        await channel.send(**reply.kwargs())

    async def _off_loop(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run `fn(*args, **kwargs)` in the cog's own worker thread: never in the pool readers' answers use."""
        return await asyncio.get_running_loop().run_in_executor(self._heavy, functools.partial(fn, *args, **kwargs))

    # --- who may ---------------------------------------------------------------------

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        """Runs before every /kb command (and is reused by the forms and buttons)."""
        if is_moderator(interaction, self.bot.settings.moderator_role_id):
            return True
        log.info("refused /kb to reader %s in guild %s", reader_tag(interaction.user.id), interaction.guild_id)
        interaction.extras["error_handled"] = True  # the tree's error handler need not say it again
        await respond.send(interaction, Reply(content=REFUSAL), ephemeral=True)
        return False

    async def entry_ids(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Entry ids for `id:`: ids starting with what is typed first, then the closest ids and questions."""
        if not is_moderator(interaction, self.bot.settings.moderator_role_id):
            return []
        place = await self._place(interaction)
        finder = await self._entry_finder(place.story, place.engine.kb)
        return render.choices((f"{ident} — {question}", ident) for ident, question in finder.find(current))

    async def _entry_finder(self, story: str, kb: KnowledgeBase) -> EntryFinder:
        """The index of a story's entries in use (`kb`). After a reload, until the new one is built (seconds at
        100k entries, off the loop), the story's previous one answers: the command checks the chosen id again."""
        found = self._finders.get(story)
        if found is not None and found[0] is kb:
            return found[1]
        building = self._index_entries(story, kb)
        return found[1] if found is not None else await asyncio.shield(building)

    def _index_entries(self, story: str, kb: KnowledgeBase) -> asyncio.Task[EntryFinder]:
        """Start indexing the entry ids of a story's `kb`, unless that is under way already."""
        indexing = self._indexing.get(story)
        if indexing is None or indexing[0] is not kb:
            task = asyncio.create_task(self._index(story, kb), name=f"kb entry index ({story})")
            indexing = self._indexing[story] = (kb, task)
        return indexing[1]

    async def _index(self, story: str, kb: KnowledgeBase) -> EntryFinder:
        finder = await self._off_loop(EntryFinder, kb.qa)
        self._finders[story] = (kb, finder)
        return finder

    async def removed_ids(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Ids of removed entries the audit can restore, most recently removed first."""
        if not is_moderator(interaction, self.bot.settings.moderator_role_id) or self.bot.store is None:
            return []
        removed = await self._off_loop(self.bot.store.removed_entry_ids)
        typed = current.strip().lower()
        return render.choices((i, i) for i in removed if typed in i.lower())

    # --- commands --------------------------------------------------------------------

    @app_commands.command(name="reload", description="Reload the knowledge files now and show what loaded")
    async def reload(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        place = await self._place(interaction)
        result = await place.reloader.reload()
        detail = result.engine.kb.summary() if result.engine else f"refused: {len(result.problems)} problems"
        try:
            await self._audit(interaction, "reload", "-", detail)
        except StoreUnavailable as exc:  # the reload itself happened; say so in the log, not to the moderator
            log.error("could not audit a /kb reload: %s", exc)
        await respond.send(interaction, self._reload_reply(result, place.engine), ephemeral=True)

    @app_commands.command(name="add", description="Add a Q&A entry (opens a form)")
    @app_commands.describe(question="Start the form with this question")
    async def add(self, interaction: Interaction, question: str | None = None) -> None:
        await interaction.response.send_modal(EntryForm(self, EntryText(question=question or "")))

    @app_commands.command(name="remove", description="Remove a Q&A entry")
    @app_commands.rename(entry_id="id")
    @app_commands.describe(entry_id="The entry's id")
    @app_commands.autocomplete(entry_id=entry_ids)
    async def remove(self, interaction: Interaction, entry_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        place = await self._place(interaction)
        entry = place.engine.kb.entry(entry_id)
        try:
            result = await self._off_loop(self._store().remove_entry, place.directory, entry_id,
                                          moderator_id=interaction.user.id,
                                          detail=_entry_summary(entry) if entry else "",
                                          before=entry_yaml(entry) if entry else None, story=place.story)
        except StoreUnavailable as exc:
            await respond.send(interaction, _store_refusal("Not removed", exc), ephemeral=True)
            return
        if (reloaded := await self._edited(interaction, result, "Not removed", place)) is None:
            return
        note = f"Removed `{entry_id}` from {render.escape(result.path)}. `/kb restore` can put it back.\n"
        await respond.send(interaction, self._reload_reply(reloaded, place.engine, note), ephemeral=True)

    @app_commands.command(name="restore", description="Put back a removed Q&A entry, as the audit kept it")
    @app_commands.rename(entry_id="id")
    @app_commands.describe(entry_id="The removed entry's id")
    @app_commands.autocomplete(entry_id=removed_ids)
    async def restore(self, interaction: Interaction, entry_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        place = await self._place(interaction)
        removal = await self._off_loop(self._store().last_removal, entry_id)
        shown = render.escape(entry_id[:100])
        if removal is None or not removal.before:
            note = (f"The audit holds no removal of `{shown}` that can be restored"
                    + (" (it was removed before the audit kept whole entries; its text is in /kb history)."
                       if removal is not None else "."))
            await respond.send(interaction, Reply(content=note), ephemeral=True)
            return
        result = await self._off_loop(self._store().restore_entry, place.directory, entry_id,
                                      removal.before, moderator_id=interaction.user.id, story=place.story)
        if (reloaded := await self._edited(interaction, result, "Not restored", place)) is None:
            return
        note = f"Restored `{shown}` to {render.escape(result.path)}.\n"
        await respond.send(interaction, self._reload_reply(reloaded, place.engine, note), ephemeral=True)

    @app_commands.command(name="history", description="What moderators changed in a Q&A entry: who, when, before/after")
    @app_commands.rename(entry_id="id")
    @app_commands.describe(entry_id="The entry's id (removed entries too)")
    @app_commands.autocomplete(entry_id=entry_ids)
    async def history(self, interaction: Interaction, entry_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        edits = await self._off_loop(self._store().entry_edits, entry_id, HISTORY_SHOWN)
        await respond.send(interaction, _history_reply(entry_id, edits), ephemeral=True)

    @app_commands.command(name="show", description="Show a Q&A entry as the bot holds it")
    @app_commands.rename(entry_id="id")
    @app_commands.describe(entry_id="The entry's id")
    @app_commands.autocomplete(entry_id=entry_ids)
    async def show(self, interaction: Interaction, entry_id: str) -> None:
        entry = (await self._place(interaction)).engine.kb.entry(entry_id)  # autocomplete only suggests: check again
        if entry is None:
            reply = Reply(content=f"There is no Q&A entry with id `{render.escape(entry_id[:100])}`.")
        else:
            reply = _entry_reply(entry)
        await respond.send(interaction, reply, ephemeral=True)

    @app_commands.command(name="gaps", description="The questions readers asked that the bot missed")
    async def gaps(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        place = await self._place(interaction)
        gaps = await self._off_loop(find_gaps, self._store(), place.engine, GAPS_SHOWN, place.story)
        about = f"about `{place.story}` " if len(self.bot.answerer.engines) > 1 else ""
        if not gaps:
            reply = Reply(content=f"No gaps {about}: every question readers missed is answered now.".replace(" :", ":"))
        else:
            lines = [render.echo(gap_line(i, gap)) for i, gap in enumerate(gaps, 1)]
            header = (f"Questions {about}readers missed that the bot still can't answer "
                      "(press a button to fix one):\n")
            reply = Reply(content=header + render.fit_lines(lines, CONTENT_LIMIT - len(header)),
                          view=GapsView(self, gaps))
        await respond.send(interaction, reply, ephemeral=True)

    @app_commands.command(name="stats",
                          description="Questions, answered share, helpful share, gaps closed, top entries")
    async def stats(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store, place = self._store(), await self._place(interaction)
        stats, closed = await self._off_loop(lambda: (store.stats(place.story), closed_this_week(store)))
        lines = [f"Story: {place.story}", *stats_lines(stats, closed), f"Knowledge: {place.engine.kb.summary()}"]
        await respond.send(interaction, Reply(content=render.escape("\n".join(lines))), ephemeral=True)

    # --- which story where -----------------------------------------------------------------

    story_group = app_commands.Group(name="story", description="Which story this server or a channel answers about")

    @story_group.command(name="set", description="Answer about this story in the whole server, or in one channel")
    @app_commands.describe(story="The story (start typing)", channel="Only this channel (and its threads)")
    async def story_set(self, interaction: Interaction, story: str,
                        channel: app_commands.AppCommandChannel | None = None) -> None:
        if interaction.guild_id is None:
            await respond.send(interaction, Reply(content="Map stories in a server; in a DM, readers pick their "
                                                          "own with /story."), ephemeral=True)
            return
        if story not in self.bot.answerer.engines:
            await respond.send(interaction, render.not_found_reply("any story", story, list(self.bot.answerer.engines)),
                               ephemeral=True)
            return
        channel_id = channel.id if channel is not None else None
        await self.bot.answerer.set_place_story(self._store(), interaction.guild_id, channel_id, story,
                                                interaction.user.id)
        where = f"<#{channel_id}> and its threads" if channel_id else "this server (where no channel has its own)"
        title = render.escape(self.bot.answerer.engines[story].kb.story.title)
        await respond.send(interaction, Reply(content=f"Now answering about **{title}** (`{story}`) in {where}."),
                           ephemeral=True)

    @story_set.autocomplete("story")
    async def story_names(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction, self.bot.settings.moderator_role_id):
            return []
        return render.choices(self.bot.answerer.stories_like(current))

    @story_group.command(name="list", description="The stories, and which server and channels answer about which")
    async def story_list(self, interaction: Interaction) -> None:
        guild = interaction.guild_id
        default = self.bot.answerer.place_stories.get((guild, 0), self.bot.settings.default_story) if guild else None
        lines = [f"`{slug}`: {render.escape(title)}" + (" — this server's story" if slug == default else "")
                 for slug, title in self.bot.answerer.story_titles()]
        mapped = sorted((channel, slug) for (g, channel), slug in self.bot.answerer.place_stories.items()
                        if g == guild and channel)
        lines += ["", "Channels with their own story:" if mapped else "No channel has a story of its own."]
        lines += [f"<#{channel}> → `{slug}`" for channel, slug in mapped]
        await respond.send(interaction, Reply(content=render.fit_lines(lines, CONTENT_LIMIT)), ephemeral=True)

    # --- turning a gap into an answer ------------------------------------------------------

    async def add_gap_phrasing(self, interaction: Interaction, gap: Gap, entry_id: str) -> None:
        """The gap's wording joins `entry_id`'s phrasings: checked, written, audited, reloaded, then asked again."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        place = await self._place(interaction)
        before = place.engine.kb.entry(entry_id)
        wording = " ".join(gap.question.split())  # as the editor writes it
        after = dataclasses.replace(before, phrasings=(*before.phrasings, wording)) if before else None
        try:
            result = await self._off_loop(self._store().add_phrasing, place.directory, entry_id,
                                          gap.question, moderator_id=interaction.user.id,
                                          before=entry_yaml(before) if before else None,
                                          after=entry_yaml(after) if after else None, story=place.story)
        except StoreUnavailable as exc:
            await respond.send(interaction, _store_refusal("Not added", exc), ephemeral=True)
            return
        if (reloaded := await self._edited(interaction, result, "Not added", place)) is None:
            return
        engine = self.bot.answerer.engines[place.story]
        answered = await self._off_loop(lambda: [w.key for w in gap.wordings if settled(engine, w)])
        try:
            await self._off_loop(self._store().close_gaps, answered, how="phrasing")
        except StoreUnavailable as exc:  # the phrasing is added; the next /kb gaps closes what it answers
            log.warning("could not close a gap after adding a phrasing: %s", exc)
        shown = render.echo(render.truncate(" ".join(gap.question.split()), 200))
        note = (f"Added “{shown}” as a phrasing of `{entry_id}` in {render.escape(result.path)}; "
                f"{len(answered)} of {len(gap.wordings)} wordings of this gap are answered now.\n")
        await respond.send(interaction, self._reload_reply(reloaded, place.engine, note), ephemeral=True)

    # --- the add form ------------------------------------------------------------------

    async def submit(self, interaction: Interaction, typed: EntryText) -> None:
        """Validate and write what the form holds; on refusal show why, with the text, and offer to retry."""
        if not await self.interaction_check(interaction):  # the form is an interaction of its own
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        paragraph = parse_paragraph(typed.paragraph)
        if paragraph is None:
            await self._refuse_entry(interaction, typed, _not_added([f"the paragraph must be a number like 7, not "
                                                                     f"{typed.paragraph!r}"]))
            return
        entry = NewEntry(typed.question.strip(), parse_phrasings(typed.phrasings), typed.answer.strip(), paragraph,
                         typed.quote.strip())
        try:
            place = await self._place(interaction)
            result = await self._off_loop(self._store().add_entry, place.directory, entry,
                                          moderator_id=interaction.user.id, story=place.story)
        except StoreUnavailable as exc:  # said as it is, not as a problem inside the problems' code block
            await self._refuse_entry(interaction, typed, _store_refusal("Not added", exc).content or "")
            return
        if not result.ok:
            await self._refuse_entry(interaction, typed, _not_added([str(p) for p in result.problems]))
            return
        reloaded = await place.reloader.reload()
        if typed.closes:
            try:
                await self._off_loop(self._store().close_gaps, typed.closes, how="add")
            except StoreUnavailable as exc:  # the entry is added; the gap is closed at the next /kb gaps
                log.warning("could not close the gap of a new entry: %s", exc)
        note = f"Added `{result.entry_id}` to {render.escape(result.path)}.\n"
        await respond.send(interaction, self._reload_reply(reloaded, place.engine, note), ephemeral=True)

    async def _refuse_entry(self, interaction: Interaction, typed: EntryText, content: str) -> None:
        """Why the form's entry was not added, with the text typed kept and a button to edit and retry."""
        embed = discord.Embed(title="Your text (nothing is lost)", colour=render.COLOUR,
                              description=code_block(typed.lines(), DESCRIPTION_LIMIT))
        await respond.send(interaction, Reply(content=content, embed=embed, view=RetryView(self, typed)),
                           ephemeral=True)

    # --- helpers -------------------------------------------------------------------

    async def _place(self, interaction: Interaction) -> Place:
        """The story of the place the moderator works in, with what edits and reloads it."""
        story = await self.bot.answerer.story_or_default(Asker.of_interaction(interaction))
        answerer = self.bot.answerer
        return Place(story, answerer.engines[story], self.bot.reloaders[story], answerer.packs[story].directory)

    def _store(self) -> Store:
        if self.bot.store is None:
            raise StoreUnavailable(self.bot.store_problem or "the store is closed")
        return self.bot.store

    async def _audit(self, interaction: Interaction, action: str, entry_id: str, detail: str, *,
                     before: str | None = None, after: str | None = None) -> None:
        await self._off_loop(self._store().record_edit, action=action, entry_id=entry_id,
                             moderator_id=interaction.user.id, detail=detail, before=before, after=after)

    async def cog_app_command_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        """A /kb command that needs the database while it is unusable: say so (privately) instead of "Sorry"."""
        cause = getattr(error, "original", error)
        if isinstance(cause, StoreUnavailable):
            interaction.extras["error_handled"] = True
            await respond.send(interaction, _store_refusal("Not available", cause), ephemeral=True)

    async def _edited(self, interaction: Interaction, result: EditResult, refused: str,
                      place: Place) -> ReloadResult | None:
        """After an edit: its problems sent back as a refusal (None), else the reload it calls for."""
        if not result.ok:
            lines = [str(p) for p in result.problems]
            await respond.send(interaction, Reply(content=f"{refused}:\n{code_block(lines, 1900)}"), ephemeral=True)
            return None
        return await place.reloader.reload()

    @staticmethod
    def _reload_reply(result: ReloadResult, in_use: Engine, note: str = "") -> Reply:
        if result.engine is not None:
            return Reply(content=f"{note}Reloaded: {result.engine.kb.summary()}.")
        head = (f"{note}Knowledge reload refused; still answering from the last good knowledge "
                f"({in_use.kb.summary()}). Fix these and save again:\n")
        return Reply(content=head + code_block([str(p) for p in result.problems], CONTENT_LIMIT - len(head)))


def _not_added(reasons: list[str]) -> str:
    """The problems that refused an entry, in a code block, as `check` prints them."""
    return f"Not added:\n{code_block(reasons, CONTENT_LIMIT - 20)}"


def _store_refusal(what: str, exc: StoreUnavailable) -> Reply:
    """Why a /kb command could not use the database. Readers are still answered; nothing was changed."""
    return Reply(content=render.escape(f"{what}: the bot's database is unavailable right now, so nothing was changed "
                                       f"(readers are still answered). Try again in a minute. ({exc})")[:CONTENT_LIMIT])


def _entry_summary(entry: QAEntry) -> str:
    """The audit's one-line note of a removed entry (its whole text is kept as YAML in `before`)."""
    cites = "; ".join(f"¶{c.paragraph} {c.quote}" for c in entry.citations)
    return f"{entry.question} | {' / '.join(entry.phrasings)} | {entry.answer} | {cites}"


def _entry_reply(entry: QAEntry) -> Reply:
    embed = discord.Embed(title=render.truncate(render.escape(entry.question), render.TITLE_LIMIT),
                          description=render.truncate(render.escape(entry.answer), 2000), colour=render.COLOUR)
    if entry.phrasings:
        embed.add_field(name="Other phrasings", inline=False, value=render.fit_lines(
            [render.escape(p) for p in entry.phrasings], render.FIELD_VALUE_LIMIT))
    embed.add_field(name=render.SOURCES, inline=False,
                    value=render.fit_lines(render.source_lines(entry.citations), render.FIELD_VALUE_LIMIT))
    see = f" · see: {entry.see.text}" if entry.see else ""  # the fact it answers with: fix it there
    embed.set_footer(text=render.truncate(f"{entry.id} · {entry.origin}{see}", render.FOOTER_BUDGET))
    return Reply(embed=embed)


def _history_reply(entry_id: str, edits: list[Edit]) -> Reply:
    """An entry's edits, newest first: who, when, and the entry before and after, each cut to fit."""
    shown = render.escape(entry_id[:100])
    if not edits:
        return Reply(content=f"The audit holds no edits of `{shown}`.")
    embed = discord.Embed(title=render.truncate(f"History of {entry_id}", render.TITLE_LIMIT), colour=render.COLOUR)
    for edit in edits:
        lines = [f"note: {edit.detail}"]
        if edit.before is not None:
            lines += ["before:", *edit.before.splitlines()]
        if edit.after is not None:
            lines += ["after:", *edit.after.splitlines()]
        status = "" if edit.status == "done" else f" · {edit.status}"  # pending, or failed: it did not land
        embed.add_field(name=render.truncate(f"{edit.at} · {edit.action}{status} · moderator {edit.moderator_id}",
                                             render.TITLE_LIMIT),
                        value=code_block(lines, HISTORY_FIELD), inline=False)
    embed.set_footer(text=f"the latest {len(edits)} edits" if len(edits) == HISTORY_SHOWN else "every edit recorded")
    return Reply(embed=embed)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(KnowledgeAdmin(bot))

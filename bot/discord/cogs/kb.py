"""/kb: the moderators' tools. Reload, add, remove and show Q&A entries; see what readers missed.

Only moderators: Manage Server (or Administrator) in the interaction's permissions, or the
configured moderator role. default_permissions hides the group from others in the client, but
server admins can change that and Discord does not enforce it, so every command, form and
button checks again when it runs. The cog only translates: validating and writing live in
bot.knowledge.editor, reloading in bot.knowledge.watch, counting in bot.store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands, ui
from discord.ext import commands
from rapidfuzz import fuzz, process, utils

from bot.discord import render, respond
from bot.discord.render import BUTTONS_PER_ROW, CONTENT_LIMIT, DESCRIPTION_LIMIT, Reply
from bot.gaps import gap_line, stats_lines
from bot.knowledge.editor import NewEntry, add_entry, parse_paragraph, parse_phrasings, remove_entry
from bot.knowledge.watch import KnowledgeReloader, ReloadResult
from bot.store import Store

if TYPE_CHECKING:
    from bot.discord.bot import StoryBot
    from bot.engine import Engine
    from bot.knowledge import QAEntry
    from bot.store import Gap

log = logging.getLogger(__name__)
Interaction = discord.Interaction["StoryBot"]

REFUSAL = "Only moderators (Manage Server, or the moderator role) can use /kb. Nothing was changed."
GAPS_SHOWN = 10
WATCHER_TASK = "knowledge watcher"
FORM_TIMEOUT = 15 * 60  # Discord keeps an interaction's followups this long; a form or button past it is useless


def is_moderator(interaction: discord.Interaction, role_id: int | None) -> bool:
    """Manage Server or Administrator in this interaction, or the configured moderator role."""
    perms = interaction.permissions  # the payload's bits as they are: Administrator is not expanded
    if perms.manage_guild or perms.administrator:
        return True
    member = interaction.user
    return role_id is not None and isinstance(member, discord.Member) and member.get_role(role_id) is not None


def code_block(lines: list[str], limit: int) -> str:
    """Lines in a code block that fits `limit`, with nothing inside able to close the block early."""
    body = render.fit_lines([line.replace("```", "`\u200b``") for line in lines], limit - 8)
    return f"```\n{body}\n```"


@dataclass(frozen=True, slots=True)
class EntryText:
    """The /kb add form as typed, kept verbatim so a refused entry can be shown back and retried."""

    question: str = ""
    phrasings: str = ""
    answer: str = ""
    paragraph: str = ""
    quote: str = ""

    def lines(self) -> list[str]:
        return [f"question: {self.question}", "phrasings:", *(f"  {p}" for p in self.phrasings.splitlines()),
                f"answer: {self.answer}", f"paragraph: {self.paragraph}", f"quote: {self.quote}"]


class EntryForm(ui.Modal, title="Add a Q&A entry"):
    def __init__(self, cog: KnowledgeAdmin, typed: EntryText) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.cog = cog

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
                          self.quote.value)
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
    """A button per gap that opens /kb add with the question and its other wordings filled in."""

    def __init__(self, cog: KnowledgeAdmin, gaps: list[Gap]) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.cog = cog
        for number, gap in enumerate(gaps, 1):
            button: ui.Button = ui.Button(label=f"Add {number}", style=discord.ButtonStyle.secondary,
                                          row=(number - 1) // BUTTONS_PER_ROW)
            button.callback = self._opener(EntryText(question=gap.question, phrasings="\n".join(gap.phrasings)))
            self.add_item(button)

    def _opener(self, typed: EntryText):
        async def open_form(interaction: Interaction) -> None:
            await interaction.response.send_modal(EntryForm(self.cog, typed))

        return open_form

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await self.cog.interaction_check(interaction)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class KnowledgeAdmin(commands.GroupCog, group_name="kb", group_description="Moderators: the bot's knowledge"):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot
        self.reloader = KnowledgeReloader(bot.settings.knowledge_dir, self._swap)
        self._watcher: asyncio.Task | None = None
        self._owns_store = False

    # --- life cycle ----------------------------------------------------------------

    async def cog_load(self) -> None:
        if self.bot.store is None:
            settings = self.bot.settings
            self.bot.store = await asyncio.to_thread(Store, settings.database_path, salt=settings.hash_salt)
            self._owns_store = True
        self._watcher = asyncio.create_task(self.reloader.watch(self._report), name=WATCHER_TASK)

    async def cog_unload(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self._owns_store and self.bot.store is not None:
            self.bot.store.close()
            self.bot.store = None

    def _swap(self, engine: Engine) -> None:
        self.bot.engine = engine  # one reference: a question in flight keeps the engine it started with

    async def _report(self, result: ReloadResult) -> None:
        """A reload the watcher started failed: tell the moderators' log channel, if there is one."""
        if not result.ok:
            self.bot.health.reload_failed(len(result.problems))
        channel_id = self.bot.settings.mod_log_channel_id
        if result.ok or channel_id is None:
            return
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        await channel.send(**self._reload_reply(result).kwargs())  # type: ignore[union-attr]

    # --- who may ---------------------------------------------------------------------

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        """Runs before every /kb command (and is reused by the forms and buttons)."""
        if is_moderator(interaction, self.bot.settings.moderator_role_id):
            return True
        log.info("refused /kb to user %s in guild %s", interaction.user.id, interaction.guild_id)
        interaction.extras["error_handled"] = True  # the tree's error handler need not say it again
        await respond.send(interaction, Reply(content=REFUSAL), ephemeral=True)
        return False

    async def entry_ids(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Entry ids for `id:`, best matches of what is typed against ids and questions first."""
        if not is_moderator(interaction, self.bot.settings.moderator_role_id):
            return []
        qa = self.bot.engine.kb.qa
        if current.strip():
            ranked = process.extract(current, {e.id: f"{e.id} {e.question}" for e in qa}, scorer=fuzz.WRatio,
                                      processor=utils.default_process, limit=render.CHOICE_LIMIT)
            by_id = {e.id: e for e in qa}
            qa = tuple(by_id[key] for _, _, key in ranked)
        return render.choices((f"{e.id} — {e.question}", e.id) for e in qa)

    # --- commands --------------------------------------------------------------------

    @app_commands.command(name="reload", description="Reload the knowledge files now and show what loaded")
    async def reload(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.reloader.reload()
        detail = result.engine.kb.summary() if result.engine else f"refused: {len(result.problems)} problems"
        await self._audit(interaction, "reload", "-", detail)
        await respond.send(interaction, self._reload_reply(result), ephemeral=True)

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
        entry = self.bot.engine.kb.entry(entry_id)
        result = await asyncio.to_thread(remove_entry, self.bot.settings.knowledge_dir, entry_id)
        if not result.ok:
            lines = [str(p) for p in result.problems]
            await respond.send(interaction, Reply(content=f"Not removed:\n{code_block(lines, 1900)}"), ephemeral=True)
            return
        await self._audit(interaction, "remove", entry_id, _entry_summary(entry) if entry else "")
        reloaded = await self.reloader.reload()
        note = f"Removed `{entry_id}` from {render.escape(result.path)}.\n"
        await respond.send(interaction, self._reload_reply(reloaded, note), ephemeral=True)

    @app_commands.command(name="show", description="Show a Q&A entry as the bot holds it")
    @app_commands.rename(entry_id="id")
    @app_commands.describe(entry_id="The entry's id")
    @app_commands.autocomplete(entry_id=entry_ids)
    async def show(self, interaction: Interaction, entry_id: str) -> None:
        entry = self.bot.engine.kb.entry(entry_id)  # autocomplete only suggests: check the id again
        if entry is None:
            reply = Reply(content=f"There is no Q&A entry with id `{render.escape(entry_id[:100])}`.")
        else:
            reply = _entry_reply(entry)
        await respond.send(interaction, reply, ephemeral=True)

    @app_commands.command(name="gaps", description="The questions readers asked that the bot missed")
    async def gaps(self, interaction: Interaction) -> None:
        gaps = await asyncio.to_thread(self._store().gaps, GAPS_SHOWN)
        if not gaps:
            reply = Reply(content="No gaps: every question was answered and no answer got a 👎.")
        else:
            lines = [render.escape(gap_line(i, gap)) for i, gap in enumerate(gaps, 1)]
            header = "Most frequent unanswered or 👎 questions (press a button to add an answer):\n"
            reply = Reply(content=header + render.fit_lines(lines, CONTENT_LIMIT - len(header)),
                          view=GapsView(self, gaps))
        await respond.send(interaction, reply, ephemeral=True)

    @app_commands.command(name="stats", description="Questions, answered share, helpful share, top entries")
    async def stats(self, interaction: Interaction) -> None:
        stats = await asyncio.to_thread(self._store().stats)
        lines = [*stats_lines(stats), f"Knowledge: {self.bot.engine.kb.summary()}"]
        await respond.send(interaction, Reply(content=render.escape("\n".join(lines))), ephemeral=True)

    # --- the add form ------------------------------------------------------------------

    async def submit(self, interaction: Interaction, typed: EntryText) -> None:
        """Validate and write what the form holds; on refusal show why, with the text, and offer to retry."""
        if not await self.interaction_check(interaction):  # the form is an interaction of its own
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        paragraph = parse_paragraph(typed.paragraph)
        if paragraph is None:
            await self._refuse_entry(interaction, typed, [f"the paragraph must be a number like 7, not "
                                                          f"{typed.paragraph!r}"])
            return
        entry = NewEntry(typed.question.strip(), parse_phrasings(typed.phrasings), typed.answer.strip(), paragraph,
                         typed.quote.strip())
        result = await asyncio.to_thread(add_entry, self.bot.settings.knowledge_dir, entry)
        if not result.ok:
            await self._refuse_entry(interaction, typed, [str(p) for p in result.problems])
            return
        await self._audit(interaction, "add", result.entry_id,
                          f"{entry.question} | {entry.answer} | ¶{paragraph} {entry.quote}")
        reloaded = await self.reloader.reload()
        note = f"Added `{result.entry_id}` to {render.escape(result.path)}.\n"
        await respond.send(interaction, self._reload_reply(reloaded, note), ephemeral=True)

    async def _refuse_entry(self, interaction: Interaction, typed: EntryText, reasons: list[str]) -> None:
        embed = discord.Embed(title="Your text (nothing is lost)", colour=render.COLOUR,
                              description=code_block(typed.lines(), DESCRIPTION_LIMIT))
        content = f"Not added:\n{code_block(reasons, CONTENT_LIMIT - 20)}"
        await respond.send(interaction, Reply(content=content, embed=embed, view=RetryView(self, typed)),
                           ephemeral=True)

    # --- helpers -------------------------------------------------------------------

    def _store(self) -> Store:
        if self.bot.store is None:
            raise RuntimeError("the store is closed")
        return self.bot.store

    async def _audit(self, interaction: Interaction, action: str, entry_id: str, detail: str) -> None:
        await asyncio.to_thread(self._store().record_edit, action=action, entry_id=entry_id,
                                moderator_id=interaction.user.id, detail=detail)

    def _reload_reply(self, result: ReloadResult, note: str = "") -> Reply:
        if result.engine is not None:
            return Reply(content=f"{note}Reloaded: {result.engine.kb.summary()}.")
        head = (f"{note}Knowledge reload refused; still answering from the last good knowledge "
                f"({self.bot.engine.kb.summary()}). Fix these and save again:\n")
        return Reply(content=head + code_block([str(p) for p in result.problems], CONTENT_LIMIT - len(head)))


def _entry_summary(entry: QAEntry) -> str:
    """What the audit keeps of a removed entry: enough to write it again."""
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
    embed.set_footer(text=render.truncate(f"{entry.id} · {entry.origin}", render.FOOTER_BUDGET))
    return Reply(embed=embed)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(KnowledgeAdmin(bot))

"""Answers, people, terms, events and paragraphs as Discord messages, always within Discord's limits.

Everything here is pure: values in, a `Reply` out. All dynamic text (a reader's words and the
knowledge alike) is escaped for markdown, then cut to fit, so nothing a reader or a moderator
writes can change the formatting, and no send can fail for being too long.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.engine.answer import DOESNT_SAY
from bot.engine.text import terminal_safe

if TYPE_CHECKING:
    from bot.engine import Answer
    from bot.knowledge import Citation, Event, Fact, KnowledgeBase, Paragraph, Person, Term

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
BUTTONS_PER_ROW = 5
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
CHOICE_LIMIT = 25
CHOICE_NAME_LIMIT = 100
SELECT_OPTIONS = 25  # options in one select menu
SELECT_LABEL_LIMIT = 100  # an option's label or description

# Our own budgets. Each embed has at most a title, a description, one "Sources" field and a
# footer, each cut to its limit, so the total stays under Discord's whatever the knowledge holds
# (tests/discord/test_render.py checks the sum).
FOOTER_BUDGET = 256
QUOTE_BUDGET = 300  # one quote in a sources list; longer ones are cut so several fit in a field
SOURCES = "Sources"
RELATED = "You might also mean"
RELATED_BUDGET = 320  # up to three questions offered beside an answer the engine was unsure of

NO_MENTIONS = discord.AllowedMentions.none()
COLOUR = discord.Colour.blurple()
APOLOGY = "Sorry, something went wrong while answering that. Please try again in a moment."
HELP_POINTER = "Ask me anything about the story, or try /help."


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send: any of content, one embed and a view; never pings anyone."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for send/send_message/followup.send: only what is set (a None view breaks a followup)."""
        out: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.content is not None:
            out["content"] = self.content
        if self.embed is not None:
            out["embed"] = self.embed
        if self.view is not None:
            out["view"] = self.view
        return out


# --- text helpers --------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, at a word boundary when one is near, ending with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space >= limit * 2 // 3:
        cut = cut[:space]
    # A cut escape ("\") would escape the ellipsis instead of the character it was meant for.
    return cut.rstrip().rstrip("\\") + "…"


def escape(text: str) -> str:
    """Markdown-escape text we did not write ourselves, so it shows exactly as written."""
    return discord.utils.escape_markdown(text)


def echo(text: str) -> str:
    """Readers' text shown back to moderators: without terminal escapes (ESC, OSC-8 links) or control
    characters, with `<@id>`, `@everyone` and `@here` broken so they never render as mentions (no ping is
    sent either way), and markdown-escaped. Every place that echoes what a reader wrote goes through here.
    """
    return escape(discord.utils.escape_mentions(terminal_safe(text)))


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """Join lines with newlines within `limit`, ending with "…and N more" when some do not fit."""
    if len(joined := "\n".join(lines)) <= limit:
        return joined
    out: list[str] = []
    for i, line in enumerate(lines):
        left = len(lines) - i - 1
        note = f"\n…and {left} more" if left else ""
        line = truncate(line, limit - len(note)) if not out else line
        if len("\n".join([*out, line])) + len(note) > limit:
            # The previous line left room for exactly this note.
            out.append(f"…and {left + 1} more")
            break
        out.append(line)
    return "\n".join(out)


def unquote(quote: str) -> str:
    """A quote without the quotation marks a moderator may have copied with it."""
    return quote.strip().strip("\"'“”‘’").strip()


def refs(citations: Iterable[Citation]) -> str:
    """"¶1, ¶7": the paragraphs a fact rests on, each once, in story order."""
    return ", ".join(f"¶{n}" for n in sorted({c.paragraph for c in citations}))


def source_lines(citations: Iterable[Citation]) -> list[str]:
    """One "¶N — “quote”" line per distinct citation."""
    seen = dict.fromkeys((c.paragraph, unquote(c.quote)) for c in citations)
    return [f"¶{n} — “{truncate(escape(q), QUOTE_BUDGET)}”" for n, q in seen]


def _embed(title: str, description: str, citations: Iterable[Citation], story_title: str,
           related: Sequence[str] = ()) -> discord.Embed:
    embed = discord.Embed(
        title=truncate(title, TITLE_LIMIT) or None,
        description=truncate(description, DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    if lines := source_lines(citations):
        embed.add_field(name=SOURCES, value=fit_lines(lines, FIELD_VALUE_LIMIT), inline=False)
    if related:
        value = fit_lines([f"• {truncate(escape(q), 100)}" for q in related], RELATED_BUDGET)
        embed.add_field(name=RELATED, value=value, inline=False)
    embed.set_footer(text=truncate(story_title, FOOTER_BUDGET))
    return embed


# --- replies -------------------------------------------------------------------


def answer_reply(answer: Answer, story_title: str) -> Reply:
    """An answer as an embed with its sources; an abstention as the plain words, suggestions left to buttons."""
    if not answer.answered:
        hint = "\nPerhaps one of these:" if answer.suggestions else ""
        return Reply(content=DOESNT_SAY + hint)
    title = escape(" ".join(answer.question.split()))
    # An answer close to the engine's threshold comes with suggestions: show them as the reader's way out.
    return Reply(embed=_embed(title, escape(answer.text or ""), answer.citations, story_title, answer.suggestions))


def intent_reply(answer: Answer) -> Reply:
    """Help, a greeting or thanks: the engine's short reply (a pointer to /help) as plain text, not an answer."""
    return Reply(content=truncate(answer.text or HELP_POINTER, CONTENT_LIMIT))


def did_you_mean_reply(answer: Answer) -> Reply:
    """Two answers were too close to pick between: ask which one, the choices being buttons (views.Pick)."""
    asked = truncate(escape(" ".join(answer.question.split())), 200)
    return Reply(content=f"“{asked}” could mean two things in the story. Did you mean one of these?")


def _profile(name: str, lead: str, first: Fact, facts: Sequence[Fact], story_title: str) -> discord.Embed:
    lines = [f"**{lead}:** {escape(first.text)} ({refs(first.citations)})"]
    lines += [f"• {escape(f.text)} ({refs(f.citations)})" for f in facts]
    citations = [c for f in (first, *facts) for c in f.citations]
    return _embed(escape(name), fit_lines(lines, DESCRIPTION_LIMIT), citations, story_title)


def person_reply(person: Person, story_title: str) -> Reply:
    return Reply(embed=_profile(person.name, "Role", person.role, person.facts, story_title))


def term_reply(term: Term, story_title: str) -> Reply:
    return Reply(embed=_profile(term.name, "What it is", term.definition, term.facts, story_title))


def timeline_reply(events: Sequence[Event], query: str | None, story_title: str) -> Reply:
    if not events:
        return Reply(content=f"The story's timeline has nothing about “{truncate(escape(query or ''), 200)}”.")
    title = f"Timeline: {escape(query)}" if query else "Timeline"
    lines = [f"**{escape(e.when)}** — {escape(e.text)} ({refs(e.citations)})" for e in events]
    citations = [c for e in events for c in e.citations]
    return Reply(embed=_embed(title, fit_lines(lines, DESCRIPTION_LIMIT), citations, story_title))


def paragraph_reply(paragraph: Paragraph, story_title: str) -> Reply:
    return Reply(embed=_embed(f"¶{paragraph.number} — {escape(paragraph.section)}", escape(paragraph.text), (),
                              story_title))


def missing_paragraph_reply(number: int, count: int) -> Reply:
    return Reply(content=f"The story has paragraphs 1 to {count}; there is no paragraph {number}.")


def not_found_reply(what: str, name: str, suggestions: Sequence[str]) -> Reply:
    """`what` is "anyone" or "anything": the story doesn't name it; maybe the reader meant one of these."""
    text = f"The story doesn't name {what} called “{truncate(escape(name), 100)}”."
    if suggestions:
        text += " Did you mean " + ", ".join(f"**{escape(s)}**" for s in suggestions) + "?"
    return Reply(content=truncate(text, CONTENT_LIMIT))


def cooldown_reply(retry_after: float) -> Reply:
    return Reply(content=f"You're asking quickly: please wait {max(1, round(retry_after))} s before the next question.")


def help_reply(kb: KnowledgeBase, answer_channels: Iterable[int]) -> Reply:
    """What the bot does, with examples taken from the knowledge so they always work."""
    question = kb.qa[0].question if kb.qa else "What happened?"
    person = kb.people[0].name if kb.people else "someone"
    term = kb.terms[0].name if kb.terms else "something"
    # Someone a dated event names: a `/when` filter that finds something, whatever the story.
    dated = next((p.name for event in kb.timeline for pid in event.people if (p := kb.person(pid))), person)
    where = "Mention me or send me a direct message with a question"
    if channels := sorted(answer_channels):
        where += ", or just ask in " + ", ".join(f"<#{c}>" for c in channels)
    lines = [
        f"I answer questions about **{escape(kb.story.title)}**, citing the paragraphs I rely on.",
        "",
        f"`/ask question:` any question — e.g. `/ask question: {escape(question)}`",
        f"`/who name:` a person's role and what they did and said — e.g. `/who name: {escape(person)}`",
        f"`/what term:` a term or organisation — e.g. `/what term: {escape(term)}`",
        f"`/when` the timeline in order; `/when query: {escape(dated)}` only what matches",
        f"`/source paragraph:` read a paragraph, 1 to {len(kb.article)}",
        "`/story` the story I answer about here, in brief",
        "",
        "Or right-click any message → **Apps** → **Ask the story**: I answer it as a reply.",
        where + ".",
        "When the story doesn't say, I tell you so and suggest questions it does answer.",
        "",
        "Answers are in English for now.",
        "🇫🇷 Les commandes existent aussi en français (/demander, /qui…) ; les réponses restent en anglais "
        "pour l'instant.",
    ]
    embed = discord.Embed(title="What I can do", description=truncate("\n".join(lines), DESCRIPTION_LIMIT),
                          colour=COLOUR)
    embed.set_footer(text=truncate(kb.story.title, FOOTER_BUDGET))
    return Reply(embed=embed)


CHOOSE_STORY = ("I can answer about several stories. Which one are you asking about? Pick it below: I'll answer "
                "your question and remember the story for our conversation here (`/story` changes it).")


def choose_story_reply() -> Reply:
    return Reply(content=CHOOSE_STORY)


def story_reply(kb: KnowledgeBase, slug: str, note: str = "") -> Reply:
    """/story: the story answered here, its summary, and how to ask."""
    lines = [escape(kb.story.summary), "", f"Ask with `/ask`, or see `/help`. {note}".strip()]
    embed = discord.Embed(title=truncate(kb.story.title, TITLE_LIMIT),
                          description=truncate("\n".join(lines), DESCRIPTION_LIMIT), colour=COLOUR)
    embed.set_footer(text=truncate(f"story: {slug} · {len(kb.article)} paragraphs", FOOTER_BUDGET))
    return Reply(embed=embed)


def choices(pairs: Iterable[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """Autocomplete choices from (display name, id) pairs: at most 25, each at most 100 characters."""
    return [
        app_commands.Choice(name=truncate(name, CHOICE_NAME_LIMIT), value=value[:CHOICE_NAME_LIMIT])
        for name, value in list(pairs)[:CHOICE_LIMIT]
    ]

"""Every slash command, dispatched from INTERACTION_CREATE payloads through discord.py's real CommandTree."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import discord
import pytest
from discord import app_commands

from bot.discord import respond
from bot.discord.cogs.lookup import MAX_PARAGRAPH
from bot.engine import DOESNT_SAY, Conversation, Engine
from tests.discord.conftest import (
    ABSTAINS,
    EPHEMERAL,
    WORLD,
    Harness,
    assert_within_limits,
    autocomplete,
    slash,
)

STORY = "Jamil Jivani's Washington trip and Canada-U.S. trade tensions"
TRUMP_QUESTION = "What did Trump ask Jivani to tell Canadians?"


class SlowEngine(Engine):
    """The real engine on a slow host."""

    delay = 0.3

    def ask(self, text: str, conversation: Conversation | None = None):
        time.sleep(self.delay)
        return super().ask(text, conversation)


class BrokenEngine(Engine):
    def events(self, query=None):
        raise RuntimeError("boom in the timeline")


async def test_commands_synced_are_the_contract(harness: Harness) -> None:
    put = next(c for c in harness.fake.calls if c.method == "PUT")
    names = {c["name"] for c in put.json}
    assert {"ask", "who", "what", "when", "source", "help"} <= names
    source = next(c for c in put.json if c["name"] == "source")
    (paragraph,) = source["options"]
    # Any story's article fits the synced range: the paragraph is looked up in the place's story.
    assert (paragraph["type"], paragraph["min_value"], paragraph["max_value"]) == (4, 1, MAX_PARAGRAPH)
    when = next(c for c in put.json if c["name"] == "when")
    assert when["options"][0]["name"] == "query" and not when["options"][0].get("required", False)
    who = next(c for c in put.json if c["name"] == "who")
    assert who["options"][0]["autocomplete"] is True


async def test_ask_answers_with_cited_embed_and_no_pings(harness: Harness) -> None:
    answer = harness.bot.engine.ask(TRUMP_QUESTION)
    assert answer.answered and answer.citations
    call = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    assert call.json["type"] == 4  # answered at once: the engine is fast, no deferral needed
    (embed,) = call.embeds
    assert embed["title"] == TRUMP_QUESTION
    assert embed["description"] == answer.text
    assert embed["fields"][0]["name"] == "Sources"
    cited = answer.citations[0]
    assert embed["fields"][0]["value"].startswith(f"¶{cited.paragraph} — “{cited.quote.strip('“”')}”")
    assert embed["footer"]["text"] == STORY
    assert call.body["allowed_mentions"] == {"parse": []}
    labels = [b.get("label") for b in call.buttons]
    assert f"Show paragraph {cited.paragraph}" in labels
    assert_within_limits(call)


async def test_ask_abstains_plainly_with_suggestion_buttons(suggesting: Harness, limits) -> None:
    harness = suggesting
    suggestions = harness.bot.engine.ask(ABSTAINS).suggestions
    call = await harness.interact(slash("ask", question=ABSTAINS))
    assert call.embeds == []
    assert call.content.startswith(DOESNT_SAY)
    assert len(call.buttons) == len(suggestions)
    for button, suggestion in zip(call.buttons, suggestions, strict=True):
        label = button["label"]
        assert label == suggestion or (len(label) <= limits["label"] and label.endswith("…"))
        assert button["custom_id"] == f"story:ask:{suggestion}"[: limits["custom_id"]]
    assert call.body["allowed_mentions"] == {"parse": []}
    assert_within_limits(call)


async def test_ask_echo_is_escaped_and_cannot_ping(harness: Harness) -> None:
    question = "What did __Trump__ ask **Jivani** to tell Canadians? @everyone <@&5>"
    call = await harness.interact(slash("ask", question=question))
    assert call.body["allowed_mentions"] == {"parse": []}
    assert call.embeds[0]["title"] == r"What did \_\_Trump\_\_ ask \*\*Jivani\*\* to tell Canadians? @everyone <@&5>"


async def test_ask_defers_when_the_engine_is_slow(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(respond, "DEFER_BY", 0.05)
    harness.bot.engine = SlowEngine(harness.bot.engine.kb)
    call = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    callback = next(c for c in harness.fake.calls if c.path.endswith("/callback"))
    assert callback.json["type"] == 5  # deferred "thinking…" inside the 3-second window
    assert call.method == "POST" and call.path.startswith("/webhooks/")  # the answer follows up
    assert call.embeds[0]["title"] == TRUMP_QUESTION
    assert call.json["allowed_mentions"] == {"parse": []}


async def test_ask_never_blocks_the_event_loop(harness: Harness) -> None:
    """A slow engine runs in a worker thread: the loop (and the gateway heartbeat) keeps turning."""
    harness.bot.engine = SlowEngine(harness.bot.engine.kb)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await harness.interact(slash("ask", question=TRUMP_QUESTION))
    ticker.cancel()
    assert ticks >= 10


async def test_ask_reads_the_engine_at_each_use(harness: Harness) -> None:
    """A moderator's reload assigns bot.engine; the next question must use the new one."""
    calls: list[str] = []

    class Spy(Engine):
        def ask(self, text: str, conversation: Conversation | None = None):
            calls.append(text)
            return super().ask(text, conversation)

    harness.bot.engine = Spy(harness.bot.engine.kb)
    await harness.interact(slash("ask", question="who is Jivani"))
    assert calls == ["who is Jivani"]


async def test_ask_cooldown_is_a_polite_ephemeral_note(harness: Harness, settings) -> None:
    harness.bot.questions.__init__(2, 60.0)
    for _ in range(2):
        call = await harness.interact(slash("ask", question="who is Jivani"))
        assert not call.ephemeral and call.embeds
    call = await harness.interact(slash("ask", question="who is Jivani"))
    assert call.ephemeral
    assert call.content.startswith("You're asking quickly: please wait")
    other = await harness.interact(slash("ask", question="who is Jivani", user=WORLD.reader(99)))
    assert other.embeds  # the cooldown is per user


async def test_ask_in_a_dm(harness: Harness) -> None:
    call = await harness.interact(slash("ask", dm=True, question=TRUMP_QUESTION))
    assert call.embeds[0]["title"] == TRUMP_QUESTION


async def test_who_profile_is_cited(harness: Harness) -> None:
    person = harness.bot.engine.kb.person("jivani")
    call = await harness.interact(slash("who", name="jivani"))
    (embed,) = call.embeds
    assert embed["title"] == person.name
    first, *facts = embed["description"].split("\n")
    role_refs = ", ".join(f"¶{n}" for n in sorted({c.paragraph for c in person.role.citations}))
    assert first == f"**Role:** {person.role.text} ({role_refs})"
    assert len(facts) == len(person.facts)
    assert all(line.startswith("• ") and line.endswith(")") and "(¶" in line for line in facts)
    first_quote = person.role.citations[0]
    assert f"¶{first_quote.paragraph} — “{first_quote.quote}”" in embed["fields"][0]["value"]
    assert_within_limits(call)


async def test_who_accepts_typed_names_and_misspellings(harness: Harness) -> None:
    call = await harness.interact(slash("who", name="Jivanni"))
    assert call.embeds[0]["title"] == "Jamil Jivani"


async def test_who_unknown_says_so_with_suggestions(harness: Harness) -> None:
    call = await harness.interact(slash("who", name="Justin Bieber"))
    assert call.ephemeral
    assert call.content.startswith("The story doesn't name anyone called “Justin Bieber”.")


async def test_who_autocomplete_is_fuzzy_and_within_limits(harness: Harness, limits) -> None:
    call = await harness.interact(autocomplete("who", "name", "jivny"))
    assert call.json["type"] == 8
    choices = call.json["data"]["choices"]
    assert choices[0] == {"name": "Jamil Jivani", "value": "jivani"}
    assert len(choices) <= limits["choices"]
    assert all(len(c["name"]) <= limits["choice_name"] and len(c["value"]) <= 100 for c in choices)


async def test_autocomplete_with_nothing_typed_lists_at_most_25(harness: Harness, limits) -> None:
    for command, option in (("who", "name"), ("what", "term")):
        call = await harness.interact(autocomplete(command, option, ""))
        choices = call.json["data"]["choices"]
        assert 0 < len(choices) <= limits["choices"]


async def test_what_term_is_cited(harness: Harness) -> None:
    term = harness.bot.engine.kb.term("cusma")
    call = await harness.interact(slash("what", term="USMCA"))  # an alias
    (embed,) = call.embeds
    assert embed["title"] == term.name
    assert embed["description"].startswith(f"**What it is:** {term.definition.text} (¶")
    cited = term.definition.citations[0]
    assert f"¶{cited.paragraph} — “{cited.quote}”" in embed["fields"][0]["value"]
    assert_within_limits(call)


async def test_what_autocomplete(harness: Harness) -> None:
    call = await harness.interact(autocomplete("what", "term", "usmc"))
    assert call.json["data"]["choices"][0]["value"] == "cusma"


async def test_when_lists_the_timeline_in_order(harness: Harness) -> None:
    call = await harness.interact(slash("when"))
    (embed,) = call.embeds
    lines = embed["description"].split("\n")
    timeline = harness.bot.engine.kb.timeline
    assert len(lines) == len(timeline)
    for line, event in zip(lines, timeline, strict=True):
        assert line.startswith(f"**{event.when}** — ") and "(¶" in line
    assert_within_limits(call)


async def test_when_filters_by_query(harness: Harness) -> None:
    events = harness.bot.engine.events("Rubio")
    assert 0 < len(events) < len(harness.bot.engine.kb.timeline)
    call = await harness.interact(slash("when", query="Rubio"))
    (embed,) = call.embeds
    assert embed["title"] == "Timeline: Rubio"
    lines = embed["description"].split("\n")
    assert [line.split(" — ")[0] for line in lines] == [f"**{e.when}**" for e in events]
    nothing = await harness.interact(slash("when", query="zeppelins"))
    assert nothing.content == "The story's timeline has nothing about “zeppelins”."


async def test_source_shows_paragraph_and_section(harness: Harness) -> None:
    call = await harness.interact(slash("source", paragraph=1))
    (embed,) = call.embeds
    paragraph = harness.bot.engine.kb.article.paragraph(1)
    assert embed["title"] == f"¶1 — {paragraph.section}"
    assert embed["description"] == paragraph.text.replace("_", r"\_").replace("*", r"\*")


async def test_source_out_of_range_is_refused_plainly(harness: Harness) -> None:
    """Discord enforces the option's 1..23 (see the synced payload); were 24 to arrive anyway, say so plainly."""
    call = await harness.interact(slash("source", paragraph=24))
    assert call.ephemeral
    assert call.content == "The story has paragraphs 1 to 23; there is no paragraph 24."


async def test_help_lists_commands_with_examples(harness: Harness) -> None:
    call = await harness.interact(slash("help"))
    assert call.ephemeral
    description = call.embeds[0]["description"]
    for command in ("/ask", "/who", "/what", "/when", "/source"):
        assert command in description
    assert f"<#{next(iter(harness.bot.settings.answer_channels))}>" in description
    assert harness.bot.engine.kb.qa[0].question in description


async def test_abstention_without_suggestions_is_just_the_words(harness: Harness) -> None:
    class NoSuggestions(Engine):
        def ask(self, text: str, conversation: Conversation | None = None):
            return dataclasses.replace(super().ask(text, conversation), suggestions=())

    harness.bot.engine = NoSuggestions(harness.bot.engine.kb)
    call = await harness.interact(slash("ask", question=ABSTAINS))
    assert call.content == DOESNT_SAY
    assert not call.buttons and not call.embeds


async def test_a_failed_check_is_explained_not_apologised_for(harness: Harness, caplog) -> None:
    @app_commands.command(name="guarded", description="a command nobody may use")
    @app_commands.check(lambda interaction: False)
    async def guarded(interaction: discord.Interaction) -> None:
        raise AssertionError("the check should have stopped this")

    harness.bot.tree.add_command(guarded)
    with caplog.at_level(logging.ERROR):
        call = await harness.interact(slash("guarded"))
    assert call.ephemeral and call.content == "You can't use this command here."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_error_a_cog_already_explained_is_not_apologised_for(harness: Harness) -> None:
    @app_commands.command(name="explains", description="answers, then fails")
    async def explains(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("It went wrong, and here is why.", ephemeral=True)
        interaction.extras["error_handled"] = True
        raise RuntimeError("already explained")

    harness.bot.tree.add_command(explains)
    before = len(harness.fake.sent())
    await harness.interact(slash("explains"))
    assert [c.content for c in harness.fake.sent()[before:]] == ["It went wrong, and here is why."]


async def test_a_failing_command_apologises_and_logs_the_traceback(harness: Harness, caplog) -> None:
    harness.bot.engine = BrokenEngine(harness.bot.engine.kb)
    with caplog.at_level(logging.ERROR):
        call = await harness.interact(slash("when"))
    assert call.ephemeral and call.json["data"]["flags"] & EPHEMERAL
    assert call.content.startswith("Sorry, something went wrong")
    record = next(r for r in caplog.records if "/when failed" in r.getMessage())
    assert record.exc_info is not None and "boom in the timeline" in str(record.exc_info[1].__cause__ or
                                                                         record.exc_info[1])
    # …and the bot keeps answering.
    harness.bot.engine = Engine(harness.bot.engine.kb)
    assert (await harness.interact(slash("when"))).embeds


async def test_lookups_are_counted_as_questions_answered_or_declined(harness: Harness) -> None:
    def count(outcome: str) -> float:
        sample = harness.bot.health.registry.get_sample_value("story_bot_questions_total",
                                                              {"face": "slash", "outcome": outcome})
        return sample or 0.0

    for payload in (slash("who", name="jivani"), slash("what", term="tariff"), slash("when"),
                    slash("source", paragraph=1)):
        await harness.interact(payload)
    await harness.interact(slash("who", name="Justin Bieber"))
    await harness.interact(autocomplete("who", "name", "jiv"))  # typing is not a question
    assert (count("answered"), count("declined")) == (4.0, 1.0)

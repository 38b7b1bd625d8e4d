"""/kb through the real CommandTree: payloads as Discord sends them, replies as Discord would receive them."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord.bot import WATCHER_TASK
from bot.discord.cogs.kb import REFUSAL, code_block
from bot.discord.respond import LAG_PROBE_TASK
from bot.knowledge.editor import DISCORD_FILE
from tests.discord.conftest import (
    ANSWER_CHANNEL,
    GUILD_ID,
    MODERATOR,
    READER_ID,
    TOKEN,
    WORLD,
    Call,
    Harness,
    _interaction,
    assert_within_limits,
    autocomplete,
    button_press,
    slash,
)
from tests.standin import Person
from tests.standin.actors import modal_data
from tests.standin.world import ADMINISTRATOR, EVERYONE_PERMISSIONS, MANAGE_GUILD
from tests.test_store_reconcile import Backend, crash

KNOWLEDGE = Path(__file__).resolve().parent.parent / "fixtures" / "knowledge"
MOD_ROLE = WORLD.moderator_role
LOG_CHANNEL = WORLD.mod_log
MODERATOR_ID = MODERATOR.id

BAD = {"question": "What did Jivani eat in Washington?", "phrasings": "jivani lunch", "answer": "Pizza.",
       "paragraph": "2", "quote": "he ate a pizza"}
GOOD = {"question": "Which vice-president shared Jivani's university room?",
        "phrasings": "who did jivani bunk with at school",
        "answer": "JD Vance, his close friend and former university roommate.", "paragraph": "¶2",
        "quote": "former university roommate of U.S. Vice-President JD Vance"}
FORM_FIELDS = ("question", "phrasings", "answer", "paragraph", "quote")  # the order of the form's inputs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The conftest's settings, with a knowledge copy the tests may edit, a moderator role and a log channel."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    return Settings(token=TOKEN, answer_channels=frozenset({ANSWER_CHANNEL}), dev_guild_id=GUILD_ID,
                    knowledge_dir=knowledge, database_path=tmp_path / "data" / "bot.sqlite3",
                    moderator_role_id=MOD_ROLE, mod_log_channel_id=LOG_CHANNEL, hash_salt="test")


@pytest.fixture
def h(harness: Harness) -> Harness:
    """The harness; the world's guild has the moderator role and the log channel the settings name."""
    return harness


def stored(h: Harness) -> list[dict[str, Any]]:
    """The messages the bot made, oldest first: what a later button press on one of them carries."""
    return h.fake.bot_messages()


# --- payloads ----------------------------------------------------------------------------


def as_who(payload: dict[str, Any], who: str) -> dict[str, Any]:
    """reader: no rights; manager: Manage Server; admin: Administrator; role: the moderator role only."""
    if who == "reader":
        return payload
    m = payload["member"]
    m["user"] = Person(MODERATOR_ID, who).user()
    payload["user"] = m["user"]
    if who == "manager":
        m["permissions"] = str(EVERYONE_PERMISSIONS | MANAGE_GUILD)
    elif who == "admin":
        m["permissions"] = str(EVERYONE_PERMISSIONS | ADMINISTRATOR)
    elif who == "role":
        m["roles"] = [str(MOD_ROLE)]
    return payload


def kb(sub: str, who: str = "manager", **options: Any) -> dict[str, Any]:
    return as_who(slash(f"kb {sub}", **options), who)


def kb_autocomplete(sub: str, current: str, who: str = "manager") -> dict[str, Any]:
    return as_who(autocomplete(f"kb {sub}", "id", current), who)


def submit(modal: dict[str, Any], values: dict[str, str], who: str = "manager") -> dict[str, Any]:
    """The MODAL_SUBMIT for `modal` (the form the bot sent) filled with `values`, every input named."""
    inputs = [row["components"][0] for row in modal["components"]]
    named = {i["custom_id"]: values.get(name, "") for name, i in zip(FORM_FIELDS, inputs, strict=True)}
    return as_who(_interaction(5, modal_data(modal, named)), who)


# --- delivery ------------------------------------------------------------------------


async def quiet(timeout: float = 10.0) -> None:
    """conftest.settle, except for what lives on purpose: a form's or view's timeout, the knowledge watcher, the
    loop lag probe."""
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def busy(t: asyncio.Task) -> bool:
        lives = (t.get_name().startswith((WATCHER_TASK, LAG_PROBE_TASK))
                 or "timeout_task_impl" in t.get_coro().__qualname__)
        return t is not me and not t.done() and not lives

    while pending := [t for t in asyncio.all_tasks() if busy(t)]:
        assert loop.time() < deadline, f"tasks still running: {[t.get_name() for t in pending]}"
        await asyncio.wait(pending, timeout=deadline - loop.time())


async def interact(h: Harness, payload: dict[str, Any]) -> Call:
    before = len(h.fake.sent())
    h.fake.deliver(h.bot, "INTERACTION_CREATE", payload)
    await quiet()
    sent = h.fake.sent()
    assert len(sent) > before, "the bot did not answer the interaction"
    for call in sent[before:]:
        assert call.json.get("allowed_mentions", {"parse": []}) in ({"parse": []}, None) or call.path.endswith(
            "/callback")
    return sent[-1]


async def open_form(h: Harness, payload: dict[str, Any]) -> dict[str, Any]:
    call = await interact(h, payload)
    assert call.path.endswith("/callback") and call.json["type"] == 9, call.json  # MODAL
    return call.json["data"]


def knowledge_files(settings: Settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(settings.knowledge_dir.iterdir()) if not p.name.startswith(".")}


def reply_text(call: Call) -> str:
    return (call.content or "") + "".join(e.get("description", "") + "".join(f["value"] for f in e.get("fields", []))
                                          for e in call.embeds)


# --- who may ----------------------------------------------------------------------------


async def test_a_non_moderator_is_refused_every_kb_command_and_nothing_changes(h: Harness, settings: Settings):
    before = knowledge_files(settings)
    engine = h.bot.engine
    commands = [("reload", {}), ("add", {}), ("add", {"question": "Who?"}), ("remove", {"id": "trump-message"}),
                ("show", {"id": "trump-message"}), ("gaps", {}), ("stats", {})]
    for sub, options in commands:
        call = await interact(h, kb(sub, "reader", **options))
        assert call.content == REFUSAL and call.ephemeral, (sub, call.json)
        assert call.path.endswith("/callback") and call.json["type"] == 4  # a message, not a form
    assert knowledge_files(settings) == before
    assert h.bot.engine is engine
    assert h.bot.store.edits() == []
    # The id list is not shown to them either (autocomplete runs no checks of its own).
    call = await interact(h, kb_autocomplete("show", "trump", who="reader"))
    assert call.json == {"type": 8, "data": {"choices": []}}


async def test_a_non_moderator_cannot_submit_a_form_opened_by_a_moderator(h: Harness, settings: Settings):
    before = knowledge_files(settings)
    form = await open_form(h, kb("add"))
    call = await interact(h, submit(form, GOOD, who="reader"))
    assert call.content == REFUSAL and call.ephemeral
    assert knowledge_files(settings) == before


@pytest.mark.parametrize("who", ["manager", "admin", "role"])
async def test_moderators_may(h: Harness, who: str):
    call = await interact(h, kb("stats", who))
    assert call.ephemeral and "Questions: 0" in call.content


def test_the_group_is_hidden_from_non_moderators_by_default(h: Harness):
    group = h.bot.tree.get_command("kb", guild=None)
    assert group is not None
    assert group.default_permissions.manage_guild and group.guild_only
    payload = group.to_dict(h.bot.tree)
    assert int(payload["default_member_permissions"]) == MANAGE_GUILD


# --- reload ------------------------------------------------------------------------------


async def test_reload_replies_with_what_loaded(h: Harness):
    call = await interact(h, kb("reload"))
    assert call.ephemeral and call.content.startswith("Reloaded: 2 Q&A entries")
    assert "paragraphs cited" in call.content
    (edit,) = h.bot.store.edits()
    assert (edit.action, edit.moderator_id) == ("reload", MODERATOR_ID)


async def test_a_broken_file_keeps_the_old_knowledge_and_the_reload_shows_path_and_line(h: Harness, settings: Settings):
    engine = h.bot.engine
    qa = settings.knowledge_dir / "qa.yaml"
    qa.write_text(qa.read_text(encoding="utf-8").replace("Productive meetings today", "Unproductive meetings"),
                  encoding="utf-8")
    call = await interact(h, kb("reload"))
    assert "reload refused" in call.content and "still answering from the last good knowledge" in call.content
    line = next(i for i, text in enumerate(qa.read_text().splitlines(), 1) if "Unproductive" in text)
    assert f"qa.yaml:{line}: quote is not in paragraph 3" in call.content
    assert h.bot.engine is engine
    assert_within_limits(call)


async def test_the_watcher_reloads_live_and_posts_failures_to_the_log_channel(h: Harness, settings: Settings):
    await asyncio.sleep(0.5)  # the watcher registers with the OS
    assert h.bot._watchers and not any(w.done() for w in h.bot._watchers)
    qa = settings.knowledge_dir / "qa.yaml"
    qa.write_text(qa.read_text(encoding="utf-8").replace("Who did Jivani meet in Washington?",
                                                          "Whom did Jivani meet in Washington?"), encoding="utf-8")
    for _ in range(100):
        if h.bot.engine.kb.entry("who-jivani-met").question.startswith("Whom"):
            break
        await asyncio.sleep(0.05)
    assert h.bot.engine.kb.entry("who-jivani-met").question.startswith("Whom")

    good = h.bot.engine
    qa.write_text(qa.read_text(encoding="utf-8") + "- id: Broken Id\n", encoding="utf-8")
    posts: list[Call] = []
    for _ in range(100):
        posts = [c for c in h.fake.calls if c.path == f"/channels/{LOG_CHANNEL}/messages"]
        if posts:
            break
        await asyncio.sleep(0.05)
    assert posts, "nothing was posted to the log channel"
    assert "qa.yaml:" in posts[0].content and "still answering from the last good knowledge" in posts[0].content
    assert posts[0].json["allowed_mentions"] == {"parse": []}
    assert h.bot.engine is good


# --- add, show, remove ---------------------------------------------------------------------


async def test_add_with_a_bad_quote_is_refused_with_the_reason_and_the_text_kept(h: Harness, settings: Settings):
    before = knowledge_files(settings)
    form = await open_form(h, kb("add"))
    call = await interact(h, submit(form, BAD))
    assert call.ephemeral
    assert "Not added" in call.content and "quote is not in paragraph 2: 'he ate a pizza'" in call.content
    assert f"{DISCORD_FILE}:" in call.content  # path:line, as `check` prints it
    kept = call.embeds[0]["description"]
    for value in BAD.values():
        assert value in kept
    assert knowledge_files(settings) == before
    # "Edit and try again" reopens the form with everything typed.
    (retry,) = call.buttons
    form = await open_form(h, button_press(stored(h)[-1], retry["custom_id"], user=MODERATOR) | {
        "member": as_who(slash("kb"), "manager")["member"]})
    values = [row["components"][0].get("value") for row in form["components"]]
    assert values == [BAD[name] for name in FORM_FIELDS]


async def test_add_with_a_paragraph_that_is_not_a_number_is_refused(h: Harness):
    form = await open_form(h, kb("add"))
    call = await interact(h, submit(form, GOOD | {"paragraph": "the second"}))
    assert "the paragraph must be a number" in call.content


async def test_a_good_entry_is_written_and_answers_the_next_question(h: Harness, settings: Settings):
    question = "who did jivani bunk with at school"
    assert not h.bot.engine.ask(question).answered
    form = await open_form(h, kb("add", question=GOOD["question"]))
    assert form["components"][0]["components"][0]["value"] == GOOD["question"]  # prefilled
    call = await interact(h, submit(form, GOOD))
    assert call.ephemeral and call.content.startswith("Added `which-vice-president-shared-jivanis")
    assert "Reloaded: 3 Q&A entries" in call.content
    answer = h.bot.engine.ask(question)
    assert answer.answered and answer.source.startswith("qa:which-vice-president")
    assert "JD Vance" in (settings.knowledge_dir / DISCORD_FILE).read_text(encoding="utf-8")
    (edit,) = h.bot.store.edits()
    assert (edit.action, edit.moderator_id) == ("add", MODERATOR_ID) and GOOD["question"] in edit.detail


async def test_show_and_remove_with_autocomplete(h: Harness, settings: Settings):
    call = await interact(h, kb_autocomplete("show", "trump"))
    choices = call.json["data"]["choices"]
    assert choices[0]["value"] == "trump-message"
    assert len(choices) <= 25 and all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)

    call = await interact(h, kb("show", id="trump-message"))
    (embed,) = call.embeds
    assert embed["title"].startswith("What message did Trump ask Jivani")
    assert embed["footer"]["text"].startswith("trump-message · ") and "qa.yaml:" in embed["footer"]["text"]
    assert any("Tell the Canadians I love them" in f["value"] for f in embed["fields"])

    call = await interact(h, kb("show", id="not-an-entry"))
    assert "no Q&A entry with id `not-an-entry`" in call.content

    call = await interact(h, kb("remove", id="trump-message"))
    assert call.content.startswith("Removed `trump-message`") and "Reloaded: 1 Q&A entries" in call.content
    assert h.bot.engine.kb.entry("trump-message") is None
    assert "A comment that must survive" in (settings.knowledge_dir / "qa.yaml").read_text(encoding="utf-8")
    (edit,) = h.bot.store.edits()
    assert (edit.action, edit.entry_id, edit.moderator_id) == ("remove", "trump-message", MODERATOR_ID)
    assert "Tell the Canadians I love them" in edit.detail  # enough to write it again

    call = await interact(h, kb("remove", id="trump-message"))
    assert "Not removed" in call.content and "no Q&A entry with id 'trump-message'" in call.content


# --- what readers missed -------------------------------------------------------------------


async def test_gaps_group_unanswered_and_thumbs_down_with_buttons_to_fix(h: Harness, settings: Settings):
    store = h.bot.store
    for question in ["Which senators did Jivani meet?", "which senators did jivani meet with",
                     "Which senators did Jivani meet??", "What is Jivani's age?"]:
        store.record_question(question=question, answered=False, source=None, confidence=0.1,
                              guild_id=GUILD_ID, channel_id=ANSWER_CHANNEL, user_id=READER_ID)
    qid = store.record_question(question="Who did Jivani meet?", answered=True, source="qa:who-jivani-met",
                                confidence=0.8, guild_id=GUILD_ID, channel_id=ANSWER_CHANNEL, user_id=READER_ID)
    store.record_feedback(qid, helpful=False, user_id=READER_ID)

    before = len(h.fake.sent())
    call = await interact(h, kb("gaps"))
    assert h.fake.sent()[before].json["type"] == 5  # deferred first: the work may take a while
    assert call.ephemeral
    lines = call.content.splitlines()
    assert "senators did Jivani meet" in lines[1].replace("\\", "") and "— 3 (3 unanswered)" in lines[1]
    assert "closest entry: who-jivani-met" in lines[1].replace("\\", "")
    assert any("Who did Jivani meet" in line and "1 unhelpful (qa:who-jivani-met)" in line for line in lines)
    labels = [b["label"] for b in call.buttons]
    # The 👎'd answer is never offered as the entry to join; a new answer always is.
    assert labels == ["1. Add as a phrasing of «who-jivani-met»", "1. New answer", "2. New answer", "3. New answer"]
    rows = [[c["label"] for c in row["components"]] for row in call.body["components"]]
    assert rows[0] == labels[:2]

    form = await open_form(h, as_who(button_press(stored(h)[-1], call.buttons[1]["custom_id"]), "manager"))
    question, phrasings = (row["components"][0].get("value") for row in form["components"][:2])
    assert "Jivani" in question and "senators" in question and phrasings

    call = await interact(h, as_who(button_press(stored(h)[-1], call.buttons[0]["custom_id"]), "reader"))
    assert call.content == REFUSAL
    assert "senators did Jivani" not in (settings.knowledge_dir / "qa.yaml").read_text(encoding="utf-8")


async def test_stats_show_totals(h: Harness):
    store = h.bot.store
    for i, answered in enumerate([True, True, False]):
        source = "qa:trump-message" if answered else None
        qid = store.record_question(question=f"q{i}", answered=answered, source=source, confidence=0.9,
                                    guild_id=GUILD_ID, channel_id=ANSWER_CHANNEL, user_id=READER_ID)
        store.record_feedback(qid, helpful=i == 0, user_id=READER_ID)
    call = await interact(h, kb("stats"))
    text = call.content.replace("\\", "")
    assert "Questions: 3" in text and "Answered: 2 (67%)" in text and "helpful: 1 (33%)" in text
    assert "Top entries: qa:trump-message (2)" in text and "Knowledge: 2 Q&A entries" in text
    assert "Gaps closed this week: 0" in text


async def test_the_bot_not_the_cog_owns_the_store_and_the_watcher(h: Harness, settings: Settings):
    store = h.bot.store
    assert store is not None and settings.database_path.exists()
    await h.bot.remove_cog("KnowledgeAdmin")  # a cog that fails or goes switches neither off
    assert h.bot.store is store
    assert any(t.get_name().startswith(WATCHER_TASK) and not t.done() for t in asyncio.all_tasks())
    store.record_question(question="still recorded?", answered=False, source=None, confidence=0.0, guild_id=GUILD_ID,
                          channel_id=ANSWER_CHANNEL, user_id=READER_ID)
    await h.bot.close()  # flushes the queue, then closes
    assert h.bot.store is None
    assert not any(t.get_name().startswith(WATCHER_TASK) and not t.done() for t in asyncio.all_tasks())
    from bot.store import SQLiteStore

    reopened = SQLiteStore(settings.database_path, salt="test")
    assert reopened.stats().questions == 1
    reopened.close()


# --- gaps into answers, history, restore -------------------------------------------------------

MISSED = "did trump write to canadians"


def record_misses(h: Harness, *questions: str) -> None:
    for question in questions:
        h.bot.store.record_question(question=question, answered=False, source=None, confidence=0.1,
                                    guild_id=GUILD_ID, channel_id=ANSWER_CHANNEL, user_id=READER_ID)


async def test_a_gap_becomes_a_phrasing_of_the_closest_entry_with_one_click(h: Harness, settings: Settings):
    record_misses(h, MISSED, MISSED, "did trump write to canadian?", "How old is Trump?")
    assert not h.bot.engine.ask(MISSED).answered
    call = await interact(h, kb("gaps"))
    assert call.buttons[0]["label"] == "1. Add as a phrasing of «trump-message»"
    assert_within_limits(call)

    call = await interact(h, as_who(button_press(stored(h)[-1], call.buttons[0]["custom_id"]), "manager"))
    assert call.content.startswith(f"Added “{MISSED}” as a phrasing of `trump-message`"), call.content
    assert "2 of 2 wordings of this gap are answered now" in call.content and "Reloaded:" in call.content
    answer = h.bot.engine.ask(MISSED)
    assert answer.answered and answer.source == "qa:trump-message" and answer.citations[0].paragraph == 1
    assert f"    - {MISSED}\n" in (settings.knowledge_dir / "qa.yaml").read_text(encoding="utf-8")
    (edit,) = h.bot.store.edits()
    assert (edit.action, edit.entry_id, edit.moderator_id) == ("phrasing", "trump-message", MODERATOR_ID)
    assert MISSED not in edit.before and MISSED in edit.after

    call = await interact(h, kb("gaps"))
    assert MISSED not in call.content and "How old is Trump" in call.content
    call = await interact(h, kb("stats"))
    assert "Gaps closed this week: 2 " in call.content


async def test_gaps_the_knowledge_answers_now_are_not_listed(h: Harness):
    record_misses(h, "trump message to canadians")  # missed once; the fixture knowledge answers it now
    call = await interact(h, kb("gaps"))
    assert call.content.startswith("No gaps") and not call.buttons


async def test_the_heavy_work_runs_in_the_cogs_own_thread(h: Harness, monkeypatch: pytest.MonkeyPatch):
    threads: list[str] = []
    real = h.bot.engine.ask
    monkeypatch.setattr(h.bot.engine, "ask", lambda text, *a: threads.append(threading.current_thread().name)
                        or real(text, *a))
    record_misses(h, "How old is Trump?")
    await interact(h, kb("gaps"))
    assert threads and all(name.startswith("kb-heavy") for name in threads)


async def test_history_shows_who_when_before_and_after_and_restore_puts_a_removed_entry_back(
    h: Harness, settings: Settings
):
    call = await interact(h, kb("history", id="trump-message"))
    assert "no edits of `trump-message`" in call.content

    await interact(h, kb("remove", id="trump-message"))
    assert h.bot.engine.kb.entry("trump-message") is None
    call = await interact(h, kb_autocomplete("restore", "trump"))
    assert [c["value"] for c in call.json["data"]["choices"]] == ["trump-message"]

    call = await interact(h, kb("restore", id="trump-message"))
    assert call.content.startswith("Restored `trump-message`") and "Reloaded: 2 Q&A entries" in call.content
    restored = h.bot.engine.kb.entry("trump-message")
    assert restored is not None and restored.phrasings == ("trump message to canadians",
                                                           "Tell the Canadians I love them")
    assert h.bot.engine.ask("trump message to canadians").source == "qa:trump-message"
    call = await interact(h, kb_autocomplete("restore", ""))
    assert call.json["data"]["choices"] == []  # restored: nothing left to restore

    call = await interact(h, kb("history", id="trump-message"))
    (embed,) = call.embeds
    names = [f["name"] for f in embed["fields"]]
    assert [n.split(" · ")[1] for n in names] == ["restore", "remove"]
    assert all(f"moderator {MODERATOR_ID}" in n for n in names)
    remove = embed["fields"][1]["value"]
    assert "before:" in remove and "Tell the Canadians I love them" in remove
    assert_within_limits(call)

    call = await interact(h, kb("restore", id="trump-message"))
    assert "Not restored" in call.content and "exists already" in call.content
    call = await interact(h, kb("restore", id="never-was"))
    assert "holds no removal of `never-was`" in call.content


async def test_history_says_which_edits_are_pending_or_did_not_land(h: Harness, settings: Settings):
    database = Backend("sqlite", str(settings.database_path))
    crash(database, settings.knowledge_dir, "phrasing", "before")  # another process died before writing the file
    call = await interact(h, kb("history", id="trump-message"))
    (field,) = call.embeds[0]["fields"]
    assert " · phrasing · pending · " in field["name"]
    database.age()
    assert await asyncio.to_thread(h.bot.store.reconcile) == 1
    call = await interact(h, kb("history", id="trump-message"))
    (field,) = call.embeds[0]["fields"]
    assert " · phrasing · failed · " in field["name"]


async def test_a_long_history_is_cut_to_discords_limits(h: Harness):
    long = "x" * 3000 + "\n````\n" + "y" * 3000
    for i in range(8):
        h.bot.store.record_edit(action="phrasing", entry_id="trump-message", moderator_id=i, detail=long,
                                before=long, after=long)
    call = await interact(h, kb("history", id="trump-message"))
    assert_within_limits(call)
    (embed,) = call.embeds
    assert len(embed["fields"]) == 5 and embed["footer"]["text"] == "the latest 5 edits"
    for f in embed["fields"]:
        assert f["value"].count("```") == 2  # the reader's four backticks did not close the block


@pytest.mark.parametrize("text", ["````", "a```b", "``` ```", "`" * 9, "\\```"])
def test_nothing_inside_a_code_block_can_close_it(text: str):
    block = code_block([text, "after"], 200)
    assert block.startswith("```\n") and block.endswith("\n```")
    assert block.count("``") == 2  # only the fences hold two backticks in a row
    assert block.replace("\u200b", "")[4:-4] == f"{text}\nafter"


async def test_autocomplete_finds_ids_by_prefix_and_questions_by_words(h: Harness):
    for typed, first in [("who-", "who-jivani-met"), ("washington meet", "who-jivani-met"),
                         ("canadians", "trump-message"), ("trmup", "trump-message")]:
        call = await interact(h, kb_autocomplete("show", typed))
        assert call.json["data"]["choices"][0]["value"] == first, typed


async def test_after_a_reload_autocomplete_answers_at_once_and_then_from_the_new_index(h: Harness):
    first = await interact(h, kb_autocomplete("show", "trump"))
    assert "trump-message" in [c["value"] for c in first.json["data"]["choices"]]
    await interact(h, kb("remove", id="trump-message"))
    stale = await interact(h, kb_autocomplete("show", "trump"))  # answered by the last index, not waited for
    assert "trump-message" in [c["value"] for c in stale.json["data"]["choices"]]
    fresh = await interact(h, kb_autocomplete("show", "trump"))  # the new index was built meanwhile
    assert "trump-message" not in [c["value"] for c in fresh.json["data"]["choices"]]


async def test_readers_are_answered_while_moderators_gaps_work_fills_its_thread(
    h: Harness, monkeypatch: pytest.MonkeyPatch
):
    gate = threading.Event()
    cog = h.bot.get_cog("KnowledgeAdmin")
    module = sys.modules[type(cog).__module__]  # the extension's own module, where the command looks it up
    real = module.find_gaps
    monkeypatch.setattr(module, "find_gaps", lambda *args: (gate.wait(10), real(*args))[1])
    record_misses(h, "How old is Trump?")
    for _ in range(6):  # six moderators' /kb gaps at once, all stuck
        h.fake.deliver(h.bot, "INTERACTION_CREATE", kb("gaps"))
    before = len(h.fake.sent())
    h.fake.deliver(h.bot, "INTERACTION_CREATE", slash("ask", question="Who did Jivani meet in Washington?"))
    try:
        answered: list[Call] = []
        for _ in range(100):
            answered = [c for c in h.fake.sent()[before:] if "White House" in reply_text(c)]
            if answered:
                break
            await asyncio.sleep(0.05)
        assert answered, "the reader's answer waited for the moderators' work"
    finally:
        gate.set()
    await quiet()
    assert len([c for c in h.fake.sent() if "How old is Trump" in (c.content or "")]) == 6


# A reader's question wrapped in an OSC-8 terminal link, with a user mention and @everyone.
HOSTILE_GAP = "\x1b]8;;https://x.test\x1b\\did trump write to canadians?\x1b]8;;\x1b\\ <@123456789012345678> @everyone"


def neutral(content: str) -> bool:
    """No live mention, terminal escape or control character in what the bot echoes."""
    return "\x1b" not in content and "<@1" not in content and "@everyone" not in content and \
        all(c == "\n" or c >= " " for c in content)


async def test_gaps_and_the_phrasing_reply_echo_readers_text_neutralised(h: Harness):
    record_misses(h, HOSTILE_GAP, HOSTILE_GAP)
    call = await interact(h, kb("gaps"))
    assert "did trump write to canadians?" in call.content and neutral(call.content), call.content
    assert "@\u200beveryone" in call.content  # shown, harmless
    call = await interact(h, as_who(button_press(stored(h)[-1], call.buttons[0]["custom_id"]), "manager"))
    assert call.content.startswith("Added “did trump write to canadians?") and neutral(call.content), call.content


async def test_with_the_database_down_a_new_entry_is_refused_in_plain_words(h: Harness):
    """The refusal was nested as "Not added:" inside the code block of another "Not added:"."""
    h.bot.store = None
    h.bot.store_problem = "connection refused"
    form = await open_form(h, kb("add"))
    call = await interact(h, submit(form, GOOD))
    assert call.content.startswith("Not added: the bot's database is unavailable right now"), call.content
    assert "```" not in call.content and call.content.count("Not added") == 1
    assert GOOD["question"] in call.embeds[0]["description"]  # the text typed is kept

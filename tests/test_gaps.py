"""Gaps: what readers missed, grouped, asked again of the current engine, and closed when answered."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Answer, Engine
from bot.gaps import closed_this_week, find_gaps, group, open_gaps, print_gaps, settled, terminal_safe
from bot.knowledge.loader import phrasing_key
from bot.store import SCHEMA_VERSION, MissedWording
from bot.store import SQLiteStore as Store
from tests.knowledge_dirs import FIXTURE

ANSWERED_NOW = "trump message to canadians"  # the fixture knowledge answers it (qa:trump-message)
USER = 412345678901234567



@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bot.sqlite3", salt="pepper")
    yield s
    s.close()


def miss(store: Store, question: str, *, answered: bool = False, source: str | None = None) -> int:
    return store.record_question(question=question, answered=answered, source=source, confidence=0.3,
                                 guild_id=1, channel_id=2, user_id=USER)


def wording(text: str, count: int = 1) -> MissedWording:
    return MissedWording(phrasing_key(text), text, count, 0, 0, (), (), "2026-01-01T00:00:00Z")


# --- grouping ----------------------------------------------------------------------------------


def test_similar_wordings_group_most_missed_first(store: Store):
    for q in ["Who is Jivani?", "who is jivani", "Who is Jamil Jivani", "who is jivani??"]:
        miss(store, q)
    for q in ["When is the CUSMA review?", "cusma review when"]:
        miss(store, q)
    miss(store, "How old is Trump?")
    miss(store, "What did Trump say?", answered=True, source="qa:trump-message")  # answered, no vote: no gap

    gaps = group(store.missed_wordings())
    assert [g.count for g in gaps] == [4, 2, 1]
    assert gaps[0].question.lower().startswith("who is jivani")
    assert "Who is Jamil Jivani" in gaps[0].phrasings
    assert {gaps[1].question, *gaps[1].phrasings} == {"When is the CUSMA review?", "cusma review when"}
    assert gaps[2].question == "How old is Trump?"


def test_a_misspelt_or_reordered_wording_joins_its_group_and_different_questions_do_not():
    gaps = group([wording("Why did Trump cancel the Washington invitation?", 3),
                  wording("why did trump cancle the washington invitation"),
                  wording("the washington invitation why did trump cancel"),
                  wording("Why did Rubio meet Jivani in Washington?"),
                  wording("When is the CUSMA review?")])
    assert [len(g.wordings) for g in gaps] == [3, 1, 1]


def test_blocking_finds_a_match_through_any_two_rare_words_not_only_the_rarest():
    # "jivanni" is the rarest word of the variant (a typo); the pair of the other rare words still meets.
    base = "did jivani meet marco rubio at the state department"
    gaps = group([wording(base, 2), wording(base.replace("jivani", "jivanni")),
                  *(wording(f"did rubio speak about topic {i}", 5) for i in range(30))])
    (found,) = [g for g in gaps if g.question == base]
    assert found.phrasings == (base.replace("jivani", "jivanni"),)


def test_thumbs_down_and_picks_join_the_queue(store: Store):
    qid = miss(store, "What did Trump say?", answered=True, source="qa:trump-message")
    store.record_feedback(qid, helpful=False, user_id=1)
    store.record_feedback(qid, helpful=False, user_id=2)
    store.record_feedback(qid, helpful=True, user_id=3)
    miss(store, "what did trump say")
    offered = miss(store, "What did Trump say??", answered=True, source="qa:trump-message")  # "did you mean…?"
    store.record_pick(offered, title="What was the source of Trump's message?", source="qa:trump-message-source",
                      user_id=USER)
    (gap,) = group(store.missed_wordings())
    assert (gap.unhelpful, gap.unanswered, gap.picked, gap.count) == (2, 1, 1, 4)
    assert gap.sources == ("qa:trump-message",)
    assert gap.wordings[0].chosen == ("qa:trump-message-source",)


# --- asking again ------------------------------------------------------------------------------


def test_what_the_engine_answers_now_is_dropped_and_closed(store: Store, engine: Engine):
    for q in [ANSWERED_NOW, ANSWERED_NOW, "How old is Trump?"]:
        miss(store, q)
    (gap,) = find_gaps(store, engine, 10)
    assert gap.question == "How old is Trump?"
    assert closed_this_week(store) == 1
    assert [w.text for w in store.missed_wordings()] == ["How old is Trump?"]  # closed: not read again


def test_a_thumbs_down_answer_still_given_is_not_closed(store: Store, engine: Engine):
    qid = miss(store, ANSWERED_NOW, answered=True, source="qa:trump-message")
    store.record_feedback(qid, helpful=False, user_id=1)
    (gap,) = find_gaps(store, engine, 10)
    assert gap.question == ANSWERED_NOW and gap.closest is None  # the 👎'd entry is not offered to join
    assert closed_this_week(store) == 0


def test_a_closed_wording_missed_again_later_reopens(store: Store, engine: Engine, tmp_path: Path):
    miss(store, "How old is Trump?")
    store.close_gaps([phrasing_key("How old is Trump?")], how="phrasing")
    assert store.missed_wordings() == []
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    with db:
        db.execute("UPDATE closed_gaps SET closed_at = '2020-01-01T00:00:00Z'")
    db.close()
    (again,) = store.missed_wordings()
    assert again.text == "How old is Trump?"
    assert closed_this_week(store) == 0  # closed in 2020


def test_closed_this_week_counts_the_last_seven_days(store: Store):
    store.close_gaps(["a", "b", "a"], how="reasked")
    assert closed_this_week(store) == 2
    assert closed_this_week(store, now=datetime.now(UTC) + timedelta(days=8)) == 0


def test_each_gap_names_the_closest_entry_and_a_pick_wins(engine: Engine):
    wordings = [wording("did trump write to canadians", 2)]
    picked = MissedWording("did trump really say that", "did trump really say that", 0, 0, 2, (),
                           ("qa:who-jivani-met",), "2026-01-01T00:00:00Z")
    gaps, closed = open_gaps(engine, [*wordings, picked], limit=5)
    assert closed == []
    closest = {g.question: g.closest for g in gaps}
    assert closest == {"did trump write to canadians": "trump-message",
                       "did trump really say that": "who-jivani-met"}


def test_only_the_shown_gaps_are_asked_again(engine: Engine, monkeypatch: pytest.MonkeyPatch):
    asked: list[str] = []
    real = engine.ask
    monkeypatch.setattr(engine, "ask", lambda text, *a: asked.append(text) or real(text, *a))
    topics = ["colour of the car", "price of tea", "height of vance", "age of trump", "weather in ottawa",
              "name of the dog", "size of the riding", "speed of the plane", "menu at lunch", "hotel of jivani"]
    wordings = [wording(f"what is the {topic}", 10 - i) for i, topic in enumerate(topics)]
    gaps, _ = open_gaps(engine, wordings, limit=2)
    assert len(gaps) == 2 and len(asked) == 2


# --- the store behind it ---------------------------------------------------------------------------


def test_a_version_1_database_is_migrated_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE questions (id INTEGER PRIMARY KEY, asked_at TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z',
            question TEXT NOT NULL, question_key TEXT NOT NULL, answered INTEGER NOT NULL, source TEXT,
            confidence REAL NOT NULL, guild_id INTEGER, channel_id INTEGER, user_hash TEXT);
        CREATE TABLE feedback (question_id INTEGER NOT NULL, user_hash TEXT NOT NULL, helpful INTEGER NOT NULL,
            at TEXT NOT NULL DEFAULT '', PRIMARY KEY (question_id, user_hash));
        CREATE TABLE edits (id INTEGER PRIMARY KEY, at TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z',
            action TEXT NOT NULL, entry_id TEXT NOT NULL, moderator_id INTEGER, detail TEXT NOT NULL);
        INSERT INTO questions (question, question_key, answered, confidence) VALUES ('Who?', 'who', 0, 0.1);
        INSERT INTO edits (action, entry_id, moderator_id, detail) VALUES ('remove', 'x', 7, 'x | y');
        PRAGMA user_version = 1;
    """)
    db.close()
    store = Store(path, salt="s")
    assert [w.text for w in store.missed_wordings()] == ["Who?"]
    (edit,) = store.entry_edits("x")
    assert (edit.action, edit.detail, edit.before, edit.after) == ("remove", "x | y", None, None)
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


# --- python -m bot gaps ----------------------------------------------------------------------------


def test_print_gaps_shows_totals_and_open_gaps_only(tmp_path: Path, engine: Engine):
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s")
    for q in ["What is Jivani's height?", "whats jivanis height", "How old is Trump?", ANSWERED_NOW]:
        miss(s, q)
    # 👎 on the answer the engine still gives (article:1, since the engine rewrite): it stays a gap
    qid = miss(s, "What did Trump say?", answered=True, source="article:1")
    s.record_feedback(qid, helpful=False, user_id=1)
    s.close()
    out = io.StringIO()
    assert print_gaps(Settings(database_path=path, hash_salt="s"), out, engine) == 0
    text = out.getvalue()
    assert "Questions: 5" in text and "Answered: 1 (20%)" in text and "helpful: 0 (0%)" in text
    assert "1. What is Jivani's height? — 2 (2 unanswered); also asked as: whats jivanis height" in text
    assert "What did Trump say? — 1 (1 unhelpful (article:1))" in text
    assert ANSWERED_NOW not in text
    assert "Gaps closed this week: 1" in text


def printed_without_knowledge(tmp_path: Path, missed: str) -> str:
    """`python -m bot gaps` over a database holding one missed question, with no knowledge to ask it again."""
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s")
    miss(s, missed)
    s.close()
    out = io.StringIO()
    print_gaps(Settings(database_path=path, hash_salt="s"), out, None)
    return out.getvalue()


def test_print_gaps_without_knowledge_lists_everything_and_says_so(tmp_path: Path):
    text = printed_without_knowledge(tmp_path, ANSWERED_NOW)
    assert ANSWERED_NOW in text and "were not asked again" in text


def test_print_gaps_without_a_database_says_so_and_creates_nothing(tmp_path: Path):
    out = io.StringIO()
    path = tmp_path / "none" / "bot.sqlite3"
    assert print_gaps(Settings(database_path=path), out) == 0
    assert "No questions recorded yet" in out.getvalue() and not path.parent.exists()


HOSTILE = ("who is \x1b[2J\x1b[31mjivani\x1b[0m \x1b]0;pwned\x07 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"
           " \x9b31m \x07\x08\r \u202eevil\u202c ok\u200d?")


def test_terminal_safe_strips_escape_sequences_and_control_characters():
    safe = terminal_safe(HOSTILE + "\nsecond line")
    assert safe == "who is jivani  link   evil ok\u200d?\nsecond line"
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in safe)


def test_print_gaps_prints_no_escape_from_a_readers_question(tmp_path: Path):
    text = printed_without_knowledge(tmp_path, HOSTILE)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "who is jivani" in text


def test_the_gaps_command_asks_again_with_the_configured_knowledge_and_prints_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from bot.cli import main

    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s")
    for q in [HOSTILE, ANSWERED_NOW]:
        miss(s, q)
    s.close()
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(FIXTURE))
    monkeypatch.setenv("STATS_SALT", "s")
    assert main(["gaps"]) == 0
    out = capsys.readouterr().out
    assert "who is jivani" in out and ANSWERED_NOW not in out and "\x1b" not in out


class _Replies:
    """An engine that gives set replies: the engine's own rules for intents are tested with the engine."""

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers

    def ask(self, text: str, conversation: object = None) -> Answer:
        return self.answers[text]


def test_a_wording_the_engine_takes_for_no_story_question_is_closed_and_alternatives_are_not():
    engine = _Replies(hi=Answer("hi", False, "Hello!", 0.0, intent="greeting"),
                      ambiguous=Answer("ambiguous", True, "x", 0.7, source="qa:a", alternatives=("A?", "B?")))
    assert settled(engine, wording("hi"))  # type: ignore[arg-type]
    assert not settled(engine, wording("ambiguous"))  # type: ignore[arg-type]


def test_print_gaps_lists_one_storys_gaps(tmp_path: Path):
    """`python -m bot gaps --story SLUG`: that story's totals and gaps, none of another's."""
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s")
    for story, question in (("main", "What is Jivani's height?"), ("harbour", "How many trees come down?")):
        s.record_question(question=question, answered=False, source=None, confidence=0.1, guild_id=1, channel_id=2,
                          user_id=3, story=story)
    s.close()
    out = io.StringIO()
    print_gaps(Settings(database_path=path, hash_salt="s"), out, None, story="harbour")
    assert "Questions: 1" in out.getvalue() and "trees" in out.getvalue() and "height" not in out.getvalue()

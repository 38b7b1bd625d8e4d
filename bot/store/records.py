"""Readers' records: the questions asked, 👍/👎 votes, "did you mean" picks, the gaps they leave and their totals,
and which story each place answers about.

A part of the Store (bot/store/base.py), which supplies the connection (`_use`, `_read`, `_exec`), the write
queue and the readers' hashing. Questions and votes are queued (answer first: they never block or fail a
reader's answer); reads wait briefly for the queue, so a moderator sees what was just asked. The id handed to
the 👍/👎 buttons is made here (a random 63-bit `ref`), not by the database, so it is known before the row is.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.knowledge.loader import phrasing_key
from bot.knowledge.packs import MAIN_STORY
from bot.store.common import stamp, utc_now
from bot.store.queue import Write

MAX_QUESTION = 1000  # characters of a question kept; Discord allows more, nobody asks that much
GAP_WINDOW = 20_000  # most recently missed distinct wordings considered by missed_wordings()
MISS_ROWS = 50_000  # …found among this many latest misses of each kind, so the read stays short at 2 M rows
_REF_FLOOR = 1 << 40  # refs are above every autoincrement id a database of the old schema handed out


@dataclass(frozen=True, slots=True)
class MissedWording:
    """Every miss of one wording (questions equal under phrasing_key) since it was last closed."""

    key: str
    text: str  # the wording as last asked
    unanswered: int  # times the bot abstained
    unhelpful: int  # 👎 votes on answers it gave
    picked: int  # "did you mean" picks: the reader had to choose
    sources: tuple[str, ...]  # answers that got 👎 for it
    chosen: tuple[str, ...]  # answers readers picked for it
    last_asked: str

    @property
    def count(self) -> int:
        return self.unanswered + self.unhelpful + self.picked


@dataclass(frozen=True, slots=True)
class Stats:
    questions: int
    answered: int
    votes: int
    helpful: int
    top_entries: tuple[tuple[str, int], ...]  # (source, times it answered), most used first

    @property
    def answered_share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    @property
    def helpful_share(self) -> float:
        return self.helpful / self.votes if self.votes else 0.0


class Records:
    """The readers' side of the Store."""

    def record_question(
        self,
        *,
        question: str,
        answered: bool,
        source: str | None,
        confidence: float,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int | None,
        story: str = MAIN_STORY,
    ) -> int:
        """Queue one question about `story` and how it went; returns its id for the 👍/👎 buttons at once."""
        text = question.strip()[:MAX_QUESTION]
        ref = _REF_FLOOR + secrets.randbelow((1 << 63) - _REF_FLOOR)
        row = (ref, stamp(utc_now()), text, phrasing_key(text), int(answered), source, float(confidence), guild_id,
               channel_id, self._hash(user_id), story)

        def run(conn: Any) -> None:
            self._exec(conn, "INSERT INTO questions (ref, asked_at, question, question_key, answered, source,"
                             " confidence, guild_id, channel_id, user_hash, story)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING", row)

        self._queue.put(Write("a question", run))
        return ref

    def record_feedback(self, question_id: int, *, helpful: bool, user_id: int | None) -> None:
        """One vote per reader per question; voting again replaces the earlier vote.

        A vote on a question this database does not hold (a button older than the database) is dropped.
        """
        self._per_reader("feedback", {"helpful": int(helpful)}, question_id, user_id, "a vote")

    def record_pick(self, question_id: int, *, title: str, source: str | None = None, user_id: int | None) -> None:
        """Which of the offered answers a reader picked for a question; picking again replaces the earlier pick.

        `title` is the answer as offered, `source` the answer it stands for (e.g. "qa:trump-message"), when
        known. The question's wording joins the moderators' gaps queue: a phrasing that entry may lack.
        A pick on a question this database does not hold (a button older than the database) is dropped.
        """
        self._per_reader("picks", {"title": title.strip()[:MAX_QUESTION], "source": source}, question_id,
                         user_id, "a pick")

    def _per_reader(self, table: str, values: Mapping[str, object], question_id: int, user_id: int | None,
                    what: str) -> None:
        """Queue one reader's say on a question (a vote, a pick), replacing their earlier one."""
        row = (self._hash(user_id) or "", *values.values(), stamp(utc_now()), question_id)
        # table and columns are this class's own names, never a reader's text
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)

        def run(conn: Any) -> None:
            self._exec(conn, f"INSERT INTO {table} (question_id, user_hash, {columns}, at)"
                             f" SELECT id, ?, {marks}, ? FROM questions WHERE ref = ?"
                             f" ON CONFLICT (question_id, user_hash) DO UPDATE SET {updates}, at = excluded.at", row)

        self._queue.put(Write(what, run))

    def close_gaps(self, keys: Iterable[str], *, how: str) -> None:
        """Mark missed wordings (phrasing_key) as answered now: `how` is "reasked", "phrasing" or "add".

        Raises StoreUnavailable.
        """
        at = stamp(utc_now())
        rows = [(key, at, how) for key in dict.fromkeys(keys)]
        if not rows:
            return

        def close(db: Any) -> None:
            for row in rows:
                self._exec(db, "INSERT INTO closed_gaps (question_key, closed_at, how) VALUES (?, ?, ?)"
                               " ON CONFLICT (question_key) DO UPDATE SET closed_at = excluded.closed_at,"
                               " how = excluded.how", row)

        self._use(close)

    def missed_wordings(self, window: int = GAP_WINDOW, story: str = MAIN_STORY) -> list[MissedWording]:
        """Wordings readers missed (unanswered, 👎, or a "did you mean" pick) about `story` since each was last
        closed, the `window` most recently asked, one row per wording.

        Each kind of miss is read newest first and capped at MISS_ROWS, so the read stays short at millions
        of rows (`+answered`: SQLite walks the table newest first rather than sort every miss); the rows
        are summed per wording here, the same way for both databases.
        """
        rows = self._read(lambda db: self._exec(db, """
            SELECT m.mkey, m.text, m.unanswered, m.unhelpful, m.picked, m.source, m.chosen, m.at
            FROM (
                SELECT * FROM (SELECT question_key AS mkey, question AS text, asked_at AS at, 1 AS unanswered,
                                      0 AS unhelpful, 0 AS picked, CAST(NULL AS TEXT) AS source,
                                      CAST(NULL AS TEXT) AS chosen
                               FROM questions WHERE +answered = 0 AND story = ? ORDER BY id DESC LIMIT ?) AS a
                UNION ALL
                SELECT * FROM (SELECT q.question_key, q.question, f.at, 0, 1, 0, q.source, CAST(NULL AS TEXT)
                               FROM feedback f JOIN questions q ON q.id = f.question_id
                               WHERE f.helpful = 0 AND q.story = ? ORDER BY f.at DESC LIMIT ?) AS b
                UNION ALL
                SELECT * FROM (SELECT q.question_key, q.question, p.at, 0, 0, 1, CAST(NULL AS TEXT), p.source
                               FROM picks p JOIN questions q ON q.id = p.question_id
                               WHERE q.story = ? ORDER BY p.at DESC LIMIT ?) AS c
            ) AS m LEFT JOIN closed_gaps g ON g.question_key = m.mkey
            WHERE g.closed_at IS NULL OR m.at > g.closed_at""",
            (story, MISS_ROWS, story, MISS_ROWS, story, MISS_ROWS)).fetchall())
        return _wordings(rows, window)

    def gaps_closed_since(self, since: str) -> int:
        """Missed wordings closed (answered now) at or after `since` (an ISO time like the stored ones)."""
        return int(self._read(lambda db: self._exec(db, "SELECT COUNT(*) FROM closed_gaps WHERE closed_at >= ?",
                                                    (since,)).fetchone()[0]))

    def stats(self, story: str = MAIN_STORY) -> Stats:
        """Totals for one story's questions and their votes."""
        def read(db: Any) -> Stats:
            questions, answered = self._exec(db, "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
                                                 " WHERE story = ?", (story,)).fetchone()
            votes, helpful = self._exec(db, "SELECT COUNT(*), COALESCE(SUM(f.helpful), 0) FROM feedback f"
                                            " JOIN questions q ON q.id = f.question_id WHERE q.story = ?",
                                        (story,)).fetchone()
            top = self._exec(db, "SELECT source, COUNT(*) AS n FROM questions WHERE answered = 1 AND source IS NOT NULL"
                                 " AND story = ? GROUP BY source ORDER BY n DESC, source LIMIT 5", (story,)).fetchall()
            return Stats(int(questions), int(answered), int(votes), int(helpful), tuple((s, int(n)) for s, n in top))

        return self._read(read)

    def set_place_story(self, guild_id: int, channel_id: int | None, story: str, *, moderator_id: int | None) -> None:
        """Map a server (`channel_id` None) or one of its channels to a story, audited. Raises StoreUnavailable."""
        place = (guild_id, channel_id or 0, story)

        def put(db: Any) -> None:
            self._exec(db, "INSERT INTO story_places (guild_id, channel_id, story) VALUES (?, ?, ?)"
                           " ON CONFLICT (guild_id, channel_id) DO UPDATE SET story = excluded.story", place)
        self._use(put)
        where = f"channel {channel_id}" if channel_id else f"server {guild_id}"
        self.record_edit(action="story", entry_id=story, moderator_id=moderator_id, detail=f"{where} → {story}")

    def place_stories(self) -> dict[tuple[int, int], str]:
        """Every mapping: (server, channel or 0 for the whole server) → story. Raises StoreUnavailable."""
        rows = self._read(lambda db: self._exec(db, "SELECT guild_id, channel_id, story FROM story_places").fetchall())
        return {(int(guild), int(channel)): story for guild, channel, story in rows}

    def set_reader_story(self, user_id: int, story: str) -> None:
        """Remember the story a reader picked for DMs (by their hashed id). Raises StoreUnavailable."""
        row = (self._hash(user_id), story)
        self._use(lambda db: self._exec(db, "INSERT INTO reader_stories (user_hash, story) VALUES (?, ?)"
                                            " ON CONFLICT (user_hash) DO UPDATE SET story = excluded.story", row))

    def reader_story(self, user_id: int) -> str | None:
        """The story a reader picked for DMs, if any. Raises StoreUnavailable."""
        row = self._read(lambda db: self._exec(db, "SELECT story FROM reader_stories WHERE user_hash = ?",
                                               (self._hash(user_id),)).fetchone())
        return row[0] if row else None


def _wordings(rows: list[tuple], window: int) -> list[MissedWording]:
    """One MissedWording per wording, its text as last asked, the `window` most recently asked first."""
    sums: dict[str, list[Any]] = {}
    for key, text, unanswered, unhelpful, picked, source, chosen, at in rows:
        w = sums.get(key)
        if w is None:
            w = sums[key] = [text, 0, 0, 0, set(), set(), at]
        elif at > w[6]:
            w[0], w[6] = text, at
        w[1] += unanswered
        w[2] += unhelpful
        w[3] += picked
        if source:
            w[4].add(source)
        if chosen:
            w[5].add(chosen)
    latest = sorted(sums.items(), key=lambda item: item[1][6], reverse=True)[:window]
    return [MissedWording(key, text, int(u), int(h), int(p), tuple(sorted(sources)), tuple(sorted(chosen)), at)
            for key, (text, u, h, p, sources, chosen, at) in latest]

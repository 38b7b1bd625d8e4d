"""What readers missed, turned into work a moderator can finish: shared by `python -m bot gaps` and `/kb`.

A gap is a group of similar wordings readers did not get a useful answer to (the bot declined, a
reader voted 👎, or a reader had to pick from "did you mean…?"). Before a gap is shown, each of its
wordings is asked again of the current engine: what the knowledge answers now is closed in the store
and dropped, so the list only holds work still to do. Each gap comes with the closest existing entry,
the one its wording could join as a phrasing.

Grouping must stay fast at 20,000 distinct wordings, so instead of comparing every wording with every
group (quadratic), a wording is compared only with the groups that share two of its three rarest content
words (blocking), using rapidfuzz's ratio on the words sorted (token_sort_ratio, without re-sorting).
Plain Python: no discord.py here.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from rapidfuzz import fuzz, process

from bot.engine.text import STOPWORDS, stem, terminal_safe
from bot.knowledge.packs import MAIN_STORY
from bot.store import GAP_WINDOW, MissedWording, Stats, Store, StoreUnavailable, open_store

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.engine import Engine

SHOWN_PHRASINGS = 3
QUESTION_WIDTH = 150  # long questions are cut in listings; /kb add gets the whole text
GAP_SIMILARITY = 80  # token_sort_ratio at or above which a wording joins a group
BLOCKING_WORDS = 3  # a wording is compared with the groups sharing two of its this many rarest words
CLOSEST_CANDIDATES = 8  # engine candidates looked through for the closest Q&A entry
CLOSEST_FLOOR = 0.2  # a candidate the engine gives a lower probability has too little to do with the wording
WEEK = timedelta(days=7)
QA_PREFIX = "qa:"



@dataclass(frozen=True, slots=True)
class Gap:
    """Similar missed wordings, the most missed first; `closest` is the Q&A entry id it could join."""

    wordings: tuple[MissedWording, ...]
    closest: str | None = None

    @property
    def question(self) -> str:
        return self.wordings[0].text

    @property
    def phrasings(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.wordings[1:])

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(w.key for w in self.wordings)

    @property
    def unanswered(self) -> int:
        return sum(w.unanswered for w in self.wordings)

    @property
    def unhelpful(self) -> int:
        return sum(w.unhelpful for w in self.wordings)

    @property
    def picked(self) -> int:
        return sum(w.picked for w in self.wordings)

    @property
    def count(self) -> int:
        return self.unanswered + self.unhelpful + self.picked

    @property
    def sources(self) -> tuple[str, ...]:
        """Answers readers voted 👎 for these wordings."""
        return tuple(sorted({s for w in self.wordings for s in w.sources}))

    @property
    def last_asked(self) -> str:
        return max(w.last_asked for w in self.wordings)


# --- grouping ------------------------------------------------------------------------------


def group(wordings: Sequence[MissedWording], similarity: int = GAP_SIMILARITY) -> list[Gap]:
    """Similar wordings grouped, most missed gap first (among equals, the most recently asked).

    Greedy: the most missed wording founds a group; each later one joins the closest founder it shares
    a blocking key with, if at least `similarity` alike, or founds a group of its own.
    """
    ordered = sorted(wordings, key=lambda w: (-w.count, w.key))
    forms = [_forms(w.key) for w in ordered]
    words = [ws for ws, _ in forms]
    frequency = Counter(word for ws in words for word in ws)
    rank = {word: i for i, word in enumerate(sorted(frequency, key=lambda w: (frequency[w], w)))}  # rarest first
    sorted_forms = [form for _, form in forms]
    by_key: defaultdict[frozenset[str], list[int]] = defaultdict(list)
    by_word: defaultdict[str, list[int]] = defaultdict(list)  # only one-word wordings look here
    members: dict[int, list[int]] = {}
    for i, ws in enumerate(words):
        rarest = sorted(ws, key=rank.__getitem__)[:BLOCKING_WORDS]
        keys = _blocking_keys(rarest)
        found = [f for key in (*keys, *(frozenset({w}) for w in rarest)) for f in by_key.get(key, ())]
        if len(ws) == 1:
            found += by_word.get(rarest[0], [])
        best = process.extractOne(sorted_forms[i], {f: sorted_forms[f] for f in found}, scorer=fuzz.ratio,
                                  score_cutoff=similarity) if found else None
        if best is not None:
            members[best[2]].append(i)
            continue
        members[i] = [i]
        for key in keys:
            by_key[key].append(i)
        for word in ws:
            by_word[word].append(i)
    return _by_misses([Gap(tuple(ordered[i] for i in group_)) for group_ in members.values()])


def _by_misses(gaps: list[Gap]) -> list[Gap]:
    """Most missed first; among equals, the most recently asked first (each figure computed once)."""
    figures = {id(g): (g.count, g.last_asked) for g in gaps}
    gaps.sort(key=lambda g: figures[id(g)][1], reverse=True)
    gaps.sort(key=lambda g: figures[id(g)][0], reverse=True)  # stable: keeps the recency order among equals
    return gaps


def _blocking_keys(rarest: list[str]) -> list[frozenset[str]]:
    """Pairs of the rarest words (a one-word wording: that word). Two wordings alike enough to group
    share most words, so a misspelling or a dropped word still leaves them a pair in common."""
    if len(rarest) == 1:
        return [frozenset(rarest)]
    return [frozenset(pair) for pair in itertools.combinations(rarest, 2)]


@functools.lru_cache(maxsize=2 * GAP_WINDOW)  # the same wordings come back at every /kb gaps
def _forms(key: str) -> tuple[frozenset[str], str]:
    """The stemmed words that say what is asked (all words, if only stop words), and the words sorted."""
    tokens = key.split()
    content = {stem(t) for t in tokens if t not in STOPWORDS and len(t) > 1}
    return frozenset(content or tokens), " ".join(sorted(tokens))


# --- asking again ------------------------------------------------------------------------------


def settled(engine: Engine, wording: MissedWording) -> bool:
    """The engine now answers this wording outright, and not with an answer readers voted 👎 for it;
    or it takes the wording for no story question at all ("hi", "thanks", "help"): nothing to add."""
    answer = engine.ask(wording.text)
    if answer.intent is not None:
        return True
    return answer.answered and not answer.alternatives and answer.source not in wording.sources


def closest_entry(engine: Engine, gap: Gap) -> str | None:
    """The Q&A entry the gap's wording could join: the one readers picked most, else the engine's closest
    Q&A candidate by retrieval (at least CLOSEST_FLOOR; the verifier judged none gives the answer, but the
    closest topic is the one to join) that no reader voted 👎 for it."""
    picks = Counter(source for w in gap.wordings for source in w.chosen for _ in range(max(w.picked, 1)))
    candidates = [source for source, _ in picks.most_common()]
    found = sorted(engine.explain(gap.question, limit=CLOSEST_CANDIDATES), key=lambda c: c.retrieval, reverse=True)
    candidates += [c.doc.source for c in found if c.retrieval >= CLOSEST_FLOOR]
    refused = set(gap.sources)
    for source in candidates:
        if source.startswith(QA_PREFIX) and source not in refused and engine.kb.entry(source[len(QA_PREFIX):]):
            return source[len(QA_PREFIX):]
    return None


def open_gaps(engine: Engine, wordings: Sequence[MissedWording], limit: int) -> tuple[list[Gap], list[str]]:
    """The `limit` most missed gaps the engine still does not answer, each with its closest entry,
    and the keys of the wordings it answers now (to close in the store).

    Only the wordings of gaps on the way to `limit` are asked again, so the cost follows what is shown.
    """
    shown: list[Gap] = []
    closed: list[str] = []
    for gap in group(wordings):
        if len(shown) >= limit:
            break
        still = []
        for wording in gap.wordings:
            if settled(engine, wording):
                closed.append(wording.key)
            else:
                still.append(wording)
        if still:
            shown.append(Gap(tuple(still), closest_entry(engine, Gap(tuple(still)))))
    return shown, closed


def find_gaps(store: Store, engine: Engine | None, limit: int, story: str = MAIN_STORY) -> list[Gap]:
    """The gaps in `story` to show. With its engine, what it answers now is closed in the store and left out."""
    wordings = store.missed_wordings(story=story)
    if engine is None:
        return group(wordings)[:limit]
    gaps, closed = open_gaps(engine, wordings, limit)
    store.close_gaps(closed, how="reasked")
    return gaps


def closed_this_week(store: Store, now: datetime | None = None) -> int:
    since = (now or datetime.now(UTC)) - WEEK
    return store.gaps_closed_since(since.strftime("%Y-%m-%dT%H:%M:%SZ"))


# --- text ----------------------------------------------------------------------------------


def _cut(text: str, width: int = QUESTION_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def gap_line(number: int, gap: Gap) -> str:
    """`3. Who is Jivani's wife? — 5 (4 unanswered, 1 unhelpful); also asked as: …; closest entry: …`"""
    parts = [f"{gap.unanswered} unanswered"] if gap.unanswered else []
    if gap.unhelpful:
        parts.append(f"{gap.unhelpful} unhelpful" + (f" ({', '.join(gap.sources)})" if gap.sources else ""))
    if gap.picked:
        parts.append(f"{gap.picked} picked from “did you mean”")
    line = f"{number}. {_cut(gap.question)} — {gap.count} ({', '.join(parts)})"
    if gap.phrasings:
        line += "; also asked as: " + " | ".join(_cut(p, 60) for p in gap.phrasings[:SHOWN_PHRASINGS])
    if gap.closest:
        line += f"; closest entry: {gap.closest}"
    return line


def stats_lines(stats: Stats, closed_week: int) -> list[str]:
    lines = [
        f"Questions: {stats.questions}",
        f"Answered: {stats.answered} ({stats.answered_share:.0%})",
        f"Votes: {stats.votes}, helpful: {stats.helpful} ({stats.helpful_share:.0%})",
        f"Gaps closed this week: {closed_week} missed wordings now answered",
    ]
    if stats.top_entries:
        lines.append("Top entries: " + ", ".join(f"{source} ({n})" for source, n in stats.top_entries))
    return lines


def print_gaps(settings: Settings, out: TextIO, engine: Engine | None = None, limit: int = 20,
               story: str = MAIN_STORY) -> int:
    """`python -m bot gaps`: one story's totals, then its gaps still open against `engine`. Exit status."""
    if not settings.database_url and not settings.database_path.exists():
        out.write(f"No questions recorded yet: there is no database at {settings.database_path} "
                  "(set DATABASE_PATH to the bot's database).\n")
        return 0
    settings = settings.with_salt()  # only now: with no database, `gaps` must create nothing (not even data/)
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        out.write(f"The database cannot be read: {exc}\n")
        return 1
    try:
        gaps = find_gaps(store, engine, limit, story)  # first: it closes what is answered now
        stats, closed = store.stats(story), closed_this_week(store)
    except StoreUnavailable as exc:
        out.write(f"The database cannot be read: {exc}\n")
        return 1
    finally:
        store.close()
    lines = [*stats_lines(stats, closed), ""]
    if engine is None:
        lines.append("(The knowledge did not load, so the gaps were not asked again: some may be answered now.)")
    if not gaps:
        lines.append("No gaps: every question was answered and nobody marked an answer unhelpful.")
    else:
        lines.append("Most frequent unanswered or unhelpful questions:")
        lines += [gap_line(i, gap) for i, gap in enumerate(gaps, 1)]
    out.write(terminal_safe("\n".join(lines)) + "\n")
    return 0


"""Questions of order in time, answered from the timeline's dates, with both events cited.

"Which came first, X or Y?", "was X before Y?" and "how many days after X was Y?" ask about two
events at once: no one entry answers them, but the timeline holds both, oldest first, with the
story's own dates ("Jan. 20", "Late January", "March 3, 2029", "fall 2031"). The order comes from
the timeline; a count of days only from two dates that name their day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.engine.index import Index
from bot.engine.lexicon import EARLIER, LATER, MONTH, MONTH_BY_PREFIX, PART_OF, SEASONS, YEAR
from bot.engine.semantic import Embedder
from bot.engine.text import Thesaurus, content_terms
from bot.knowledge.article import fold
from bot.knowledge.model import Citation, Event

_YEAR = re.compile(YEAR)
_MONTH_DAY = re.compile(rf"\b({MONTH})\.?(?:\s+(\d{{1,2}})\b)?")
_SEASON = re.compile(r"\b(" + "|".join(SEASONS) + r")\b")
_PART = re.compile(r"\b(" + "|".join(PART_OF) + r")\b")

# "which came first, X or Y?", "X or Y: which happened earlier?"
_WHICH = re.compile(r"\bwhich\b|\bwhat\b.*\b(?:first|earlier|later|last)\b")
_EITHER = re.compile(r"^(?:.*?\b(?:first|earlier|sooner|later|last)\b[\s,:]*)?(?P<x>.+?)\s*,?\s+or\s+(?P<y>.+?)"
                     r"(?:[\s,:]+(?:which|what)\b.*)?$")
# "was X before Y?", "did X happen after Y?"
_BEFORE = re.compile(r"^(?:was|were|did|is|does|do|had)\s+(?P<x>.+?)\s+(?:happen\s+|come\s+|take\s+place\s+)?"
                     r"(?P<rel>before|after|earlier\s+than|later\s+than|prior\s+to)\s+(?P<y>.+)$")
# "how many days after X was Y?", "how many days between X and Y?", "how many days passed from X to Y?"
_DAYS = re.compile(r"\bhow\s+many\s+days\b(?:\s+(?:passed|went\s+by|were\s+there|elapsed))?\s+"
                   r"(?:(?:after|before)\s+(?P<x1>.+?)\s+(?:was|did|were|came|is)\s+(?P<y1>.+)|"
                   r"(?:between|from)\s+(?P<x2>.+?)\s+(?:and|to|until)\s+(?P<y2>.+))$")
_GLOSS = re.compile(r"\(.*?\)")
_MATCH_SHARE = 0.4  # of a part's word weight that an event must hold to be the one meant


@dataclass(frozen=True, slots=True)
class Compared:
    """A comparison's answer: the text, both events' citations, and the events."""

    text: str
    citations: tuple[Citation, ...]
    events: tuple[Event, Event]
    confidence: float  # the smaller share of its part's word weight that either event holds


def parse_when(when: str) -> tuple[int | None, float | None, int | None]:
    """(year, month, day) of a timeline `when`, each None where it says nothing; a season or "late" moves the
    month ("fall" is 9, "late January" 1.8)."""
    text = fold(when)
    year = int(m.group()) if (m := _YEAR.search(text)) else None
    month: float | None = None
    day = None
    if found := _MONTH_DAY.search(text):
        month = MONTH_BY_PREFIX[found.group(1)[:3]]
        day = int(found.group(2)) if found.group(2) and int(found.group(2)) <= 31 else None
    elif found := _SEASON.search(text):
        month = SEASONS[found.group(1)]
    if month is not None and day is None and (part := _PART.search(text)):
        month += PART_OF[part.group(1)]
    return year, month, day


def _days(first: Event, second: Event) -> int | None:
    """Days from `first` to `second` (the timeline's order), when both name a day; a year is assumed where
    the story gives none, and a later date earlier in the calendar is in the next year."""
    (y1, m1, d1), (y2, m2, d2) = parse_when(first.when), parse_when(second.when)
    if d1 is None or d2 is None or m1 is None or m2 is None:
        return None
    if y1 is None or y2 is None:
        y1 = 2001
        y2 = y1 + (1 if (m2, d2) < (m1, d1) else 0)
    try:
        return (date(y2, int(m2), d2) - date(y1, int(m1), d1)).days
    except ValueError:
        return None


class Timeline:
    """The story's dated events, oldest first, and the questions of order they answer."""

    def __init__(self, events: tuple[Event, ...], index: Index, thesaurus: Thesaurus, names: dict[str, str],
                 embedder: Embedder) -> None:
        self.events = events
        self.index = index
        self.thesaurus = thesaurus
        self.embedder = embedder
        # What each event can be asked by: its text, its date (not the date's gloss: "Jan. 21 (the day after the
        # Davos speech)" is not the speech) and the names of its people.
        told = [f"{_GLOSS.sub(' ', e.when)} {e.text} {' '.join(names.get(p, p) for p in e.people)}" for e in events]
        self._terms = [set(content_terms(text, thesaurus)) for text in told]
        self._literal = [set(content_terms(text)) for text in told]  # the words as written, no synonyms
        self._vectors = embedder.encode(told) if events else None

    def compare(self, question: str) -> Compared | None:
        """The answer to a question of order between two timeline events, or None when it asks none."""
        if len(self.events) < 2:
            return None
        asked = fold(question).strip(" ?!.")
        if (m := _DAYS.search(asked)) is not None:
            x, y = (m.group("x1"), m.group("y1")) if m.group("x1") else (m.group("x2"), m.group("y2"))
            return self._days(x, y)
        if (m := _BEFORE.match(asked)) is not None:
            return self._before(m.group("x"), m.group("y"), m.group("rel").split()[0] in ("before", "earlier",
                                                                                          "prior"))
        if _WHICH.search(asked) and (EARLIER.search(asked) or LATER.search(asked)) and \
                (m := _EITHER.match(re.sub(r"^.*?\b(?:which|what)\b[^,:]*?\b(?:first|earlier|sooner|later|last)\b"
                                           r"[\s,:]*", "", asked))) is not None:
            return self._which(m.group("x"), m.group("y"), earlier=EARLIER.search(asked) is not None)
        return None

    def _event(self, part: str) -> tuple[int, float] | None:
        """The event a part of the question names, and the share of the part's word weight it holds: the event
        holding most of it, if enough."""
        terms = set(content_terms(part, self.thesaurus))
        total = sum(self.index.weight(t) for t in terms)
        if not total:
            return None
        held = [round(sum(self.index.weight(t) for t in terms & own) / total, 9) for own in self._terms]
        # Events holding the same words ("the Davos speech": later events mention Davos, or the WEF) are told
        # apart by the words as written, then by meaning ("speech" is near "spoke").
        literal = set(content_terms(part))
        meaning = self._vectors @ self.embedder.encode([part])[0]
        best = max(range(len(held)), key=lambda i: (held[i], len(literal & self._literal[i]), meaning[i]))
        return (best, held[best]) if held[best] >= _MATCH_SHARE else None

    def _pair(self, x: str, y: str) -> tuple[int, int, float] | None:
        """The two events named, and how surely: the smaller share either holds of its part's words."""
        a, b = self._event(x), self._event(y)
        if a is None or b is None or a[0] == b[0]:
            return None
        return a[0], b[0], min(a[1], b[1])

    @staticmethod
    def _same_day(a: Event, b: Event) -> bool:
        return parse_when(a.when) == parse_when(b.when) and parse_when(a.when)[1] is not None

    def _which(self, x: str, y: str, earlier: bool) -> Compared | None:
        if (pair := self._pair(x, y)) is None:
            return None
        first, second = (self.events[i] for i in sorted(pair[:2]))
        if self._same_day(first, second):
            return _said(f"Both happened {first.when}: {first.text}", second, pair[2], first)
        if earlier:
            return _said(f"First, {first.when}: {first.text} Then {second.when}:", second, pair[2], first)
        return _said(f"Later, {second.when}: {second.text} Before it, {first.when}:", first, pair[2], second)

    def _before(self, x: str, y: str, before: bool) -> Compared | None:
        if (pair := self._pair(x, y)) is None:
            return None
        a, b = self.events[pair[0]], self.events[pair[1]]
        if self._same_day(a, b):
            return _said(f"No: both happened {a.when}: {a.text}", b, pair[2], a)
        first, second = (a, b) if pair[0] < pair[1] else (b, a)
        yes = (pair[0] < pair[1]) == before
        return _said(f"{'Yes' if yes else 'No'}: {first.when}: {first.text} Then {second.when}:", second, pair[2],
                     first)

    def _days(self, x: str, y: str) -> Compared | None:
        if (pair := self._pair(x, y)) is None:
            return None
        first, second = (self.events[i] for i in sorted(pair[:2]))
        if (days := _days(first, second)) is None:
            return None
        count = "The same day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
        return _said(f"{count}: {first.when}: {first.text} Then {second.when}:", second, pair[2], first)


def _said(lead: str, last: Event, confidence: float, told: Event) -> Compared:
    """`lead` (which tells `told` already), then `last`'s text: both events cited."""
    return Compared(f"{lead} {last.text}", tuple(dict.fromkeys((*told.citations, *last.citations))), (told, last),
                    confidence)

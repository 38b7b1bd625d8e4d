"""Engine.ask: a question in, an Answer out, cited from the story or honestly declined."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from rapidfuzz import fuzz, process

from bot.engine.answer import DOESNT_SAY, Answer
from bot.engine.conversation import Conversation
from bot.engine.index import Index, Match, Query, build_docs
from bot.engine.text import QuestionType, Thesaurus, clean, content_terms, question_type, words
from bot.knowledge.loader import Problem, load_knowledge
from bot.knowledge.model import Event, KnowledgeBase, Person, Term

log = logging.getLogger(__name__)
T = TypeVar("T", Person, Term)

# Below this score the engine says the story doesn't say; calibrated with benchmarks/calibrate.py.
ANSWER_THRESHOLD = 0.58
SUGGESTION_FLOOR = 0.2  # a suggestion must be at least this close to what was asked
UNSURE_MARGIN = 0.1  # answers scoring less than this above the threshold come with suggestions
MISSPELLING = 75  # rapidfuzz ratio above which a one-word alias is a misspelling of a word of the name
MAX_PARTS = 3  # questions tried separately in a message of several sentences
_TO_THE_BOT = frozenset({"you", "your", "yours", "yourself", "bot"})
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\n+")
_WH_CLAUSE = re.compile(r"(?<=[,;:—-])\s*(?:who|whom|whose|what|when|where|why|how|which)\b[^,;:]*$", re.IGNORECASE)
NAME_CUTOFF = 70  # rapidfuzz WRatio for /who and /what lookups
MAX_QUESTION = 4000  # longer messages are cut: nobody asks a 4,000-character question


class Engine:
    """Answers questions from one KnowledgeBase. Immutable after construction; safe to share."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.thesaurus = Thesaurus(kb.synonyms + _misspelt_names(kb))
        self.index = Index(build_docs(kb), self.thesaurus, kb.story.places)
        self._people_names = [(n, p) for p in kb.people for n in p.names]
        self._term_names = [(n, t) for t in kb.terms for n in t.names]
        self._names = [frozenset(self.thesaurus.terms(words(n))) for n, _ in (*self._people_names, *self._term_names)]
        self._story_words = frozenset().union(*self._names, *(self.thesaurus.terms(words(p.text))
                                                              for p in kb.article.paragraphs))

    def ask(self, text: str, conversation: Conversation | None = None) -> Answer:
        """Answer `text`, leaning on the reader's `conversation` for follow-ups.

        Never raises: a failure inside becomes a logged abstention.
        """
        question = text if isinstance(text, str) else ""
        try:
            return replace(self._ask(question[:MAX_QUESTION]), question=question)
        except Exception:  # the engine's promise: any string gets an Answer
            log.exception("engine failed on a question; answering that the story doesn't say")
            return Answer(question, False, DOESNT_SAY, 0.0)

    def explain(self, text: str, limit: int = 8) -> list[Match]:
        """The top candidates and their signals, for moderators debugging a miss."""
        query = self.index.query(text, question_type(text))
        if self._about_the_bot(query):
            return []
        matches = self.index.search(query)
        if len(query.terms) == 1 and query.terms[0] not in self._story_words:
            # One word the story never uses ("nice", "good") asks about it only where a phrasing is that word.
            matches = [m for m in matches if m.precision >= 1.0]
        return matches[:limit]

    def _about_the_bot(self, query: Query) -> bool:
        """Chit-chat addressed to the bot ("good bot", "who made you?") that names nothing of the story."""
        if not _TO_THE_BOT.intersection(query.wording.split()):
            return False
        asked = set(query.terms)
        return not any(name and name <= asked for name in self._names)

    def _ask(self, question: str) -> Answer:
        matches = max((self.explain(part, limit=10) for part in _question_parts(question)),
                      key=lambda ms: ms[0].score if ms else 0.0)
        best = matches[0] if matches else None
        if best is None or best.score < ANSWER_THRESHOLD:
            return Answer(question, False, DOESNT_SAY, best.score if best else 0.0,
                          suggestions=_suggestions(matches))
        # Close to the threshold, say what else the reader might have meant.
        unsure = best.score < ANSWER_THRESHOLD + UNSURE_MARGIN
        return Answer(question, True, best.doc.answer, min(best.score, 1.0), best.doc.citations,
                      best.doc.source, _suggestions(matches[1:], exclude=best.doc.title) if unsure else ())

    # --- lookups for /who, /what, /when and autocomplete ------------------------------

    def find_person(self, name: str) -> Person | None:
        return _find(name, self._people_names)

    def find_term(self, name: str) -> Term | None:
        return _find(name, self._term_names)

    def complete_people(self, current: str, limit: int = 25) -> list[tuple[str, str]]:
        return _complete(current, self._people_names, limit)

    def complete_terms(self, current: str, limit: int = 25) -> list[tuple[str, str]]:
        return _complete(current, self._term_names, limit)

    def events(self, query: str | None = None) -> list[Event]:
        """The timeline in story order; with a query, the events that share a word or a person with it."""
        if not query or not query.strip():
            return list(self.kb.timeline)
        wanted = set(self.index.query(query, question_type(query)).terms)
        out = []
        for ev in self.kb.timeline:
            names = " ".join(n for pid in ev.people if (p := self.kb.person(pid)) for n in p.names)
            if wanted & set(content_terms(f"{ev.when} {ev.text} {names}", self.thesaurus)):
                out.append(ev)
        return out


def _misspelt_names(kb: KnowledgeBase) -> tuple[tuple[str, ...], ...]:
    """Synonym groups from one-word aliases that are misspellings of a name ("Carny" -> "Carney").

    As synonyms they reach every entry that names the person, not only the profile that lists them.
    """
    groups = []
    for item in (*kb.people, *kb.terms):
        name_words = [w for w in words(item.name) if len(w) >= 4]
        for alias in item.aliases:
            alias_words = words(alias)
            if len(alias_words) != 1 or alias_words[0] in name_words:
                continue
            best = process.extractOne(alias_words[0], name_words, scorer=fuzz.ratio, score_cutoff=MISSPELLING)
            if best is not None:
                groups.append((best[0], alias_words[0]))
    return tuple(groups)


def _question_parts(text: str) -> list[str]:
    """The whole message, plus the questions inside it: each sentence that asks, and a trailing clause
    that starts with a question word ("ok so I'm confused, why did Trump cancel the invite?")."""
    parts = [p.strip() for p in _SENTENCE.split(text) if p.strip()]
    questions = [p for p in parts if p.endswith("?") or question_type(p) is not QuestionType.WHAT]
    clause = _WH_CLAUSE.search(text)
    if clause:
        questions.append(clause.group().strip())
    return [text, *dict.fromkeys(q for q in questions if q != text)][: MAX_PARTS + 1]


def _suggestions(matches: list[Match], exclude: str | None = None, limit: int = 3) -> tuple[str, ...]:
    titles: list[str] = []
    for m in matches:
        title = m.doc.title
        if m.score >= SUGGESTION_FLOOR and title and title != exclude and title not in titles:
            titles.append(title)
    return tuple(titles[:limit])


def _find(name: str, names: list[tuple[str, T]]) -> T | None:
    cleaned = clean(name)
    if not cleaned.strip():
        return None
    best = process.extractOne(cleaned, [n for n, _ in names], scorer=fuzz.WRatio, processor=clean,
                              score_cutoff=NAME_CUTOFF)
    return names[best[2]][1] if best else None


def _complete(current: str, names: list[tuple[str, T]], limit: int) -> list[tuple[str, str]]:
    """Autocomplete choices (display name, id), best first, one per item, names cut to 100 characters."""
    cleaned = clean(current or "")
    if cleaned.strip():
        ranked = process.extract(cleaned, [n for n, _ in names], scorer=fuzz.WRatio, processor=clean,
                                 limit=len(names), score_cutoff=50)
        order = [names[i][1] for _, _, i in ranked]
    else:
        order = sorted({item.id: item for _, item in names}.values(), key=lambda item: item.name)
    out: dict[str, str] = {}
    for item in order:
        out.setdefault(item.id, item.name[:100])
    return [(display, ident) for ident, display in out.items()][:limit]


def load_engine(directory: Path | str) -> tuple[Engine | None, tuple[Problem, ...]]:
    """Load knowledge and build an Engine; None with the problems when the knowledge is not valid."""
    result = load_knowledge(directory)
    if not result.ok or result.kb is None:
        return None, result.problems
    return Engine(result.kb), ()

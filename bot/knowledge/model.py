"""The knowledge base as immutable values: what moderators write, checked and frozen."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.knowledge.article import Article


@dataclass(frozen=True, slots=True)
class Citation:
    paragraph: int
    quote: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a knowledge item was written, so errors and /kb show can point at it."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Fact:
    text: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class QAEntry:
    id: str
    question: str
    phrasings: tuple[str, ...]
    answer: str
    citations: tuple[Citation, ...]
    people: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    origin: Origin = field(default=Origin("?", 0), compare=False)
    phrasing_lines: tuple[int, ...] = field(default=(), compare=False)  # where each phrasing is written, for lint

    @property
    def questions(self) -> tuple[str, ...]:
        return (self.question, *self.phrasings)


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    aliases: tuple[str, ...]
    role: Fact
    facts: tuple[Fact, ...]
    origin: Origin = field(default=Origin("?", 0), compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Term:
    id: str
    name: str
    aliases: tuple[str, ...]
    definition: Fact
    facts: tuple[Fact, ...]
    origin: Origin = field(default=Origin("?", 0), compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    when: str
    text: str
    citations: tuple[Citation, ...]
    people: tuple[str, ...] = ()
    origin: Origin = field(default=Origin("?", 0), compare=False)


@dataclass(frozen=True, slots=True)
class Story:
    title: str
    summary: str
    lead_section: str
    headings: tuple[str, ...]
    places: tuple[str, ...] = ()  # the places the article names: a "where" answer must name one


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Everything the bot knows. Built once by the loader; a reload builds a new one."""

    story: Story
    article: Article
    qa: tuple[QAEntry, ...]
    people: tuple[Person, ...]
    terms: tuple[Term, ...]
    timeline: tuple[Event, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()  # groups of words readers use for the same thing

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def term(self, term_id: str) -> Term | None:
        return next((t for t in self.terms if t.id == term_id), None)

    def entry(self, entry_id: str) -> QAEntry | None:
        return next((e for e in self.qa if e.id == entry_id), None)

    def summary(self) -> str:
        """What was loaded, in one line for moderators: entries and paragraph coverage."""
        cited, total = len(self.cited_paragraphs()), len(self.article)
        return (f"{len(self.qa)} Q&A entries, {len(self.people)} people, {len(self.terms)} terms, "
                f"{len(self.timeline)} timeline events; {cited} of {total} paragraphs cited")

    def cited_paragraphs(self) -> set[int]:
        """Paragraphs some entry cites: the coverage `check` reports."""
        return {c.paragraph for c in self.all_citations()}

    def all_citations(self) -> list[Citation]:
        out: list[Citation] = []
        for e in self.qa:
            out.extend(e.citations)
        for p in self.people:
            for f in (p.role, *p.facts):
                out.extend(f.citations)
        for t in self.terms:
            for f in (t.definition, *t.facts):
                out.extend(f.citations)
        for ev in self.timeline:
            out.extend(ev.citations)
        return out

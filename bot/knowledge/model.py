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
    id: str = ""  # optional, unique within its person or term: what a Q&A entry's `see:` names


@dataclass(frozen=True, slots=True)
class Reference:
    """A Q&A entry's `see:` ("person jivani fact strong-network"): the fact it answers with instead of a copy.

    The entry's citations are always the fact's; its answer is the fact's text unless the entry writes
    its own sentence (`own_answer`), so a fix to the fact fixes every entry that refers to it.
    """

    text: str  # as the moderator wrote it, to write it back (audit, restore)
    own_answer: bool


def see_text(kind: str, ident: str, fact_id: str = "") -> str:
    """How a Q&A entry's `see:` names a fact: "person jivani", "event feb4-white-house",
    "person jivani fact strong-network" (a listed fact, by its own id)."""
    return f"{kind} {ident} fact {fact_id}" if fact_id else f"{kind} {ident}"


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
    see: Reference | None = None  # answer (or only citations) taken from a person/term/event fact

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
    language: str = "en"  # the article's language (a BCP 47 tag); the bot's replies are in English for now


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

    def referable(self) -> list[tuple[str, Fact, bool]]:
        """Every fact a Q&A entry's `see:` may name, with that name and whether it is one of an item's
        listed facts (named by the fact's own id, which it may still lack: see_text gives "…fact ?")."""
        out: list[tuple[str, Fact, bool]] = []
        for kind, items in (("person", self.people), ("term", self.terms)):
            for item in items:
                lead = item.role if isinstance(item, Person) else item.definition
                out.append((see_text(kind, item.id), lead, False))
                out += [(see_text(kind, item.id, f.id or "?"), f, True) for f in item.facts]
        return out + [(see_text("event", event.id), Fact(event.text, event.citations), False)
                      for event in self.timeline]

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
        for event in self.timeline:
            out.extend(event.citations)
        return out

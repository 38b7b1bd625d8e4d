"""Load knowledge/ into a KnowledgeBase, reporting every problem as `path:line: message`.

The loader never raises on bad knowledge and bounds its own time and memory (see yamlfile.py).
A problem disables only the item it is in: the KnowledgeBase holds everything valid, and the
problems say what was left out. An item that failed is still known to exist, so references to
it don't cascade ("unknown term 'cusma'" when only cusma's quote broke). A quote that is verbatim
in another paragraph is a problem with a fix (`check --fix` renumbers it); the item keeps the
quote under the paragraph where it really is, so answers stay right meanwhile.
A Q&A entry's `see:` is resolved here to the person/term/event fact it names (people, terms and the
timeline load first), so everything after the loader sees plain answers with citations.
Callers that must not serve partial knowledge check LoadResult.ok.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rapidfuzz import fuzz, process

from bot.knowledge.article import Article, fold, nearest, paragraph_number, parse_article, shorten
from bot.knowledge.model import (
    Citation,
    Event,
    Fact,
    KnowledgeBase,
    Origin,
    Person,
    QAEntry,
    Reference,
    Story,
    Term,
)
from bot.knowledge.yamlfile import Map, Mark, Seq, read_text, read_yaml

ARTICLE_FILE = "article.txt"
STORY_FILE = "story.yaml"
PEOPLE_FILE = "people.yaml"
TERMS_FILE = "terms.yaml"
TIMELINE_FILE = "timeline.yaml"
SYNONYMS_FILE = "synonyms.yaml"
QA_GLOB = "qa*.yaml"  # qa.yaml, plus qa-discord.yaml and any other qa-*.yaml
QA_DIR = "qa"  # and knowledge/qa/*.yaml: one file per topic
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_N = TypeVar("_N", Person, Term)

# The fields each kind of item may have; anything else is a misspelt key whose content would be lost.
QA_KEYS = ("id", "question", "phrasings", "see", "answer", "citations", "people", "terms")
PERSON_KEYS = ("id", "name", "aliases", "role", "facts")
TERM_KEYS = ("id", "name", "aliases", "definition", "facts")
EVENT_KEYS = ("id", "when", "text", "citations", "people")
FACT_KEYS = ("text", "citations")  # a role or definition; an item of `facts` may also have an id
LISTED_FACT_KEYS = ("id", *FACT_KEYS)
CITATION_KEYS = ("paragraph", "quote")
STORY_KEYS = ("title", "summary", "lead_section", "headings", "places", "language")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")  # a BCP 47 tag: "en", "fr", "en-CA"
# Words meant for a key but not spelt like it (rapidfuzz handles the misspellings).
_MEANT = {"persons": "people", "person": "people", "who": "people", "term": "terms", "date": "when",
          "sources": "citations", "source": "citations", "cites": "citations", "alias": "aliases",
          "questions": "phrasings", "para": "paragraph", "paragraphs": "paragraph", "cite": "citations",
          "ref": "see", "refer": "see", "reference": "see", "same-as": "see"}
KEY_SUGGESTION = 75  # rapidfuzz ratio from which an unknown key is taken for a misspelling of a known one
ID_SUGGESTION = 70  # …and an unknown id in `see:` for a misspelling of a known one
SEE_KINDS = ("person", "term", "event")
SEE_FORM = "'person <id>', 'term <id>', 'event <id>' or 'person <id> fact <fact id>'"
_SEE_MEANT = {"people": "person", "who": "person", "what": "term", "terms": "term", "when": "event",
              "events": "event", "timeline": "event"}


@dataclass(frozen=True, slots=True)
class Renumber:
    """A citation whose quote is verbatim in another paragraph: the number to write at `mark` in `path`."""

    path: Path
    mark: Mark | None  # where the paragraph number is written (None: not fixable in place)
    old: int
    new: int


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    message: str
    fix: Renumber | None = field(default=None, compare=False)  # set when `check --fix` can mend it
    hint: str | None = field(default=None, compare=False)  # a second line for people: what to write instead

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# A short title line: capitalised, at most six words, no closing punctuation ("Route and Schedule").
_HEADING_LIKE = re.compile(r"[A-Z][\w'’.&/-]*(?:[ \t]+[\w'’.&/-]+){0,5}")
LOOKS_LIKE_HEADING = "looks like a heading"

LOGGED_PROBLEMS = 20  # problems written into one log record; `python -m bot check` lists them all
LOGGED_PROBLEM_CHARS = 500  # of each: a message quotes what was written only shortened, but never trust that


def problem_lines(problems: Iterable[Problem], limit: int = LOGGED_PROBLEMS) -> str:
    """The first `limit` problems, a line each, then "… and K more": one bounded log record per reload.

    A refused reload of a 1.6 MB file logged all of its problems in one 46 MB record, at every reload.
    """
    lines: list[str] = []
    more = 0
    for problem in problems:
        if len(lines) < limit:
            line = str(problem)
            lines.append(line if len(line) <= LOGGED_PROBLEM_CHARS else line[:LOGGED_PROBLEM_CHARS] + "…")
        else:
            more += 1
    if more:
        lines.append(f"… and {more} more (`python -m bot check` lists them all)")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class LoadResult:
    kb: KnowledgeBase | None  # everything valid; None only when the story or the article is unusable
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.kb is not None and not self.problems


def _kind(value: Any) -> str:
    """A YAML-ish name for a value's type, for messages to people who write YAML, not Python."""
    for types, name in ((dict, "a mapping"), (list, "a list")):
        if isinstance(value, types):
            return name
    return "nothing" if value is None else "text"


def _line(value: Any, default: int) -> int:
    return getattr(value, "line", default) or default


# --- reading one file ---------------------------------------------------------


class _FileReader:
    """Reads typed fields out of one YAML file, recording a Problem for each mistake."""

    def __init__(self, path: Path, display: str, problems: list[Problem]) -> None:
        self.path = path
        self.display = display
        self.problems = problems

    def problem(self, line: int, message: str, fix: Renumber | None = None, hint: str | None = None) -> None:
        self.problems.append(Problem(self.display, line, message, fix, hint))

    def load(self) -> Any:
        parsed = read_yaml(self.path)
        for line, message in parsed.problems:
            self.problem(line, message)
        return parsed.data

    def items(self, data: Any, what: str) -> list[Map]:
        """The file's top-level list of mappings (an empty file is an empty list)."""
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(_line(data, 1), f"expected a list of {what} at the top of the file (each starting with '- ')")
            return []
        out = []
        for item, line in zip(data, data.lines, strict=True):
            if isinstance(item, Map):
                out.append(item)
            else:
                self.problem(line, f"each of the {what} must be a mapping of fields (lines like 'id: ...')")
        return out

    def begin(self, m: Map, allowed: tuple[str, ...]) -> int:
        """Report the problems found inside `m` while parsing and its unknown keys; returns the count before."""
        before = len(self.problems)
        for line, message in getattr(m, "problems", ()):
            self.problem(line, message)
        self.keys(m, allowed)
        return before

    def keys(self, m: Map, allowed: tuple[str, ...]) -> None:
        """Unknown keys are mistakes (their content would be silently dropped): name the key meant."""
        meant: set[str] = set()
        for key in m:
            if key in allowed:
                continue
            guess = _MEANT.get(key.lower()) if isinstance(key, str) else None
            if guess not in allowed:
                guess = _suggest(str(key), allowed, KEY_SUGGESTION)
            line = m.key_lines.get(key, m.line)
            if guess is not None and guess not in m:
                meant.add(guess)
                self.problem(line, f"unknown key {shorten(key)}; did you mean {guess!r}?")
            else:
                self.problem(line, f"unknown key {shorten(key)}; the keys here are {', '.join(allowed)}")
        m.meant = meant  # type: ignore[attr-defined]

    def missing(self, m: Map, key: str) -> None:
        if key not in getattr(m, "meant", ()):  # already reported as a misspelt key
            self.problem(m.line, f"missing field {key!r}")

    def text(self, m: Map, key: str, *, required: bool = True) -> str | None:
        line = m.key_lines.get(key, m.line)
        if key not in m or m[key] is None:
            if required:
                self.missing(m, key)
            return None
        value = m[key]
        if not isinstance(value, str):
            self.problem(line, f"field {key!r} must be text, not {_kind(value)}")
            return None
        if not value.strip():
            self.problem(line, f"field {key!r} is empty")
            return None
        return value.strip()

    def ident(self, m: Map, *, required: bool = True, declared: set[str] | None = None) -> str | None:
        """The item's id; a valid one is also added to `declared` (ids written, loaded or not)."""
        value = self.text(m, "id", required=required)
        if value is not None and not _ID.match(value):
            self.problem(m.key_lines["id"], f"id {shorten(value)} must be lower-case letters, digits and dashes")
            return None
        if value is not None and declared is not None:
            declared.add(value)
        return value

    def texts(self, m: Map, key: str) -> list[str]:
        """An optional list of non-empty strings."""
        return [text for text, _ in self.lined_texts(m, key)]

    def lined_texts(self, m: Map, key: str) -> list[tuple[str, int]]:
        """An optional list of non-empty strings, each with the line it is written on."""
        if key not in m or m[key] is None:
            return []
        value = m[key]
        if not isinstance(value, Seq):
            self.problem(m.key_lines.get(key, m.line), f"field {key!r} must be a list")
            return []
        out = []
        for item, line in zip(value, value.lines, strict=True):
            if isinstance(item, str) and item.strip():
                out.append((item, line))
            else:
                self.problem(line, f"each item of {key!r} must be non-empty text")
        return out

    def citations(self, m: Map, article: Article | None, *, key: str = "citations") -> tuple[Citation, ...]:
        """A required, non-empty list of {paragraph, quote}, each checked against the article."""
        line = m.key_lines.get(key, m.line)
        value = m.get(key)
        if value is None:
            self.missing(m, key)
            return ()
        if not isinstance(value, Seq) or not value:
            self.problem(line, f"field {key!r} must be a non-empty list of {{paragraph, quote}}")
            return ()
        out = []
        for item, item_line in zip(value, value.lines, strict=True):
            if (cite := self.citation(item, item_line, article)) is not None:
                out.append(cite)
        return tuple(out) if len(out) == len(value) else ()

    def citation(self, item: Any, line: int, article: Article | None) -> Citation | None:
        """One {paragraph, quote}; a quote found in another paragraph is cited there, with a fixable problem."""
        if not isinstance(item, Map):
            self.problem(line, "a citation must be a mapping with 'paragraph' and 'quote'")
            return None
        before = len(self.problems)
        self.keys(item, CITATION_KEYS)
        raw = item.get("paragraph")
        number = paragraph_number(raw) if isinstance(raw, str) else None
        if number is None and (raw is not None or "paragraph" not in getattr(item, "meant", ())):
            shown = shorten(raw) if isinstance(raw, str) else _kind(raw)
            self.problem(item.key_lines.get("paragraph", line),
                         f"citation 'paragraph' must be a number like 4, not {shown}")
        quote = self.text(item, "quote")
        if len(self.problems) > before or number is None or quote is None:
            return None
        if article is not None:
            why = article.verify_quote(number, quote)
            if why:
                quote_line = item.key_lines.get("quote", line)
                found = article.locate(quote)
                if not found:
                    close = article.closest(number, quote)
                    self.problem(quote_line, why, hint=f"¶{number} says: {close!r}" if close else None)
                    return None
                new = nearest(found, number)
                self.problem(quote_line, why, Renumber(self.path, item.marks.get("paragraph"), number, new))
                return Citation(new, quote)
        return Citation(number, quote)

    def fact(self, m: Any, article: Article | None, line: int, what: str, keys: tuple[str, ...] = FACT_KEYS
             ) -> Fact | None:
        """A {text, citations} mapping (and an optional id, when `keys` allow it)."""
        if not isinstance(m, Map):
            self.problem(_line(m, line), f"{what} must be a mapping with 'text' and 'citations'")
            return None
        before = self.begin(m, keys)
        ident = self.ident(m, required=False) if "id" in keys else None
        text = self.text(m, "text")
        cites = self.citations(m, article)
        if _broken(self.problems[before:]) or text is None or not cites:
            return None
        return Fact(text, cites, ident or "")

    def facts(self, m: Map, article: Article | None) -> tuple[Fact, ...] | None:
        value = m.get("facts")
        if value is None:
            return ()
        line = m.key_lines.get("facts", m.line)
        if not isinstance(value, list):
            self.problem(line, "field 'facts' must be a list")
            return None
        out = [self.fact(item, article, line, "each fact", LISTED_FACT_KEYS) for item in value]
        lines: dict[str, int] = {}
        for f, item_line in zip(out, value.lines, strict=True):
            if f is not None and f.id and lines.setdefault(f.id, item_line) != item_line:
                self.problem(item_line, f"duplicate fact id {f.id!r} (first at line {lines[f.id]})")
                return None
        if any(f is None for f in out):
            return None
        return tuple(f for f in out if f is not None)


def _broken(problems: Iterable[Problem]) -> bool:
    """Whether any of these problems disables its item (a quote found elsewhere doesn't: it is cited there)."""
    return any(p.fix is None for p in problems)


# --- the knowledge directory ---------------------------------------------------


def load_knowledge(directory: Path | str) -> LoadResult:
    """Load and validate every knowledge file under `directory`. Never raises for bad knowledge."""
    root = Path(directory)
    problems: list[Problem] = []

    def reader(path: Path) -> _FileReader:
        return _FileReader(path, display_path(path), problems)

    if not root.is_dir():
        problems.append(Problem(str(root), 0, "knowledge directory not found"))
        return LoadResult(None, tuple(problems))

    known = {STORY_FILE, PEOPLE_FILE, TERMS_FILE, TIMELINE_FILE, SYNONYMS_FILE}
    for path in sorted(filter(is_knowledge_file, root.glob("*.y*ml"))):
        if path.name not in known and not path.match(QA_GLOB):
            problems.append(Problem(display_path(path), 1, "unknown knowledge file (expected story, people, "
                                    "terms, timeline, synonyms, qa*.yaml or qa/*.yaml)"))

    for required in (PEOPLE_FILE, TERMS_FILE, TIMELINE_FILE):
        if not (root / required).exists():
            problems.append(Problem(display_path(root / required), 0, "required file missing: create it "
                                    "(`[]` if the story has none yet)"))
    story, article = _load_story_and_article(root, reader)
    declared_people: set[str] = set()
    declared_terms: set[str] = set()
    people = _load_named(reader(root / PEOPLE_FILE), article, Person, declared_people) \
        if (root / PEOPLE_FILE).exists() else []
    terms = _load_named(reader(root / TERMS_FILE), article, Term, declared_terms) \
        if (root / TERMS_FILE).exists() else []
    known_refs = {"person": (declared_people, {p.id for p in people}),
                  "term": (declared_terms, {t.id for t in terms})}
    declared_events: set[str] = set()
    timeline = _load_timeline(reader(root / TIMELINE_FILE), article, known_refs, declared_events) \
        if (root / TIMELINE_FILE).exists() else []
    facts: _Facts = {"person": (declared_people, {p.id: (p.role, p.facts) for p in people}),
                     "term": (declared_terms, {t.id: (t.definition, t.facts) for t in terms}),
                     "event": (declared_events, {e.id: (Fact(e.text, e.citations), ()) for e in timeline})}
    qa: list[QAEntry] = []
    owners: dict[str, tuple[str, Origin]] = {}
    for path in qa_files(root):
        qa.extend(_load_qa(reader(path), article, known_refs, facts, owners))

    synonyms = _load_synonyms(reader(root / SYNONYMS_FILE)) if (root / SYNONYMS_FILE).exists() else ()
    if story is None or article is None:
        return LoadResult(None, tuple(problems))
    kb = KnowledgeBase(story, article, tuple(qa), tuple(people), tuple(terms), tuple(timeline), synonyms)
    return LoadResult(kb, tuple(problems))


def load_article(directory: Path | str) -> tuple[Article | None, tuple[Problem, ...]]:
    """Only the story and its article, numbered: for `python -m bot paragraph` and quote help."""
    problems: list[Problem] = []
    root = Path(directory)
    _, article = _load_story_and_article(root, lambda path: _FileReader(path, display_path(path), problems))
    return article, tuple(problems)


def qa_files(root: Path) -> list[Path]:
    """qa*.yaml at the top, then knowledge/qa/*.yaml (one file per topic), each group sorted."""
    folder = root / QA_DIR
    found = sorted(root.glob(QA_GLOB)) + (sorted(folder.glob("*.yaml")) if folder.is_dir() else [])
    return [path for path in found if is_knowledge_file(path)]


def is_knowledge_file(path: str | Path) -> bool:
    """Files the loader reads; not editors' lock, backup or swap files, our edit lock, or temporaries.

    An Emacs lock file `.#qa-trip.yaml` beside the knowledge was read as an unknown knowledge file: the
    reload was refused while /kb add said ok. The watcher and the editor use this same rule.
    """
    name = Path(path).name
    if name.startswith((".", "#")) or name.endswith(("~", "#")):  # .#x .x.swp, #x#, x~
        return False
    return name == ARTICLE_FILE or name.endswith((".yaml", ".yml"))


def display_path(path: Path) -> str:
    """Paths relative to the working directory when possible: shorter, and clickable in editors."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symlink loop (RuntimeError before Python 3.13)
        return str(path)


def _load_story_and_article(root: Path, reader: Any) -> tuple[Story | None, Article | None]:
    story = _load_story(reader(root / STORY_FILE))
    return story, _load_article(reader(root / ARTICLE_FILE), story)


def _load_story(r: _FileReader) -> Story | None:
    if not r.path.exists():
        r.problem(0, "missing story file")
        return None
    data = r.load()
    if not isinstance(data, Map):
        if data is not None or not r.problems:
            r.problem(_line(data, 1), "story file must be a mapping with title, summary, lead_section, headings")
        return None
    before = r.begin(data, STORY_KEYS)
    title = r.text(data, "title")
    summary = r.text(data, "summary")
    lead = r.text(data, "lead_section")
    headings = r.texts(data, "headings")
    places = r.texts(data, "places")
    language = r.text(data, "language", required=False) or "en"
    if len(r.problems) > before or title is None or summary is None or lead is None:
        return None
    if not LANGUAGE.fullmatch(language):  # reported, but the article is still read with the story's headings
        r.problem(data.key_lines["language"], f"language {shorten(language)} is not a language tag like en or fr")
        language = "en"
    return Story(title, summary, lead, tuple(headings), tuple(p.strip() for p in places), language)


def _load_article(r: _FileReader, story: Story | None) -> Article | None:
    text, why = read_text(r.path)
    if text is None:
        r.problem(why[0] if why else 0, f"cannot read the article: {why[1] if why else 'unknown error'}")
        return None
    headings = list(story.headings) if story else []
    lines = {fold(line) for line in text.splitlines()}
    for heading in headings:
        if fold(heading) not in lines:
            r.problem(1, f"heading {heading!r} from {STORY_FILE} is not a line of the article")
    folded = fold(text)
    for place in story.places if story else ():
        if fold(place) not in folded:
            r.problem(1, f"place {place!r} from {STORY_FILE} is not named in the article")
    for number, line in undeclared_headings(text, headings):
        r.problem(number, f"{line!r} {LOOKS_LIKE_HEADING}: declare it in {STORY_FILE}'s `headings:` (or "
                          "end it with a full stop if it is a paragraph); until then it counts as a paragraph")
    article = parse_article(text, headings, story.lead_section if story else "Story")
    if not article.paragraphs:
        r.problem(1, "the article has no paragraphs")
        return None
    return article


def undeclared_headings(text: str, headings: Iterable[str]) -> list[tuple[int, str]]:
    """The lines of an article that look like headings and are not declared as such: (line number, line)."""
    declared = {fold(h) for h in headings}
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if fold(line) not in declared and _HEADING_LIKE.fullmatch(line.strip())]


def _load_named(r: _FileReader, article: Article | None, kind: type[_N], declared: set[str]) -> list[_N]:
    """people.yaml (Person, "role") or terms.yaml (Term, "definition"); `declared` gets every id written."""
    fact_key, keys, what = ("role", PERSON_KEYS, "person") if kind is Person else ("definition", TERM_KEYS, "term")
    out: list[_N] = []
    for m in r.items(r.load(), "people" if kind is Person else "terms"):
        before = r.begin(m, keys)
        ident = r.ident(m, declared=declared)
        name = r.text(m, "name")
        aliases = r.texts(m, "aliases")
        lead = None
        if fact_key in m:
            lead = r.fact(m[fact_key], article, m.key_lines.get(fact_key, m.line), f"field {fact_key!r}")
        else:
            r.missing(m, fact_key)
        facts = r.facts(m, article)
        if _broken(r.problems[before:]) or ident is None or name is None or lead is None or facts is None:
            continue
        out.append(kind(ident, name, tuple(aliases), lead, facts, Origin(r.display, m.line)))
    _check_names(r, out, what)
    return out


def _check_names(r: _FileReader, items: Iterable[Person | Term], what: str) -> None:
    """Ids unique, and no name or alias pointing at two different items."""
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for item in items:
        if item.id in ids:
            r.problem(item.origin.line, f"duplicate {what} id {item.id!r} (first at line {ids[item.id]})")
        ids.setdefault(item.id, item.origin.line)
        for name in item.names:
            key = fold(name)
            if names.setdefault(key, item.id) != item.id:
                r.problem(item.origin.line, f"name {name!r} is used by both {names[key]!r} and {item.id!r}")


_Refs = dict[str, tuple[set[str], set[str]]]  # "person"/"term" -> (ids written, ids loaded)
# "person"/"term"/"event" -> (ids written, id loaded -> (its role/definition/text, its listed facts))
_Facts = dict[str, tuple[set[str], dict[str, tuple[Fact, tuple[Fact, ...]]]]]


def _refs(r: _FileReader, m: Map, key: str, known: _Refs, what: str) -> tuple[str, ...] | None:
    """Ids an item refers to. An id written but not loaded (its own problem is reported) is left out quietly."""
    declared, loaded = known[what]
    refs = r.texts(m, key)
    bad = [ref for ref in refs if ref not in declared]
    for ref in bad:
        r.problem(m.key_lines.get(key, m.line), f"unknown {what} {shorten(ref)} (not in {what} ids)")
    return None if bad else tuple(ref for ref in refs if ref in loaded)


def _load_timeline(r: _FileReader, article: Article | None, known: _Refs, declared: set[str]) -> list[Event]:
    """timeline.yaml; `declared` gets every id written."""
    out: list[Event] = []
    seen: dict[str, int] = {}
    for m in r.items(r.load(), "events"):
        before = r.begin(m, EVENT_KEYS)
        ident = r.ident(m, declared=declared)
        when = r.text(m, "when")
        text = r.text(m, "text")
        cites = r.citations(m, article)
        people = _refs(r, m, "people", known, "person")
        if ident in seen:
            r.problem(m.line, f"duplicate event id {ident!r} (first at line {seen[ident]})")
        if _broken(r.problems[before:]) or None in (ident, when, text, people) or not cites:
            continue
        seen[ident] = m.line
        out.append(Event(ident, when, text, cites, people, Origin(r.display, m.line)))
    return out


def _load_synonyms(r: _FileReader) -> tuple[tuple[str, ...], ...]:
    """Groups of words or phrases that mean the same in this story; a word may sit in one group only."""
    data = r.load()
    if data is None:
        return ()
    if not isinstance(data, list):
        r.problem(_line(data, 1), "expected a list of synonym groups, each a list like [buy, purchase]")
        return ()
    groups: list[tuple[str, ...]] = []
    owner: dict[str, int] = {}
    for group, line in zip(data, data.lines, strict=True):
        for problem_line, message in getattr(group, "problems", ()):
            r.problem(problem_line, message)
        if (not isinstance(group, Seq) or group.problems or len(group) < 2
                or not all(isinstance(w, str) and w.strip() for w in group)):
            if not isinstance(group, Seq) or not group.problems:
                r.problem(line, "a synonym group must be a list of at least two words or phrases")
            continue
        for word, word_line in zip(group, group.lines, strict=True):
            first = owner.setdefault(phrasing_key(word), line)
            if first != line:
                r.problem(word_line, f"{word!r} is already in the synonym group at line {first}")
        groups.append(tuple(w.strip() for w in group))
    return tuple(groups)


def _load_qa(r: _FileReader, article: Article | None, known: _Refs, facts: _Facts,
             owners: dict[str, tuple[str, Origin]]) -> list[QAEntry]:
    """Q&A entries of one file; `owners` maps ids and phrasings seen so far (across files) to their entry."""
    out: list[QAEntry] = []
    for m in r.items(r.load(), "Q&A entries"):
        before = r.begin(m, QA_KEYS)
        ident = r.ident(m)
        question = r.text(m, "question")
        lined = r.lined_texts(m, "phrasings")
        phrasings = [text for text, _ in lined]
        see = r.text(m, "see", required=False)
        answer = r.text(m, "answer", required=see is None)
        cites, reference = r.citations(m, article) if see is None else (), None
        if see is not None and (fact := _see(r, m, see, facts)) is not None:
            # (when None, the entry is left out: its problem is reported, or the fact's own is)
            cites, reference = fact.citations, Reference(see, own_answer=answer is not None)
            answer = answer or fact.text
        people = _refs(r, m, "people", known, "person")
        terms = _refs(r, m, "terms", known, "term")
        origin = Origin(r.display, m.line)
        if ident is not None:
            if first := _claim(owners, f"id:{ident}", ident, origin):
                r.problem(m.key_lines["id"], f"duplicate Q&A id {ident!r} (first at {first[1]})")
            for text in dict.fromkeys(phrasing_key(q) for q in (question or "", *phrasings) if q):
                if first := _claim(owners, f"q:{text}", ident, origin):
                    line = next((n for q, n in lined if phrasing_key(q) == text), m.key_lines.get("question", m.line))
                    r.problem(line, f"question {shorten(text)} is under both {first[0]!r} ({first[1]}) and {ident!r}")
        if _broken(r.problems[before:]) or None in (ident, question, answer, people, terms) or not cites:
            continue
        out.append(QAEntry(ident, question, tuple(p.strip() for p in phrasings), answer, cites,
                           people, terms, origin, tuple(n for _, n in lined), reference))
    return out


def _see(r: _FileReader, m: Map, see: str, facts: _Facts) -> Fact | None:
    """The fact a Q&A entry's `see:` names; None when it cannot be used (its problem reported, if it is the
    entry's: a fact with a problem of its own is reported where it is written, not again here)."""
    line = m.key_lines.get("see", m.line)
    if "citations" in m:
        r.problem(m.key_lines.get("citations", line), "an entry with 'see:' takes its citations from that fact: "
                                                       "remove 'citations' (or 'see' to keep its own)")
        return None
    words = see.split()
    if len(words) not in (2, 4) or (len(words) == 4 and words[2] != "fact"):
        r.problem(line, f"see: {shorten(see)} is not a reference; write it like {SEE_FORM}")
        return None
    kind, ident = words[0].lower(), words[1]
    if kind not in SEE_KINDS:
        meant = _SEE_MEANT.get(kind) or _suggest(kind, SEE_KINDS)
        r.problem(line, f"see: unknown kind {shorten(kind)}" + (f"; did you mean {meant!r}?" if meant else
                                                                f"; it is one of {', '.join(SEE_KINDS)}"))
        return None
    declared, loaded = facts[kind]
    if ident not in declared:
        meant = _suggest(ident, declared)
        r.problem(line, f"see: unknown {kind} {shorten(ident)}" + (f"; did you mean {meant!r}?" if meant else
                                                                   f" (not in {kind} ids)"))
        return None
    if ident not in loaded:
        return None
    lead, listed = loaded[ident]
    if len(words) == 2:
        return lead
    if kind == "event":
        r.problem(line, f"see: an event has no facts of its own; write 'event {ident}'")
        return None
    named = {f.id: f for f in listed if f.id}
    if (fact := named.get(words[3])) is None:
        meant = _suggest(words[3], named)
        hint = (f"did you mean {meant!r}?" if meant else f"its facts with an id: {', '.join(named)}" if named
                else f"give the fact an 'id:' line in {PEOPLE_FILE if kind == 'person' else TERMS_FILE}")
        r.problem(line, f"see: {kind} {ident!r} has no fact {shorten(words[3])}; {hint}")
    return fact


def _suggest(word: str, choices: Iterable[str], cutoff: int = ID_SUGGESTION) -> str | None:
    """The known key, id or word closest to a misspelt one, if it is close enough (rapidfuzz ratio) to be meant."""
    best = process.extractOne(word.lower(), list(choices), scorer=fuzz.ratio, score_cutoff=cutoff)
    return best[0] if best else None


def _claim(owners: dict[str, tuple[str, Origin]], key: str, ident: str, origin: Origin) -> tuple[str, Origin] | None:
    """Record that entry `ident` owns `key`; return the other owner when there is one already."""
    owner = owners.setdefault(key, (ident, origin))
    return None if owner == (ident, origin) else owner


def phrasing_key(text: str) -> str:
    """Two phrasings that differ only in case, punctuation or spacing are the same question."""
    return " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())

"""Load knowledge/ into a KnowledgeBase, reporting every problem as `path:line: message`.

The loader never raises on bad knowledge: it collects problems, skips the items
that have them, and still builds what it can so `check` can report coverage.
Callers that serve readers refuse a result with problems (see LoadResult.ok).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.knowledge.article import Article, fold, parse_article
from bot.knowledge.model import (
    Citation,
    Event,
    Fact,
    KnowledgeBase,
    Origin,
    Person,
    QAEntry,
    Story,
    Term,
)

ARTICLE_FILE = "article.txt"
STORY_FILE = "story.yaml"
PEOPLE_FILE = "people.yaml"
TERMS_FILE = "terms.yaml"
TIMELINE_FILE = "timeline.yaml"
SYNONYMS_FILE = "synonyms.yaml"
QA_GLOB = "qa*.yaml"  # qa.yaml, plus qa-discord.yaml and any other qa-*.yaml
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_N = TypeVar("_N", Person, Term)


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadResult:
    kb: KnowledgeBase | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.kb is not None and not self.problems


# --- YAML that remembers where each value was written -----------------------


class _Map(dict):
    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list):
    line: int = 0


class _Str(str):
    line: int = 0


# libyaml's parser when present (about ten times faster); its nodes carry the same marks.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _MarkedLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader whose maps, lists and strings carry their 1-based line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[Any, int]] = []


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in out:
            loader.duplicate_keys.append((key, line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _MarkedLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


def _construct_str(loader: _MarkedLoader, node: yaml.ScalarNode) -> _Str:
    out = _Str(loader.construct_scalar(node))
    out.line = node.start_mark.line + 1
    return out


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_MarkedLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def _kind(value: Any) -> str:
    """A YAML-ish name for a value's type, for messages to people who write YAML, not Python."""
    for types, name in ((dict, "a mapping"), (list, "a list"), (bool, "true/false"), ((int, float), "a number")):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _line(value: Any, default: int) -> int:
    return getattr(value, "line", default) or default


# --- reading one file ---------------------------------------------------------


class _FileReader:
    """Reads typed fields out of one YAML file, recording a Problem for each mistake."""

    def __init__(self, path: Path, display: str, problems: list[Problem]) -> None:
        self.path = path
        self.display = display
        self.problems = problems

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.display, line, message))

    def load(self) -> Any:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(1, f"cannot read file: {exc}")
            return None
        loader = _MarkedLoader(text)
        try:
            data = loader.get_single_data()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.problem(line, f"invalid YAML: {exc.problem or exc.context}")
            return None
        except yaml.YAMLError as exc:
            self.problem(1, f"invalid YAML: {exc}")
            return None
        finally:
            loader.dispose()
        for key, line in loader.duplicate_keys:
            self.problem(line, f"duplicate key {key!r}: only the last value would count")
        return data

    def items(self, data: Any, what: str) -> list[_Map]:
        """The file's top-level list of mappings (an empty file is an empty list)."""
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(_line(data, 1), f"expected a list of {what} at the top of the file")
            return []
        out = []
        for item in data:
            if isinstance(item, _Map):
                out.append(item)
            else:
                self.problem(_line(item, _line(data, 1)), f"each {what} must be a mapping of fields")
        return out

    def text(self, m: _Map, key: str, *, required: bool = True) -> str | None:
        line = m.key_lines.get(key, m.line)
        if key not in m or m[key] is None:
            if required:
                self.problem(m.line, f"missing field {key!r}")
            return None
        value = m[key]
        if not isinstance(value, str):
            self.problem(line, f"field {key!r} must be text, not {_kind(value)}")
            return None
        if not value.strip():
            self.problem(line, f"field {key!r} is empty")
            return None
        return value.strip()

    def ident(self, m: _Map) -> str | None:
        value = self.text(m, "id")
        if value is not None and not _ID.match(value):
            self.problem(m.key_lines["id"], f"id {value!r} must be lower-case letters, digits and dashes")
            return None
        return value

    def texts(self, m: _Map, key: str) -> list[str]:
        """An optional list of non-empty strings."""
        if key not in m or m[key] is None:
            return []
        value = m[key]
        line = m.key_lines.get(key, m.line)
        if not isinstance(value, list):
            self.problem(line, f"field {key!r} must be a list")
            return []
        out = []
        for item in value:
            if isinstance(item, str) and item.strip():
                out.append(item)
            else:
                self.problem(_line(item, line), f"each item of {key!r} must be non-empty text")
        return out

    def citations(self, m: _Map, article: Article | None, *, key: str = "citations") -> tuple[Citation, ...]:
        """A required, non-empty list of {paragraph, quote}, each checked against the article."""
        line = m.key_lines.get(key, m.line)
        value = m.get(key)
        if value is None:
            self.problem(m.line, f"missing field {key!r}")
            return ()
        if not isinstance(value, list) or not value:
            self.problem(line, f"field {key!r} must be a non-empty list of {{paragraph, quote}}")
            return ()
        out = []
        for item in value:
            item_line = _line(item, line)
            if not isinstance(item, _Map):
                self.problem(item_line, "a citation must be a mapping with 'paragraph' and 'quote'")
                continue
            number = item.get("paragraph")
            if not isinstance(number, int) or isinstance(number, bool):
                self.problem(item.key_lines.get("paragraph", item_line), "citation 'paragraph' must be a number")
                continue
            quote = self.text(item, "quote")
            if quote is None:
                continue
            if article is not None:
                why = article.verify_quote(number, quote)
                if why:
                    self.problem(item.key_lines.get("quote", item_line), why)
                    continue
            out.append(Citation(number, quote))
        return tuple(out) if len(out) == len(value) else ()

    def fact(self, m: Any, article: Article | None, line: int, what: str) -> Fact | None:
        """A {text, citations} mapping."""
        if not isinstance(m, _Map):
            self.problem(_line(m, line), f"{what} must be a mapping with 'text' and 'citations'")
            return None
        before = len(self.problems)
        text = self.text(m, "text")
        cites = self.citations(m, article)
        if len(self.problems) > before or text is None:
            return None
        return Fact(text, cites)

    def facts(self, m: _Map, article: Article | None) -> tuple[Fact, ...] | None:
        value = m.get("facts")
        if value is None:
            return ()
        line = m.key_lines.get("facts", m.line)
        if not isinstance(value, list):
            self.problem(line, "field 'facts' must be a list")
            return None
        out = [self.fact(item, article, line, "each fact") for item in value]
        if any(f is None for f in out):
            return None
        return tuple(f for f in out if f is not None)


# --- the knowledge directory ---------------------------------------------------


def load_knowledge(directory: Path | str) -> LoadResult:
    """Load and validate every knowledge file under `directory`. Never raises for bad knowledge."""
    root = Path(directory)
    problems: list[Problem] = []

    def reader(name: str | Path) -> _FileReader:
        path = root / name
        return _FileReader(path, display_path(path), problems)

    if not root.is_dir():
        problems.append(Problem(str(root), 0, "knowledge directory not found"))
        return LoadResult(None, tuple(problems))

    known = {STORY_FILE, PEOPLE_FILE, TERMS_FILE, TIMELINE_FILE, SYNONYMS_FILE}
    for path in sorted(root.glob("*.y*ml")):
        if path.name not in known and not path.match(QA_GLOB):
            problems.append(Problem(display_path(path), 1, "unknown knowledge file (expected story, people, "
                                    "terms, timeline, synonyms or qa*.yaml)"))

    story = _load_story(reader(STORY_FILE))
    article = _load_article(reader(ARTICLE_FILE), story)
    people = _load_named(reader(PEOPLE_FILE), article, Person, "role", "person")
    terms = _load_named(reader(TERMS_FILE), article, Term, "definition", "term")
    person_ids = {p.id for p in people}
    term_ids = {t.id for t in terms}
    timeline = _load_timeline(reader(TIMELINE_FILE), article, person_ids)
    qa: list[QAEntry] = []
    owners: dict[str, tuple[str, Origin]] = {}
    for path in sorted(root.glob(QA_GLOB)):
        qa.extend(_load_qa(reader(path.name), article, person_ids, term_ids, owners))

    synonyms = _load_synonyms(reader(SYNONYMS_FILE)) if (root / SYNONYMS_FILE).exists() else ()
    if story is None or article is None:
        return LoadResult(None, tuple(problems))
    kb = KnowledgeBase(story, article, tuple(qa), tuple(people), tuple(terms), tuple(timeline), synonyms)
    return LoadResult(kb, tuple(problems))


def display_path(path: Path) -> str:
    """Paths relative to the working directory when possible: shorter, and clickable in editors."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_story(r: _FileReader) -> Story | None:
    if not r.path.exists():
        r.problem(0, "missing story file")
        return None
    data = r.load()
    if not isinstance(data, _Map):
        if data is not None or not r.problems:
            r.problem(_line(data, 1), "story file must be a mapping with title, summary, lead_section, headings")
        return None
    before = len(r.problems)
    title = r.text(data, "title")
    summary = r.text(data, "summary")
    lead = r.text(data, "lead_section")
    headings = r.texts(data, "headings")
    places = r.texts(data, "places")
    if len(r.problems) > before or title is None or summary is None or lead is None:
        return None
    return Story(title, summary, lead, tuple(headings), tuple(p.strip() for p in places))


def _load_article(r: _FileReader, story: Story | None) -> Article | None:
    try:
        text = r.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        r.problem(0, f"cannot read the article: {exc}")
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
    article = parse_article(text, headings, story.lead_section if story else "Story")
    if not article.paragraphs:
        r.problem(1, "the article has no paragraphs")
        return None
    return article


def _named(r: _FileReader, m: _Map, article: Article | None, fact_key: str) -> tuple | None:
    """Shared fields of people and terms: id, name, aliases, a cited lead fact, facts."""
    before = len(r.problems)
    ident = r.ident(m)
    name = r.text(m, "name")
    aliases = r.texts(m, "aliases")
    lead = r.fact(m.get(fact_key), article, m.key_lines.get(fact_key, m.line), f"field {fact_key!r}")
    if fact_key not in m:
        r.problem(m.line, f"missing field {fact_key!r}")
    facts = r.facts(m, article)
    if len(r.problems) > before or ident is None or name is None or lead is None or facts is None:
        return None
    return ident, name, tuple(aliases), lead, facts, Origin(r.display, m.line)


def _load_named(r: _FileReader, article: Article | None, kind: type[_N], fact_key: str, what: str) -> list[_N]:
    """people.yaml (Person, "role") or terms.yaml (Term, "definition")."""
    out: list[_N] = []
    for m in r.items(r.load(), "people" if kind is Person else "terms"):
        fields = _named(r, m, article, fact_key)
        if fields:
            out.append(kind(*fields))
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


def _refs(r: _FileReader, m: _Map, key: str, known: set[str], what: str) -> tuple[str, ...] | None:
    refs = r.texts(m, key)
    bad = [ref for ref in refs if ref not in known]
    for ref in bad:
        r.problem(m.key_lines.get(key, m.line), f"unknown {what} {ref!r} (not in {what} ids)")
    return None if bad else tuple(refs)


def _load_timeline(r: _FileReader, article: Article | None, person_ids: set[str]) -> list[Event]:
    out: list[Event] = []
    seen: dict[str, int] = {}
    for m in r.items(r.load(), "events"):
        before = len(r.problems)
        ident = r.ident(m)
        when = r.text(m, "when")
        text = r.text(m, "text")
        cites = r.citations(m, article)
        people = _refs(r, m, "people", person_ids, "person")
        if ident in seen:
            r.problem(m.line, f"duplicate event id {ident!r} (first at line {seen[ident]})")
        if len(r.problems) > before or None in (ident, when, text, people):
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
        r.problem(_line(data, 1), "expected a list of synonym groups, each a list like [tariff, levy, duty]")
        return ()
    groups: list[tuple[str, ...]] = []
    owner: dict[str, int] = {}
    for group in data:
        line = _line(group, _line(data, 1))
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            r.problem(line, "a synonym group must be a list of at least two words or phrases")
            continue
        for word in group:
            first = owner.setdefault(phrasing_key(word), line)
            if first != line:
                r.problem(_line(word, line), f"{word!r} is already in the synonym group at line {first}")
        groups.append(tuple(w.strip() for w in group))
    return tuple(groups)


def _load_qa(r: _FileReader, article: Article | None, person_ids: set[str], term_ids: set[str],
             owners: dict[str, tuple[str, Origin]]) -> list[QAEntry]:
    """Q&A entries of one file; `owners` maps ids and phrasings seen so far (across files) to their entry."""
    out: list[QAEntry] = []
    for m in r.items(r.load(), "Q&A entries"):
        before = len(r.problems)
        ident = r.ident(m)
        question = r.text(m, "question")
        phrasings = r.texts(m, "phrasings")
        answer = r.text(m, "answer")
        cites = r.citations(m, article)
        people = _refs(r, m, "people", person_ids, "person")
        terms = _refs(r, m, "terms", term_ids, "term")
        origin = Origin(r.display, m.line)
        if ident is not None:
            if first := _claim(owners, f"id:{ident}", ident, origin):
                r.problem(m.key_lines["id"], f"duplicate Q&A id {ident!r} (first at {first[1]})")
            for text in dict.fromkeys(phrasing_key(q) for q in (question or "", *phrasings) if q):
                if first := _claim(owners, f"q:{text}", ident, origin):
                    line = _line(next((q for q in phrasings if phrasing_key(q) == text), None),
                                 m.key_lines.get("question", m.line))
                    r.problem(line, f"question {text!r} is under both {first[0]!r} ({first[1]}) and {ident!r}")
        if len(r.problems) > before or None in (ident, question, answer, people, terms):
            continue
        out.append(QAEntry(ident, question, tuple(p.strip() for p in phrasings), answer, cites,
                           people, terms, origin))
    return out


def _claim(owners: dict[str, tuple[str, Origin]], key: str, ident: str, origin: Origin) -> tuple[str, Origin] | None:
    """Record that entry `ident` owns `key`; return the other owner when there is one already."""
    owner = owners.setdefault(key, (ident, origin))
    return None if owner == (ident, origin) else owner


def phrasing_key(text: str) -> str:
    """Two phrasings that differ only in case, punctuation or spacing are the same question."""
    return " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())

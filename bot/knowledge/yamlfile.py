"""Reading one knowledge YAML file safely, with every value as text and every mistake at its line.

Why not `yaml.safe_load`: a moderator's file is untrusted input. Type tags (`!!int abc`,
`!!timestamp soon`), implicit types (`when: 2025-02-30` is a date to PyYAML, `answer: No` a
boolean), 5,000-digit numbers, aliases (`*a`: a 600-byte "billion laughs" grows to gigabytes)
and deep nesting (recursion) all crash or exhaust `safe_load`. Here PyYAML (libyaml when
present) only parses the file into events, and a small iterative builder turns them into
plain mappings, lists and strings that remember their line. It never resolves a type, never
expands an alias, and stops at a size, depth and node budget, so a file costs bounded time
and memory and every outcome is a `path:line: message`.

Syntax errors are explained in a moderator's words, at the line where the mistake starts. When
a file is a list of entries, a syntax error loses only the entry it is in: the other entries
are parsed on their own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.article import shorten
from bot.safefile import NotRegularFile, TooLarge, read_regular

MAX_FILE_BYTES = 16 * 1024 * 1024  # the real knowledge is 150 kB in all; 10,000 entries in one file are 5 MB
MAX_DEPTH = 12  # knowledge nests 5 levels at most (list > entry > facts > fact > citations > citation)
MAX_NODES = 500_000  # values per file (10,000 entries are 180,000): time and memory stay bounded

_EventLoader: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml is about ten times faster
_TOP_ITEM = re.compile(r"^(\s*)-(\s|$)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_OPEN_QUOTE = re.compile(r":\s+([\"'])(.*)$")


class Map(dict):
    """A YAML mapping that remembers its line, each key's line, and the problems inside it."""

    line: int = 0
    key_lines: dict[str, int]
    marks: dict[str, Mark]
    problems: list[tuple[int, str]]


class Seq(list):
    """A YAML list that remembers its line, each item's line, and the problems inside it.

    Items are plain str/Map/Seq: a str subclass carrying its line would cost a dict per value
    (650 MB for a million values); the lines live in the containers instead.
    """

    line: int = 0
    lines: list[int]
    problems: list[tuple[int, str]]


_SKIP = "\0"  # stands for a key that is not text: its value is dropped


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a scalar was written: character offsets into the file, for edits in place (check --fix)."""

    line: int
    start: int
    end: int


@dataclass(slots=True)
class YamlFile:
    """A parsed file: its data (None when unusable) and the problems that are not inside one entry."""

    data: Any
    problems: list[tuple[int, str]] = field(default_factory=list)


def read_text(path: Path) -> tuple[str | None, tuple[int, str] | None]:
    """A file's text, or why it can't be read: not a regular file (a FIFO would block), too large, not UTF-8."""
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except NotRegularFile:
        return None, (0, "not a regular file (a pipe, device or directory?); knowledge files are text files")
    except TooLarge as exc:
        size = f" ({exc.size:,} bytes)" if exc.size is not None else ""
        return None, (0, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB{size}; knowledge files are "
                         "small text files: is this the right file?")
    except OSError as exc:
        return None, (0, f"cannot read file: {exc.strerror or exc}")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, (line, "this line is not UTF-8 text: save the file as UTF-8 (is it a text file at all?)")


def read_yaml(path: Path) -> YamlFile:
    """Parse one knowledge file. Never raises; `data` is None when the file as a whole is unusable."""
    text, why = read_text(path)
    if text is None:
        return YamlFile(None, [why] if why else [])
    return parse(text)


def parse(text: str) -> YamlFile:
    """Parse YAML text; on a syntax error in a list of entries, parse each entry alone and keep the good ones."""
    try:
        return _Builder().build(text, 0, 0)
    except yaml.YAMLError as exc:
        error = exc
    chunks = _top_items(text)
    if len(chunks) < 2:
        return YamlFile(None, [explain(error, text, 0)])
    out = YamlFile(Seq())
    out.data.line, out.data.lines = chunks[0][0] + 1, []
    for offset, chars, chunk in chunks:
        try:
            part = _Builder().build(chunk, offset, chars)
        except yaml.YAMLError as exc:
            out.problems.append(explain(exc, chunk, offset))
            continue
        out.problems.extend(part.problems)
        if isinstance(part.data, Seq):
            out.data.extend(part.data)
            out.data.lines.extend(part.data.lines)
    return out


def _top_items(text: str) -> list[tuple[int, int, str]]:
    """The file cut into its top-level list items, each with the 0-based line and character it starts at."""
    lines = text.splitlines(keepends=True)
    indent = None
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            match = _TOP_ITEM.match(line)
            indent = match.group(1) if match else None
            break
    if indent is None:
        return []
    starts = [i for i, line in enumerate(lines)
              if (m := _TOP_ITEM.match(line)) and m.group(1) == indent]
    if not starts:
        return []
    starts[0] = 0  # comments above the first item belong to it
    bounds = [*starts, len(lines)]
    chars = [0]
    for line in lines:
        chars.append(chars[-1] + len(line))
    return [(a, chars[a], "".join(lines[a:b])) for a, b in itertools.pairwise(bounds)]


_SCALAR, _ALIAS = yaml.ScalarEvent, yaml.AliasEvent
_MAP_START, _SEQ_START = yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_STREAM_END = yaml.StreamEndEvent


class _Builder:
    """Turns parser events into Map/Seq/str, iteratively (no recursion), within the budgets.

    The loop dispatches on the event's exact type and builds a Mark only for mapping values:
    it runs once per value of every file, so it is kept lean.
    """

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.stack: list[Map | Seq] = []
        self.keys: list[tuple[str, int] | None] = []  # per open mapping: the key (and its line) awaiting a value
        self.scalar: Any = None  # the last scalar event, for its Mark
        self.refused: set[tuple[int | None, bool]] = set()  # (entry, anchor?) reported: a bomb is one line

    def build(self, text: str, offset: int, chars: int) -> YamlFile:
        parser = _EventLoader(text)
        try:
            return self._build(parser, offset, chars)
        finally:
            parser.dispose()

    def _build(self, parser: Any, offset: int, chars: int) -> YamlFile:
        self.chars = chars  # where this text starts in the file, for marks
        root: Any = None
        documents = nodes = 0
        stack = self.stack
        next_event = parser.get_event  # one call per event (yaml.parse adds a check_event and a generator)
        while (kind := type(event := next_event())) is not _STREAM_END:
            line = event.start_mark.line + 1 + offset
            if kind in _ENDS:
                done = stack.pop()
                if kind is yaml.MappingEndEvent:
                    self.keys.pop()
                if stack:
                    self._place(done, line)
                else:
                    root = done
                continue
            if kind is not _SCALAR and kind is not _MAP_START and kind is not _SEQ_START and kind is not _ALIAS:
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        self.problems.append((line, "a second document ('---'): a knowledge file holds one list "
                                                    "or mapping; remove the '---' line"))
                        break
                continue
            nodes += 1
            if nodes > MAX_NODES:
                return YamlFile(None, [(line, f"more than {MAX_NODES:,} values in one file; "
                                              "split it or check it is the right file")])
            if event.anchor is not None or (kind is not _ALIAS and event.tag not in (None, "!")):
                self._refuse(event, line)
            if kind is _SCALAR:
                self.scalar = event
                value: Any = None if event.style is None and event.value in _NULLS else event.value
            elif kind is _ALIAS:
                value = None
            else:
                if len(stack) >= MAX_DEPTH:
                    return YamlFile(None, [(line, f"nested more than {MAX_DEPTH} levels deep; knowledge "
                                                  "entries nest a few levels at most: check the indentation")])
                container: Map | Seq
                if kind is _MAP_START:
                    container = Map()
                    container.key_lines, container.marks = {}, {}
                    self.keys.append(None)
                else:
                    container = Seq()
                    container.lines = []
                container.line, container.problems = line, []
                stack.append(container)
                continue
            if stack:
                self._place(value, line)
            else:
                root = value
        return YamlFile(root, self.problems)

    def _refuse(self, event: Any, line: int) -> None:
        """Anchors, aliases and type tags: reported (the first of each per entry), never expanded or constructed."""
        owner = id(self.stack[1]) if len(self.stack) >= 2 and type(self.stack[0]) is Seq else None
        kind_key = (owner, event.anchor is not None)
        if kind_key in self.refused:
            return
        self.refused.add(kind_key)
        if event.anchor is not None:
            kind = "'*" if type(event) is _ALIAS else "'&"
            self._problem(line, f"{kind}{shorten(event.anchor)[1:-1]}' is a YAML anchor or alias; knowledge "
                                "files don't use them: write the value out in full (or put it in quotes)")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            self._problem(line, f"{shorten(shown)} is a YAML type tag, and every value here is text: "
                                f"remove {shorten(shown)} (or put the whole value in quotes)")

    def _place(self, value: Any, line: int) -> None:
        """Put a finished value into the open list, or as the key or the value of the open mapping."""
        top = self.stack[-1]
        if type(top) is Seq:
            top.append(value)
            top.lines.append(value.line if type(value) is Map or type(value) is Seq else line)
            return
        pending = self.keys[-1]
        if pending is None:
            if type(value) is not str:
                self._problem(line, "a key must be a plain word like 'answer:'")
                value = _SKIP
            self.keys[-1] = (value, line)
            return
        self.keys[-1] = None
        key, key_line = pending
        if key is _SKIP:
            return
        if key in top:
            self._problem(key_line, f"duplicate key {shorten(key)}: only the last value would count")
        top[key] = value
        top.key_lines[key] = key_line
        if type(value) is str:
            event = self.scalar
            top.marks[key] = Mark(line, event.start_mark.index + self.chars, event.end_mark.index + self.chars)

    def _problem(self, line: int, message: str) -> None:
        """A problem inside a top-level list item belongs to that item (it is skipped); others to the file."""
        if len(self.stack) >= 2 and type(self.stack[0]) is Seq:
            self.stack[1].problems.append((line, message))
        else:
            self.problems.append((line, message))


# --- syntax errors in a moderator's words ----------------------------------------------------------

_QUOTES = "put the whole value in double quotes"
_BY_CONTEXT = (  # (words of PyYAML's context, advice), reported at the line where that construct starts
    ("flow sequence", "a list in [ ] is not closed, or its items lack commas: close it with ], and put an item "
                      "containing ',' ':' '[' or ']' in quotes"),
    ("flow mapping", "a { } is not closed, or its parts lack commas: close it with }, and put a value containing "
                     "',' ':' or '}' in double quotes"),
    ("simple key", "this line needs a ':' after its key (like 'answer: ...'); if it continues the value above, "
                   "indent it further or put the whole value in quotes"),
    ("block scalar", "after '|' or '>' nothing may follow on the line: start the text on the next line, indented"),
)


def explain(exc: yaml.YAMLError, text: str, offset: int) -> tuple[int, str]:
    """(line, message) for a PyYAML/libyaml error: where the mistake starts and what to do about it."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1 + offset
        return line, "this line holds a control character (binary data?): knowledge files are plain text"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 1 + offset, f"the file is not valid YAML ({shorten(exc, 200)[1:-1]}); check quotes and indentation"
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    at = mark.line if mark else 0
    start = exc.context_mark.line if exc.context_mark else at
    lines = text.splitlines()
    source = lines[at] if 0 <= at < len(lines) else ""

    def say(line: int, message: str) -> tuple[int, str]:
        return line + 1 + offset, message

    if "quoted scalar" in context and "escape" in problem:
        return say(at, "a backslash (\\) inside double quotes starts an escape: write \\\\ for a backslash, "
                       "or use single quotes")
    unclosed = _unclosed_quote(lines[: at + 1])
    if "quoted scalar" in context or unclosed is not None:
        return say(start if unclosed is None else unclosed,
                   "this quote is never closed: add the closing quote at the end of the value")
    if "tab" in problem or "'\\t'" in problem:
        return say(at, "a tab character: indent with spaces, never tabs")
    if "mapping values are not allowed" in problem:
        _, _, value = source.partition(": ")
        if ": " in value or value.rstrip().endswith(":"):
            return say(at, f"a value containing ': ' needs quotes: {_QUOTES}")
        return say(at, "indentation: this line is indented more than the lines above it, or a '-' lacks "
                       "its space; line up the keys of one entry")
    for words, message in _BY_CONTEXT:
        if words in context:
            return say(start, message)
    if "cannot start any token" in problem or "alias" in context or "anchor" in context or "directive" in context:
        first = source.split(": ", 1)[-1].lstrip()[:1] or "this character"
        return say(at, f"a value cannot start with {first!r}: {_QUOTES}")
    if "expected key" in problem or "block end" in problem or "'-' indicator" in problem:
        _, _, value = source.partition(": ")
        if value[:1] in "\"'" and value.rstrip()[-1:] != value[:1]:
            return say(at, "text after a closing quote: put the quotes around the whole value (inside single "
                           "quotes write '' for ')")
        return say(at, "indentation: this line is not lined up with the lines above it; keys of one entry start "
                       "in the same column and each entry starts with '- '")
    return say(at, f"this is not valid YAML ({shorten(problem, 120)[1:-1]}); check quotes and indentation")


def _unclosed_quote(lines: list[str]) -> int | None:
    """The last of `lines` whose value opens a quote it doesn't close: where a quote swallowing
    the lines below it starts (a syntax error several lines further down is its consequence)."""
    for i in range(len(lines) - 1, -1, -1):
        match = _OPEN_QUOTE.search(lines[i])
        if match is None:
            continue
        quote, rest = match.groups()
        closed = rest.replace("\\\\", "").replace('\\"', "").count('"') if quote == '"' else \
            rest.replace("''", "").count("'")
        if not closed:
            return i
    return None

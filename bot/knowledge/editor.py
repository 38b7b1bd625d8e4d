"""Add, remove and restore Q&A entries, and add phrasings to them, from Discord, safely.

- New entries go to qa-discord.yaml, so hand-edited files and their comments stay untouched.
- A removal works on the parsed YAML: the parser's marks say exactly where the entry starts and
  ends, whatever the file's indentation or style (block, indented, flow), and only those
  characters go; every comment and every other entry stays byte for byte. The new text is parsed
  again and must hold exactly the other entries, unchanged, or nothing is written.
  (ruamel.yaml's round trip was tried and not chosen: it re-indents the whole file, respaces flow
  lists and attaches the comment above an entry to the one before it, so removing one entry
  rewrites or loses text around its neighbours.)
- A candidate edit is validated exactly as `python -m bot check` does: the whole knowledge
  directory is loaded by the same loader, from a temporary copy holding the candidate file.
  Nothing is written unless that load has no problems.
- Writes are atomic (temporary file in the same directory, fsync, rename, fsync the directory),
  so a crash leaves either the old file or the new one, both valid. A symlinked knowledge file is
  edited where it points; the link stays a link.
- An exclusive flock on a lock file in the knowledge directory serialises edits across
  threads and processes, so two moderators adding at once both land. (POSIX only, like the bot.)
- A FIFO or other non-file named like knowledge is refused before anything is opened, so it
  cannot hang an edit that holds the lock.
"""

from __future__ import annotations

import copy
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.article import fold
from bot.knowledge.files import is_knowledge_file, unreadable_files
from bot.knowledge.loader import LoadResult, Problem, display_path, load_knowledge, phrasing_key
from bot.knowledge.model import KnowledgeBase, QAEntry

DISCORD_FILE = "qa-discord.yaml"
LOCK_FILE = ".kb-edit.lock"
TEMP_SUFFIX = ".tmp"  # never matches the loader's *.y*ml, so a crash's leftover is not read as knowledge
MAX_ID = 48
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
DISCORD_HEADER = """\
# Q&A entries added from Discord with /kb add (same fields as qa.yaml).
# You may edit this file by hand: the bot appends new entries at the end and
# /kb remove deletes only the lines of the entry it removes.
"""


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What a moderator typed into the /kb add form."""

    question: str
    phrasings: tuple[str, ...]
    answer: str
    paragraph: int
    quote: str


@dataclass(frozen=True, slots=True)
class EditResult:
    entry_id: str
    path: str  # the file written, or that would have been
    problems: tuple[Problem, ...]  # why the edit was refused; empty when it was written

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_paragraph(text: str) -> int | None:
    """A paragraph number as moderators write it: "7", "¶7", "#7", "p. 7"."""
    match = re.fullmatch(r"\s*(?:¶|#|p\.?|para(?:graph)?\.?)?\s*(\d{1,4})\s*", text, re.IGNORECASE)
    return int(match[1]) if match else None


def parse_phrasings(text: str) -> tuple[str, ...]:
    """One phrasing per line; blank lines and repeats of the same wording dropped."""
    seen: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip().lstrip("-•*").strip()
        if line:
            seen.setdefault(phrasing_key(line), line)
    return tuple(seen.values())


def add_entry(directory: Path | str, entry: NewEntry) -> EditResult:
    """Validate `entry` against the whole knowledge directory and append it to qa-discord.yaml."""
    root = Path(directory)
    path = root / DISCORD_FILE
    with edit_lock(root):
        if problems := unreadable_files(root):
            return EditResult("", display_path(path), problems)
        current = load_knowledge(root)
        taken = {e.id for e in current.kb.qa} if current.kb else set()
        entry_id = make_id(entry.question, taken)
        old = path.read_text(encoding="utf-8") if path.exists() else DISCORD_HEADER
        candidate = _append(old, new_entry_yaml(entry_id, entry))
        problems = validate(root, {DISCORD_FILE: candidate}).problems or _write(path, candidate)
    return EditResult(entry_id, display_path(path), problems)


def _entry_and_file(root: Path, entry_id: str) -> tuple[KnowledgeBase, QAEntry, Path] | EditResult:
    """The knowledge now, the entry with that id in it, and the file it is written in; or why not."""
    current = load_knowledge(root)
    entry = current.kb.entry(entry_id) if current.kb else None
    if current.kb is None or entry is None:
        where = display_path(root)
        return EditResult(entry_id, where, (Problem(where, 0, f"no Q&A entry with id {entry_id!r}"),))
    return current.kb, entry, root / Path(entry.origin.path).name


def remove_entry(directory: Path | str, entry_id: str) -> EditResult:
    """Delete one Q&A entry from the file that holds it, if every other entry survives unchanged."""
    root = Path(directory)
    with edit_lock(root):
        if problems := unreadable_files(root):
            return EditResult(entry_id, display_path(root), problems)
        found = _entry_and_file(root, entry_id)
        if isinstance(found, EditResult):
            return found
        current, entry, path = found
        shown = display_path(path)
        candidate, why = cut_entry(path.read_text(encoding="utf-8"), entry_id)
        if candidate is None:
            return EditResult(entry_id, shown, (Problem(shown, entry.origin.line, f"could not remove {entry_id!r}: "
                                                        f"{why}; nothing was written, remove it by hand"),))
        result = validate(root, {path.name: candidate})
        problems = result.problems
        if not problems and result.kb is not None:
            expected = {e.id for e in current.qa} - {entry_id}
            if {e.id for e in result.kb.qa} != expected:
                problems = (Problem(shown, entry.origin.line, f"removing {entry_id!r} would change which other "
                                                              "entries load; nothing was written"),)
        problems = problems or _write(path, candidate)
    return EditResult(entry_id, shown, problems)


def cut_entry(text: str, entry_id: str) -> tuple[str | None, str]:
    """`text` without the top-level list item whose id is `entry_id`: (new text, "") or (None, why not).

    The item's extent comes from the YAML parser's marks, and the result is parsed again: it must
    hold exactly the other items, equal to what they were, or no text is returned.
    """
    try:
        data = yaml.load(text, Loader=_SafeLoader)
        root = yaml.compose(text, Loader=_SafeLoader)
    except Exception as exc:  # bad YAML, a 5,000-digit number, nesting too deep: not a file to edit blind
        return None, f"the file cannot be read back ({type(exc).__name__}: {exc})"
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        return None, "the file is not a list of entries"
    found = [i for i, item in enumerate(data) if isinstance(item, dict) and item.get("id") == entry_id]
    if len(found) != 1:
        return None, f"the file holds {len(found)} entries with that id, not one"
    (index,) = found
    try:
        candidate = (_cut_flow if root.flow_style else _cut_block)(text, root, index)
        after = yaml.load(candidate, Loader=_SafeLoader) if candidate is not None else None
    except Exception:
        candidate = None  # the cut text does not read back: refused below like any other difference
    if candidate is None or (after or []) != data[:index] + data[index + 1:]:
        return None, "the entry could not be cut out without changing the rest of the file"
    return candidate, ""


def add_phrasing(directory: Path | str, entry_id: str, phrasing: str) -> EditResult:
    """Add `phrasing` to the phrasings of an existing Q&A entry, in the file that holds it.

    Only lines are inserted (under `phrasings:`, or a new `phrasings:` at the end of the entry), so the
    file's comments and layout stay. The new text is written only if, parsed, it is the old with just
    that phrasing added, and it passes the same validation as `check`.
    """
    root = Path(directory)
    with edit_lock(root):
        found = _entry_and_file(root, entry_id)
        if isinstance(found, EditResult):
            return found
        _, entry, path = found
        shown = display_path(path)
        candidate, problems = with_phrasing(path.read_text(encoding="utf-8"), entry.origin.line, entry_id,
                                            entry.questions, phrasing, shown)
        if candidate is not None:
            problems = validate(root, {path.name: candidate}).problems
        if not problems:
            write_atomic(path, candidate)
    return EditResult(entry_id, shown, problems)


def with_phrasing(text: str, line: int, entry_id: str, questions: Iterable[str], phrasing: str,
                  where: str) -> tuple[str | None, tuple[Problem, ...]]:
    """`text` (qa YAML whose entry `entry_id`, asked as `questions`, starts at `line`) with `phrasing` added to
    that entry's phrasings: (new text, ()) or (None, why not, said at `where`:`line`). Not yet validated.

    Shared by the files (add_phrasing) and the database's entries (bot.store.postgres).
    """
    wording = " ".join(phrasing.split())
    if not wording or phrasing_key(wording) in {phrasing_key(q) for q in questions}:
        why = "the phrasing is empty" if not wording else f"{wording!r} is already a phrasing of entry {entry_id!r}"
        return None, (Problem(where, line, why),)
    candidate = _insert_phrasing(text, line, wording)
    if not _gains_only(text, candidate, entry_id, wording):
        return None, (Problem(where, line, f"could not add the phrasing to entry {entry_id!r} in this file's "
                                           "layout; add it by hand under its phrasings:"),)
    return candidate, ()


def restore_entry(directory: Path | str, item_yaml: str) -> EditResult:
    """Write a removed entry back (as the audit kept it, from `entry_yaml`) at the end of qa-discord.yaml."""
    root = Path(directory)
    path = root / DISCORD_FILE
    try:
        data = yaml.safe_load(item_yaml)
        entry_id = str(data[0]["id"])
    except (yaml.YAMLError, LookupError, TypeError):
        where = display_path(path)
        return EditResult("?", where, (Problem(where, 0, "the audit does not hold this entry's text"),))
    with edit_lock(root):
        current = load_knowledge(root)
        if current.kb is not None and current.kb.entry(entry_id) is not None:
            origin = current.kb.entry(entry_id).origin  # type: ignore[union-attr]
            return EditResult(entry_id, origin.path, (Problem(origin.path, origin.line,
                                                              f"an entry with id {entry_id!r} exists already"),))
        old = path.read_text(encoding="utf-8") if path.exists() else DISCORD_HEADER
        candidate = _append(old, item_yaml)
        problems = validate(root, {DISCORD_FILE: candidate}).problems
        if not problems:
            write_atomic(path, candidate)
    return EditResult(entry_id, display_path(path), problems)


def entry_yaml(entry: QAEntry) -> str:
    """An entry as a one-item YAML list, the way qa files hold it: what the audit keeps to restore it.

    An entry that refers to a fact keeps its `see:`, not a copy of the fact's text and quotes.
    """
    # str(): the loader's strings may be subclasses (they carry their line), which YAML would not dump as text.
    data: dict[str, Any] = {"id": str(entry.id), "question": str(entry.question)}
    if entry.phrasings:
        data["phrasings"] = [str(p) for p in entry.phrasings]
    if entry.see is not None:
        data["see"] = str(entry.see.text)
    if entry.see is None or entry.see.own_answer:
        data["answer"] = str(entry.answer)
    for key in ("people", "terms"):
        if getattr(entry, key):
            data[key] = [str(v) for v in getattr(entry, key)]
    if entry.see is None:
        data["citations"] = [{"paragraph": int(c.paragraph), "quote": str(c.quote)} for c in entry.citations]
    return _dump(data)


def validate(directory: Path, overrides: dict[str, str]) -> LoadResult:
    """Load the knowledge directory as it would be with `overrides` (file name → text) written.

    Problems name the real files, not the temporary copy, so moderators can act on them.
    """
    with tempfile.TemporaryDirectory(prefix="kb-check-") as tmp:
        copy = Path(tmp)
        for f in directory.iterdir():
            if is_knowledge_file(f) and f.is_file():  # is_file: stat, so a FIFO is never opened
                shutil.copyfile(f, copy / f.name)
        for name, text in overrides.items():
            (copy / name).write_text(text, encoding="utf-8")
        result = load_knowledge(copy)
        names = {display_path(copy / f.name): display_path(directory / f.name) for f in copy.iterdir()}
    problems = tuple(Problem(names.get(p.path, p.path), p.line, _real_paths(p.message, names)) for p in result.problems)
    return LoadResult(result.kb, problems)


def _real_paths(message: str, names: dict[str, str]) -> str:
    """A message naming another entry's place ("first at …") names the real file, not the temporary copy."""
    for temporary, real in names.items():
        message = message.replace(temporary, real)
    return message


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers and crashes see the old file or the new, never half.

    A symlink is written through: the file it points at is replaced and the link stays a link.
    """
    try:
        path = Path(os.path.realpath(path, strict=True))  # strict: a symlink loop is an error, not a file
    except FileNotFoundError:
        path = Path(os.path.realpath(path))  # a new file, or a link to a file not yet there
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; knowledge files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def make_id(question: str, taken: set[str]) -> str:
    """A readable id from the question's words ("who-is-jivani"), made unique with -2, -3…"""
    words = re.sub(r"[^a-z0-9]+", " ", fold(question).replace("'", "")).split()
    base = ""
    for word in words:
        if len(base) + len(word) + 1 > MAX_ID:
            break
        base = f"{base}-{word}" if base else word
    base = base or "entry"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    return ident


@contextmanager
def edit_lock(root: Path) -> Iterator[None]:
    """One edit of `root`'s files at a time, across threads and processes (/kb edits, `check --fix`)."""
    # O_NONBLOCK: if the lock file were a FIFO, opening it would otherwise wait for a reader forever
    fd = os.open(root / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, even if this process dies
        try:
            _remove_leftovers(root)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(root: Path) -> None:
    """Temporary files of a write that crashed; safe to delete while we hold the lock."""
    for f in root.glob(f".*{TEMP_SUFFIX}"):
        f.unlink(missing_ok=True)


class _Dumper(yaml.SafeDumper):
    """Block style for the entry; multi-line answers as `|` blocks, the way people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent lists under their key, as qa.yaml does


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def new_entry_yaml(entry_id: str, entry: NewEntry) -> str:
    """A new entry as a one-item YAML list under `entry_id`: what the file and the audit get."""
    data: dict[str, Any] = {"id": entry_id, "question": entry.question.strip()}
    if entry.phrasings:
        data["phrasings"] = list(entry.phrasings)
    data["answer"] = entry.answer.strip()
    data["citations"] = [{"paragraph": entry.paragraph, "quote": entry.quote.strip()}]
    return _dump(data)


def _dump(item: dict[str, Any]) -> str:
    return yaml.dump([item], Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000, indent=2)


def _gains_only(old: str, new: str, entry_id: str, phrasing: str) -> bool:
    """Parsed, `new` is `old` with `phrasing` added to entry `entry_id`'s phrasings, and nothing else changed."""
    try:
        before, after = yaml.safe_load(old), yaml.safe_load(new)
    except yaml.YAMLError:
        return False
    expected = copy.deepcopy(before)
    for item in expected if isinstance(expected, list) else [expected]:
        if isinstance(item, dict) and str(item.get("id")) == entry_id:
            item["phrasings"] = [*(item.get("phrasings") or []), phrasing]
            return after == expected
    return False


def _insert_phrasing(text: str, line: int, phrasing: str) -> str:
    """`text` with `phrasing` added to the list item starting at 1-based `line` (its `- id:` line).

    Appended after the item's last phrasing if it has a block `phrasings:` list; else a `phrasings:`
    key is added after the item's last line. (Any other layout is caught by the caller's check.)
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = min(max(line - 1, 0), len(lines) - 1)
    dash = _indent(lines[start])
    key_indent = dash + 2
    end = start + 1
    while end < len(lines) and (_filler(lines[end]) or _indent(lines[end]) > dash):
        end += 1
    while end - 1 > start and _filler(lines[end - 1]):
        end -= 1  # blank lines and comments after the item belong to what follows
    item = _dump({"_": phrasing}).splitlines()[0].split(": ", 1)[1]  # the phrasing as a one-line YAML scalar
    for i in range(start + 1, end):
        if _indent(lines[i]) != key_indent or lines[i].split("#")[0].strip() != "phrasings:":
            continue
        last, indent = i, key_indent + 2
        for j in range(i + 1, end):
            listed = lines[j].lstrip().startswith("- ") and _indent(lines[j]) >= key_indent
            if not (_filler(lines[j]) or listed or _indent(lines[j]) > key_indent):
                break  # the next key of the item
            if listed:
                indent = _indent(lines[j])
            if not _filler(lines[j]):
                last = j
        return "".join([*lines[: last + 1], f"{' ' * indent}- {item}\n", *lines[last + 1:]])
    addition = f"{' ' * key_indent}phrasings:\n{' ' * (key_indent + 2)}- {item}\n"
    return "".join([*lines[:end], addition, *lines[end:]])


def _filler(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _append(old: str, item: str) -> str:
    if old and not old.endswith("\n"):
        old += "\n"
    return old + item


def _write(path: Path, text: str) -> tuple[Problem, ...]:
    """write_atomic, with a failure (disk full, read-only mount) said as a problem instead of raised."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        return (Problem(display_path(path), 0, f"could not write the file, it is unchanged: {exc}"),)
    return ()


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends; a block collection's end mark lies after the comments that follow it."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        return node.end_mark.index
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max(_content_end(child) for child in children)


def _cut_block(text: str, root: yaml.SequenceNode, index: int) -> str | None:
    """Remove item `index` of a block list: from its `-` line to the end of its last line.

    Comment lines above or below the item stay (the header, the next entry's note, trailing notes).
    """
    item = root.value[index]
    column = root.start_mark.column  # every `-` of this list sits in this column
    starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
    line = item.start_mark.line
    while line >= 0 and not _is_dash_line(text[starts[line]:], column):
        line -= 1
    if line < 0:
        return None
    end = _content_end(item)
    if text[end - 1:end] != "\n":
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    return text[:starts[line]] + text[end:]


def _is_dash_line(rest: str, column: int) -> bool:
    return rest[column:column + 1] == "-" and not rest[:column].strip()


def _cut_flow(text: str, root: yaml.SequenceNode, index: int) -> str | None:
    """Remove item `index` of a flow list `[a, b, c]` with one comma next to it; comments stay."""
    items = root.value
    start, end = items[index].start_mark.index, items[index].end_mark.index
    if index + 1 < len(items):  # "b, " of "[a, b, c]"
        comma = _comma(text, end, items[index + 1].start_mark.index)
        if comma is None:
            return None
        end = comma + 1
        while text[end:end + 1] in (" ", "\t"):
            end += 1
    elif index > 0:  # ", c" of "[a, b, c]"
        comma = _comma(text, items[index - 1].end_mark.index, start)
        if comma is None:
            return None
        if "#" in text[comma:start]:  # a comment between the two: cut around it
            return _cut_tidy(_cut_tidy(text, start, end), comma, comma + 1)
        start = comma
    return _cut_tidy(text, start, end)


def _comma(text: str, start: int, end: int) -> int | None:
    """The separating comma between two flow items, skipping comments."""
    i = start
    while i < end:
        if text[i] == "#":
            i = text.find("\n", i, end)
            if i < 0:
                return None
        elif text[i] == ",":
            return i
        i += 1
    return None


def _cut_tidy(text: str, start: int, end: int) -> str:
    """Cut text[start:end], and the whole line when nothing but spaces would be left of it."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    last = len(text) if last < 0 else last
    if not (text[first:start] + text[end:last]).strip():
        return text[:first] + text[last + 1:]
    return text[:start] + text[end:]

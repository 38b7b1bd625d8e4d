"""`check --fix`: renumber citations whose quote is now in another paragraph, editing files in place.

Only the paragraph number is rewritten, at the exact characters the parser saw it, so comments,
quoting style and layout stay as the moderator wrote them. Each file's new text and diff are made
first; then, under the same lock as /kb edits and only for as long as it takes, the file is checked
unchanged and written atomically (editor.write_atomic). The change is shown as a unified diff.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.editor import edit_lock, write_atomic
from bot.knowledge.loader import Problem, Renumber, display_path
from bot.knowledge.yamlfile import read_text

_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class FixResult:
    diff: str  # unified diff of every file changed
    fixed: int  # citations renumbered
    skipped: tuple[str, ...]  # why some could not be (the file changed since it was checked)


def fixable(problems: Iterable[Problem]) -> list[Renumber]:
    return [p.fix for p in problems if p.fix is not None and p.fix.mark is not None]


def renumber(root: Path, fixes: Iterable[Renumber]) -> FixResult:
    """Write each fix's new paragraph number over the old one, file by file; return the diff.

    The new text and its diff are made before the edit lock is taken, in time linear in the file; the lock is
    held only to check the file is unchanged and write it, so a /kb add waits for one write, not for the work.
    """
    by_file: dict[Path, list[Renumber]] = defaultdict(list)
    for fix in fixes:
        by_file[fix.path].append(fix)
    diffs: list[str] = []
    skipped: list[str] = []
    fixed = 0
    for path, file_fixes in sorted(by_file.items()):
        shown = display_path(path)
        text, why = read_text(path)
        if text is None:
            skipped.append(f"{shown}:{why[0] if why else 0}: {why[1] if why else 'cannot read'}")
            continue
        new_text, done, missed = _apply(text, file_fixes)
        skipped += [f"{shown}:{f.mark.line if f.mark else 0}: changed since it was checked; run check again"
                    for f in missed]
        if not done:
            continue
        diff = line_diff(text, new_text, shown)
        try:
            with edit_lock(root):  # /kb add and remove take the same lock: no edit is lost
                if read_text(path)[0] != text:
                    skipped.append(f"{shown}:0: changed while it was being fixed; run check --fix again")
                    continue
                write_atomic(path.resolve(), new_text)  # resolve: a symlinked file keeps its link
        except OSError as exc:
            skipped.append(f"{shown}:0: cannot write: {exc.strerror or exc}")
            continue
        diffs.append(diff)
        fixed += done
    return FixResult("".join(diffs), fixed, tuple(skipped))


def _apply(text: str, fixes: list[Renumber]) -> tuple[str, int, list[Renumber]]:
    """The text with each fix's number replaced, built in one pass from the start (each mark is checked first)."""
    missed: list[Renumber] = []
    pieces: list[str] = []
    at = 0
    for fix in sorted(fixes, key=lambda f: f.mark.start if f.mark else -1):
        mark = fix.mark
        token = text[mark.start:mark.end] if mark else ""
        number = _NUMBER.search(token)
        if mark is None or number is None or int(number.group()) != fix.old or mark.start < at:
            missed.append(fix)
            continue
        pieces += [text[at:mark.start + number.start()], str(fix.new)]
        at = mark.start + number.end()
    pieces.append(text[at:])
    return "".join(pieces), len(fixes) - len(missed), missed


CONTEXT = 3  # lines of context around each change, as diff -u


def line_diff(old: str, new: str, name: str) -> str:
    """A unified diff of two texts with the same lines but for changed numbers, in time linear in their size.

    difflib matches sequences in quadratic time, which thousands of renumbered citations made minutes; the
    lines here correspond one to one, so the changed ones are found by comparing them in order.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if len(a) != len(b):  # not a renumbering: nothing here would produce it, but never show a wrong diff
        return "".join(difflib.unified_diff(a, b, name, name))
    changed = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if not changed:
        return ""
    hunks: list[list[int]] = [[changed[0], changed[0]]]
    for i in changed[1:]:
        if i - hunks[-1][1] <= 2 * CONTEXT:
            hunks[-1][1] = i
        else:
            hunks.append([i, i])
    out = [f"--- {name}\n", f"+++ {name}\n"]
    for first, last in hunks:
        start, end = max(first - CONTEXT, 0), min(last + CONTEXT + 1, len(a))
        out.append(f"@@ -{_span(start, end)} +{_span(start, end)} @@\n")
        i = start
        while i < end:
            if a[i] == b[i]:
                out.append(" " + a[i])
                i += 1
                continue
            run = i
            while i < end and a[i] != b[i]:
                i += 1
            out += ["-" + line for line in a[run:i]] + ["+" + line for line in b[run:i]]
    return "".join(out)


def _span(start: int, end: int) -> str:
    """A hunk's line range as unified diffs write it (difflib's rule)."""
    length = end - start
    return str(start + 1) if length == 1 else f"{start + 1 if length else start},{length}"

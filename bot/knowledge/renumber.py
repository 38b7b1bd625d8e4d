"""`check --fix`: renumber citations whose quote is now in another paragraph, editing files in place.

Only the paragraph number is rewritten, at the exact characters the parser saw it, so comments,
quoting style and layout stay as the moderator wrote them. Each file is written atomically under
the same lock as /kb edits (editor.write_atomic), and the change is shown as a unified diff.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.editor import _edit_lock, write_atomic
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
    """Write each fix's new paragraph number over the old one, file by file; return the diff."""
    by_file: dict[Path, list[Renumber]] = defaultdict(list)
    for fix in fixes:
        by_file[fix.path].append(fix)
    diffs: list[str] = []
    skipped: list[str] = []
    fixed = 0
    with ExitStack() as held:
        try:
            held.enter_context(_edit_lock(root))  # /kb add and remove take the same lock: no edit is lost
        except OSError as exc:
            return FixResult("", 0, (f"{display_path(root)}:0: cannot take the edit lock: {exc.strerror or exc}",))
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
            try:
                write_atomic(path.resolve(), new_text)  # resolve: a symlinked file keeps its link
            except OSError as exc:
                skipped.append(f"{shown}:0: cannot write: {exc.strerror or exc}")
                continue
            diffs.append("".join(difflib.unified_diff(text.splitlines(keepends=True),
                                                      new_text.splitlines(keepends=True), shown, shown)))
            fixed += done
    return FixResult("".join(diffs), fixed, tuple(skipped))


def _apply(text: str, fixes: list[Renumber]) -> tuple[str, int, list[Renumber]]:
    """Replace the numbers from the end of the file backwards, so earlier offsets stay valid."""
    missed: list[Renumber] = []
    done = 0
    for fix in sorted(fixes, key=lambda f: f.mark.start if f.mark else -1, reverse=True):
        mark = fix.mark
        token = text[mark.start:mark.end] if mark else ""
        number = _NUMBER.search(token)
        if mark is None or number is None or int(number.group()) != fix.old:
            missed.append(fix)
            continue
        start = mark.start + number.start()
        text = text[:start] + str(fix.new) + text[mark.start + number.end():]
        done += 1
    return text, done, missed

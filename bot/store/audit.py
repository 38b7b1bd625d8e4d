"""The audit of moderators' edits, and the edits that go through it.

A part of the Store (bot/store/base.py), which supplies the connection. An edit and its audit row land
together: the row is committed first as `pending` (if that fails, nothing is changed and the moderator is
told), then the file is written, then the row is marked `done` (or `failed`). A row left `pending` by a crash
is reconciled against the knowledge files (at open and periodically): `done` if the change is there, `failed`
if it is not, never left pending nor dropped. Moderators' ids are kept as they are: their edits are accountable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge import editor
from bot.knowledge.editor import EditResult, NewEntry
from bot.knowledge.loader import phrasing_key
from bot.knowledge.model import KnowledgeBase
from bot.knowledge.packs import MAIN_STORY
from bot.store.common import StoreUnavailable, stamp, utc_now
from bot.store.queue import Write

log = logging.getLogger(__name__)

SETTLE = 60.0  # seconds an edit has to finish before its pending audit row is judged against the files
PHRASING_NOTE = "+ "  # a phrasing edit's note: this, then the phrasing
_EDIT_COLUMNS = "at, action, entry_id, moderator_id, detail, status, before, after"


@dataclass(frozen=True, slots=True)
class Edit:
    at: str
    action: str
    entry_id: str
    moderator_id: int | None
    detail: str
    status: str = "done"  # pending (the file write's outcome is not known yet), done or failed
    before: str | None = None  # the entry as YAML before the edit (remove, phrasing), when recorded
    after: str | None = None  # …and after it (add, phrasing, restore)


class Audit:
    """The moderators' side of the Store."""

    def record_edit(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str,
                    before: str | None = None, after: str | None = None) -> None:
        """Audit one moderator action (add, remove, reload, phrasing, restore): who, when, what, before/after.

        Raises StoreUnavailable.
        """
        self._audit_row(action, entry_id, moderator_id, detail, "done", before, after)

    def _audit_row(self, action: str, entry_id: str, moderator_id: int | None, detail: str, status: str,
                   before: str | None = None, after: str | None = None) -> int:
        row = (stamp(utc_now()), action, entry_id, moderator_id, detail, status, before, after)
        return self._use(lambda db: self._exec(db, "INSERT INTO edits (at, action, entry_id, moderator_id, detail,"
                                                   " status, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                                                   " RETURNING id", row).fetchone()[0])

    def _finish_edit(self, row: int, status: str, entry_id: str, after: str | None = None) -> None:
        """Mark an audit row done or failed (with the entry's YAML after the edit, when known); if the
        database is busy now, the write queue retries it."""
        if after is None:
            self._now_or_queued(f"audit row {row}", "UPDATE edits SET status = ?, entry_id = ? WHERE id = ?",
                                (status, entry_id, row))
        else:
            self._now_or_queued(f"audit row {row}", "UPDATE edits SET status = ?, entry_id = ?, after = ?"
                                " WHERE id = ?", (status, entry_id, after, row))

    def _forget_edit(self, row: int) -> None:
        """An edit the editor refused changed nothing: its pending row goes (later, if the database is busy now)."""
        self._now_or_queued(f"audit row {row}", "DELETE FROM edits WHERE id = ?", (row,))

    def _now_or_queued(self, what: str, query: str, params: tuple) -> None:
        try:
            self._use(lambda db: self._exec(db, query, params))
        except StoreUnavailable as exc:
            log.warning("store: %s stays pending for now (%s); retrying in the background", what, exc)
            self._queue.put(Write(what, lambda conn: self._exec(conn, query, params)))

    def audited(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str,
                change: Callable[[], EditResult], before: str | None = None,
                after: str | Callable[[EditResult], str | None] | None = None) -> EditResult:
        """Run `change` (a file edit) with its audit row: pending first, then done, or gone if it was refused.

        `before` (the entry's YAML before the edit) and `after` (its YAML after, or a function of the edit's
        result giving it) are in the row from the start, so a crash before the row is finished can be
        reconciled; a function is asked first with no entry id yet (for an add: the entry as planned) and
        again with the edit's result when it is done.
        Raises StoreUnavailable, with nothing changed, when the audit row cannot be written.
        """
        planned = after(EditResult("", "", ())) if callable(after) else after
        row = self._audit_row(action, entry_id, moderator_id, detail, "pending", before, planned)
        try:
            result = change()
        except BaseException:
            self._finish_edit(row, "failed", entry_id)
            raise
        if result.ok:
            self._finish_edit(row, "done", result.entry_id, after(result) if callable(after) else after)
        else:
            self._forget_edit(row)
        return result

    def reconcile(self, now: datetime | None = None) -> int:
        """Settle the audit rows edits left pending (a crash between the file write and the row's completion).

        Each row older than SETTLE seconds is judged against the knowledge files as they are now: `done`
        (with the entry's id and text) if its change is there, `failed` if it is not, each with a log line.
        Rows stay pending, to be judged later, while the knowledge cannot be read or the database is away.
        Returns how many rows were settled; never raises (it runs at open and on the writer's timer).
        """
        if self.knowledge_dir is None:
            return 0
        cutoff = stamp((now or utc_now()) - timedelta(seconds=SETTLE))
        try:
            rows = self._use(lambda db: self._exec(db, "SELECT id, action, entry_id, detail, after FROM edits"
                                                       " WHERE status = 'pending' AND at < ? ORDER BY id",
                                                   (cutoff,)).fetchall(), transaction=False)
            if not rows:
                return 0
            kb = self._knowledge()
            if kb is None:
                log.warning("store: %d audit rows stay pending: the knowledge in %s cannot be loaded to check them",
                            len(rows), self.knowledge_dir)
                return 0
            verdicts = []  # (status, entry id, after, row)
            for row, action, entry_id, detail, after in rows:
                found = _landed(kb, action, entry_id, detail, after)
                verdicts.append(("failed" if found is None else "done", *(found or (entry_id, after)), row))

            def settle(db: Any) -> None:
                for verdict in verdicts:
                    self._exec(db, "UPDATE edits SET status = ?, entry_id = ?, after = ? WHERE id = ?"
                                   " AND status = 'pending'", verdict)

            self._use(settle)
            for (status, entry_id, _after, row), (_row, action, *_rest) in zip(verdicts, rows, strict=True):
                log.warning("store: audit row %d (%s %s) was left pending by an edit that did not finish; its change "
                            "%s in the knowledge files: marked %s", row, action, entry_id or "of a new entry",
                            "is" if status == "done" else "is not", status)
        except StoreUnavailable as exc:
            log.warning("store: pending audit rows are checked later, the database is unavailable: %s", exc)
            return 0
        return len(rows)

    def _knowledge(self) -> KnowledgeBase | None:
        """The knowledge as edits from Discord see it (the directory's files and the entries kept here), or None
        if it cannot be loaded."""
        assert self.knowledge_dir is not None
        try:
            return editor.validate(self.knowledge_dir, dict(self.extra_knowledge())).kb
        except OSError:  # a missing or unreadable directory: the bot's start says so, with the loader's words
            return None

    def add_entry(self, directory: Path, entry: NewEntry, *, moderator_id: int | None,
                  story: str = MAIN_STORY) -> EditResult:
        """Validate and add a Q&A entry (to qa-discord.yaml), audited with its YAML."""
        return self.audited(action="add", entry_id="", moderator_id=moderator_id, detail=entry_detail(entry),
                            change=lambda: editor.add_entry(directory, entry),
                            after=lambda result: editor.new_entry_yaml(result.entry_id, entry))

    def remove_entry(self, directory: Path, entry_id: str, *, moderator_id: int | None, detail: str,
                     before: str | None = None, story: str = MAIN_STORY) -> EditResult:
        """Remove a Q&A entry from its file, audited; `detail` is a note of the entry, `before` its YAML
        (what /kb restore writes back)."""
        return self.audited(action="remove", entry_id=entry_id, moderator_id=moderator_id, detail=detail,
                            before=before, change=lambda: editor.remove_entry(directory, entry_id))

    def add_phrasing(self, directory: Path, entry_id: str, phrasing: str, *, moderator_id: int | None,
                     before: str | None = None, after: str | None = None, story: str = MAIN_STORY) -> EditResult:
        """Add a reader's wording to an entry's phrasings in the file holding it, audited (before/after YAML)."""
        return self.audited(action="phrasing", entry_id=entry_id, moderator_id=moderator_id,
                            detail=phrasing_detail(phrasing), before=before, after=after,
                            change=lambda: editor.add_phrasing(directory, entry_id, phrasing))

    def restore_entry(self, directory: Path, entry_id: str, item_yaml: str, *,
                      moderator_id: int | None, story: str = MAIN_STORY) -> EditResult:
        """Write a removed entry back as the audit kept it (`item_yaml`, a removal's `before`), audited."""
        return self.audited(action="restore", entry_id=entry_id, moderator_id=moderator_id,
                            detail="restored from the audit", after=item_yaml,
                            change=lambda: editor.restore_entry(directory, item_yaml))

    def edits(self, limit: int = 50) -> list[Edit]:
        rows = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits ORDER BY id DESC LIMIT ?",
                                                (limit,)).fetchall())
        return [Edit(*row) for row in rows]

    def entry_edits(self, entry_id: str, limit: int = 25) -> list[Edit]:
        """One entry's audit, newest first: what /kb history shows."""
        rows = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ?"
                                                    " ORDER BY id DESC LIMIT ?", (entry_id, limit)).fetchall())
        return [Edit(*row) for row in rows]

    def last_removal(self, entry_id: str) -> Edit | None:
        """The latest completed removal of `entry_id` in the audit: /kb restore writes its `before` back."""
        row = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ?"
                                                   " AND action = 'remove' AND status = 'done' ORDER BY id DESC"
                                                   " LIMIT 1", (entry_id,)).fetchone())
        return Edit(*row) if row else None

    def removed_entry_ids(self, limit: int = 100) -> list[str]:
        """Ids whose latest completed add/remove/restore is a removal (not restored or re-added since),
        most recent first."""
        rows = self._read(lambda db: self._exec(db, """
            SELECT entry_id FROM edits e WHERE action = 'remove' AND status = 'done'
              AND id = (SELECT MAX(id) FROM edits WHERE entry_id = e.entry_id AND status = 'done'
                        AND action IN ('add', 'remove', 'restore'))
            ORDER BY id DESC LIMIT ?""", (limit,)).fetchall())
        return [entry_id for (entry_id,) in rows]


def _landed(kb: KnowledgeBase, action: str, entry_id: str, detail: str,
            after: str | None) -> tuple[str, str | None] | None:
    """Whether a pending edit's change is in `kb`: (the entry's id, its text now) if it is, else None.

    An add is found by its planned text (its id was chosen by the edit); a restore by its id and text; a
    phrasing by its id and the phrasing among the entry's questions; a removal by its id being gone.
    """
    if action == "remove":
        return None if kb.entry(entry_id) is not None else (entry_id, None)
    if action == "phrasing":
        entry = kb.entry(entry_id)
        wording = phrasing_key(detail.removeprefix(PHRASING_NOTE))
        if entry is None or wording not in {phrasing_key(q) for q in entry.questions}:
            return None
        return entry_id, editor.entry_yaml(entry)
    planned = _item(after)
    if action not in ("add", "restore") or planned is None:
        return None
    for entry in reversed(kb.qa):  # an add is appended: the latest entry with its text is the one it made
        text = editor.entry_yaml(entry)
        if _item(text) == planned | ({"id": entry.id} if action == "add" else {}):
            return entry.id, text
    return None

def _item(text: str | None) -> dict[str, Any] | None:
    """The entry an audit row's YAML holds (a one-item list), or None."""
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None

def entry_detail(entry: NewEntry) -> str:
    """What the audit keeps of an added entry."""
    return f"{entry.question} | {entry.answer} | ¶{entry.paragraph} {entry.quote}"

def phrasing_detail(phrasing: str) -> str:
    """The audit's note of a phrasing added to an entry."""
    return PHRASING_NOTE + " ".join(phrasing.split())

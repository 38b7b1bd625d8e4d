"""`python -m bot check --lint`: warnings about knowledge that works but could be smaller.

- A phrasing the engine matches to its entry even without it can go: the engine already
  understands that wording. Rebuilding the engine once per phrasing would take minutes, so the
  entries are split into a few interleaved batches; each batch's phrasings are removed together,
  the engine is built once per batch, and every removed phrasing is asked again. Entries of one
  batch are far apart in the files, so they rarely compete for the same wording.
- Two Q&A entries whose answers say the same thing (rapidfuzz token_set_ratio ≥ SAME_ANSWER)
  are probably one question asked two ways: one entry with both phrasings is easier to keep right.

Warnings never make `check` fail. Lives beside the faces (not in bot.knowledge) because it needs the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rapidfuzz import fuzz, utils

from bot.engine import Engine
from bot.knowledge.article import shorten
from bot.knowledge.model import KnowledgeBase, QAEntry

BATCHES = 8  # engine builds per lint run; more is slower and a little more exact
SAME_ANSWER = 90  # token_set_ratio from which two answers are taken to say the same thing
MIN_WORDS = 6  # shorter answers ("Yes.") share their few words with too much to compare


@dataclass(frozen=True, slots=True)
class LintWarning:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: warning: {self.message}"


def lint(kb: KnowledgeBase, batches: int = BATCHES) -> list[LintWarning]:
    """Every warning, in file order."""
    found = redundant_phrasings(kb, batches) + same_answers(kb)
    return sorted(found, key=lambda w: (w.path, w.line))


def redundant_phrasings(kb: KnowledgeBase, batches: int = BATCHES) -> list[LintWarning]:
    """Phrasings the engine answers with their own entry even when the entry no longer lists them."""
    entries = [e for e in kb.qa if e.phrasings]
    out: list[LintWarning] = []
    for start in range(min(batches, len(entries))):
        batch = entries[start::batches]
        ids = {e.id for e in batch}
        engine = Engine(replace(kb, qa=tuple(replace(e, phrasings=()) if e.id in ids else e for e in kb.qa)))
        for entry in batch:
            out += _redundant(engine, entry)
    return out


def _redundant(engine: Engine, entry: QAEntry) -> list[LintWarning]:
    out = []
    lines = entry.phrasing_lines or (entry.origin.line,) * len(entry.phrasings)
    for phrasing, line in zip(entry.phrasings, lines, strict=False):
        if engine.ask(phrasing).source == f"qa:{entry.id}":
            out.append(LintWarning(entry.origin.path, line, f"phrasing {shorten(phrasing)} is answered by "
                                                             f"{entry.id!r} without it: it can go"))
    return out


def same_answers(kb: KnowledgeBase) -> list[LintWarning]:
    """Pairs of Q&A entries whose answers say the same thing; the later entry gets the warning."""
    entries = [e for e in kb.qa if len(e.answer.split()) >= MIN_WORDS]
    processed = [utils.default_process(e.answer) for e in entries]
    out = []
    for i, first in enumerate(entries):
        for j in range(i + 1, len(entries)):
            if fuzz.token_set_ratio(processed[i], processed[j], score_cutoff=SAME_ANSWER):
                later = entries[j]
                out.append(LintWarning(later.origin.path, later.origin.line,
                                       f"the answer of {later.id!r} says the same as {first.id!r} ({first.origin}): "
                                       "one entry with both questions as phrasings is easier to keep right"))
    return out

"""`python -m bot check --lint`: warnings about knowledge that works but could be smaller.

- A phrasing the engine matches to its entry even without it can go: the engine already
  understands that wording. Phrasings are what retrieval finds an entry by, so retrieval alone
  judges (the verifier off): a retrained verifier does not turn the knowledge's lint red.
  Rebuilding the engine once per phrasing would take minutes, so the entries are split into a few
  interleaved batches; each batch's phrasings are removed together, the engine is built once per
  batch, and every removed phrasing is asked again. Entries of one batch are far apart in the
  files, so they rarely compete for the same wording. A phrasing that other wordings lean on
  (without it they get another answer, which the lint cannot see) is written with a `# keep: why`
  comment on its line, and the lint leaves it alone.
- Two Q&A entries whose answers say the same thing (rapidfuzz token_sort_ratio ≥ SAME_ANSWER)
  are probably one question asked two ways: one entry with both phrasings is easier to keep right.
  The whole of both answers is compared: a focused answer that a broader one contains ("Did Jivani meet
  Rubio?" inside "Who did Jivani meet?") answers another question, and merging them would answer it worse.
- A Q&A entry whose citations are exactly a person/term/event fact's (the same quotes) restates that
  fact with a copy that a fix to the fact would miss: `see:` refers to it instead. Whether the
  entry's own answer can go too (the fact's text answers its question as well) is the moderator's
  call: a similarity score cannot tell that "in December" is the whole point of a "when" question.

Warnings make `check` fail only with `--strict` (CI). Lives beside the faces (not in bot.knowledge) because it
needs the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rapidfuzz import fuzz, utils

from bot.engine import Engine
from bot.engine.params import DEFAULT
from bot.knowledge.article import fold, shorten
from bot.knowledge.model import Citation, Fact, KnowledgeBase, QAEntry

BATCHES = 8  # engine builds per lint run; more is slower and a little more exact
SAME_ANSWER = 90  # token_set_ratio from which two answers are taken to say the same thing
MIN_WORDS = 6  # shorter answers ("Yes.") share their few words with too much to compare
RETRIEVAL = replace(DEFAULT, verify=False)  # the engine the phrasing check asks: words and meaning alone
KEEP = "# keep"  # on a phrasing's line: other wordings lean on it, so the lint does not say it can go


@dataclass(frozen=True, slots=True)
class LintWarning:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: warning: {self.message}"


def lint(kb: KnowledgeBase, batches: int = BATCHES) -> list[LintWarning]:
    """Every warning, in file order."""
    found = redundant_phrasings(kb, batches) + same_answers(kb) + restated_facts(kb)
    return sorted(found, key=lambda w: (w.path, w.line))


def redundant_phrasings(kb: KnowledgeBase, batches: int = BATCHES) -> list[LintWarning]:
    """Phrasings the engine answers with their own entry even when the entry no longer lists them."""
    entries = [e for e in kb.qa if e.phrasings]
    out: list[LintWarning] = []
    kept = _kept_lines({e.origin.path for e in entries})
    for start in range(min(batches, len(entries))):
        batch = entries[start::batches]
        ids = {e.id for e in batch}
        engine = Engine(replace(kb, qa=tuple(replace(e, phrasings=()) if e.id in ids else e for e in kb.qa)),
                        RETRIEVAL)
        for entry in batch:
            out += _redundant(engine, entry, kept)
    return out


def _kept_lines(paths: set[str]) -> set[tuple[str, int]]:
    """(path, line) of every phrasing marked `# keep`; entries from the database have no file and no marks."""
    kept = set()
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        kept |= {(path, n) for n, line in enumerate(text.splitlines(), 1) if KEEP in line}
    return kept


def _redundant(engine: Engine, entry: QAEntry, kept: set[tuple[str, int]]) -> list[LintWarning]:
    out = []
    lines = entry.phrasing_lines or (entry.origin.line,) * len(entry.phrasings)
    for phrasing, line in zip(entry.phrasings, lines, strict=False):
        if (entry.origin.path, line) not in kept and engine.ask(phrasing).source == f"qa:{entry.id}":
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
            if fuzz.token_sort_ratio(processed[i], processed[j], score_cutoff=SAME_ANSWER):
                later = entries[j]
                out.append(LintWarning(later.origin.path, later.origin.line,
                                       f"the answer of {later.id!r} says the same as {first.id!r} ({first.origin}): "
                                       "one entry with both questions as phrasings is easier to keep right"))
    return out


def restated_facts(kb: KnowledgeBase) -> list[LintWarning]:
    """Q&A entries that copy a person/term/event fact's quotes instead of referring to it with `see:`."""
    by_quotes: dict[frozenset[tuple[int, str]], list[tuple[str, Fact, bool]]] = {}
    for named in kb.referable():
        by_quotes.setdefault(_quotes(named[1].citations), []).append(named)
    out = []
    for entry in kb.qa:
        if entry.see is not None or not (same := by_quotes.get(_quotes(entry.citations))):
            continue
        answer = utils.default_process(entry.answer)
        see, fact, listed = max(same, key=lambda n: fuzz.token_set_ratio(answer, utils.default_process(n[1].text)))
        if listed and not fact.id:
            owner = see.removesuffix(" fact ?")
            what = f"a fact of {owner} {shorten(fact.text)}"
            advice = f"give that fact an `id:` and write `see: {owner} fact <that id>`"
        else:
            what, advice = f"`{see}` {shorten(fact.text)}", f"write `see: {see}`"
        out.append(LintWarning(entry.origin.path, entry.origin.line,
                               f"{entry.id!r} copies the quotes of {what}: {advice} instead of its citations "
                               "(and drop its answer if the fact's text answers its question as well), so a fix "
                               "to the fact fixes this entry too"))
    return out


def _quotes(citations: tuple[Citation, ...]) -> frozenset[tuple[int, str]]:
    return frozenset((c.paragraph, fold(c.quote)) for c in citations)

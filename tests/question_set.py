"""Judging the engine on the question sets (tests/data/questions*.yaml, the calibration's training sets, and
tests/data/heldout/): one rule for tests and calibration.

A reply is right when, for an answerable question, it answers, every expect group
matches the answer text or a cited quote, and one of its citations checks out in an
expected paragraph; for an unanswerable one, when it declines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.engine import Answer
from bot.knowledge import Article, fold

# Two sets by two authors, each written from the article alone, never from the knowledge files.
QUESTION_SETS = sorted((Path(__file__).parent / "data").glob("questions*.yaml"))


@dataclass(frozen=True, slots=True)
class Item:
    q: str
    kind: str
    expect: tuple[tuple[str, ...], ...] | None  # None: the story doesn't answer it
    paras: tuple[int, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.expect is not None


def load_items(paths: list[Path] = QUESTION_SETS) -> list[Item]:
    items: list[Item] = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items += [Item(i["q"], i.get("kind", "?"), tuple(tuple(g) for g in i["expect"]), tuple(i["paras"]))
                  for i in data.get("answerable", [])]
        items += [Item(i["q"], "none:" + i.get("kind", "?"), None) for i in data.get("unanswerable", [])]
    return items


def judge(item: Item, answer: Answer, article: Article) -> str:
    """'' when the answer is right, else why it is wrong."""
    if item.expect is None:
        return "answered an unanswerable question" if answer.answered else ""
    if not answer.answered:
        return "abstained"
    text = fold(" ".join([answer.text or "", *(c.quote for c in answer.citations)]))
    missing = [group for group in item.expect if not any(fold(alt) in text for alt in group)]
    if missing:
        return f"wrong answer (missing {missing[0]})"
    valid = {c.paragraph for c in answer.citations if article.verify_quote(c.paragraph, c.quote) is None}
    if not valid & set(item.paras):
        return f"citation wrong (cited {sorted(valid)}, want one of {list(item.paras)})"
    return ""

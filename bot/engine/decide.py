"""Deciding whether a candidate answer gives what the question asks: one calibrated probability.

Retrieval proposes (words and meaning); this decides. Each candidate gets the signals in
`params.FEATURES` and a logistic model (weights calibrated by benchmarks/calibrate.py on one
question set, reported on others) turns them into the probability that the answer is right.
Meaning finds paraphrases that share no word with the knowledge, but similarity alone does not
tell a near miss from a match, so it is one signal beside the lexical ones, the question type,
the margins over the next different answer, and the asked details the answer lacks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.engine.index import Index, Match, Query
from bot.engine.lexicon import SPEECH
from bot.engine.text import QuestionType, offered_kinds, question_type
from bot.knowledge.article import fold

# "which senators", "what university", "how long", "by how much": the question asks for a detail
# of a thing the story may name without giving the detail.
_DETAIL = re.compile(
    r"\b(?:which|what)\s+(?:specific\s+|exact\s+)?(?!is\b|are\b|was\b|were\b|did\b|does\b|do\b|has\b|have\b|had\b|"
    r"about\b|else\b|happened\b|kind\b|type\b|can\b|will\b|would\b|should\b|could\b|if\b)([a-z]+)|"
    r"\bhow\s+(?:long|old|tall|far|often)\b|\bby\s+how\s+much\b|\b(?:who|where)\s+(?:at|in|from)\s+(?:the\s+)?([a-z]+)"
)
# "what did Vance tell Jivani?", "how did the State Department describe it?": what someone said.
_SAID = re.compile(r"\b(?:(?:what|how)\s+(?:exactly\s+|actually\s+|really\s+|specifically\s+)?"
                   r"(?:did|does|do|has|have|had|would|will)|^(?:has|have|did|does))\s+(?:the\s+)?"
                   r"([a-z][a-z.\- ]*?)\s+(?:say|said|tell|think|respond|responded|reply|replied|describe|react|"
                   r"reacted|feel|write|post|announce|answer|comment|commented|make\s+of)\b")
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][a-zA-Z]+|\b[A-Z]{2,}\b")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible answer with its signals and the calibrated probability that it is right."""

    match: Match
    meaning: float
    rank: float  # the retrieval score candidates are ordered by
    features: tuple[float, ...]
    probability: float  # that this answer gives what is asked: the verifier's verdict where it read it
    retrieval: float = 0.0  # the same from the retrieval signals alone
    verified: float | None = None  # the verifier's own probability, where it read this candidate

    @property
    def doc(self):
        return self.match.doc


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def unasked(question: str, match: Match) -> str | None:
    """What the question asks that the answer does not give (a detail, or someone's words), or None. (The
    future and the size of a change were rules too; with the verifier they added nothing on held-out questions.)

    A curated phrasing the question repeats word for word is the moderators' word that the entry answers it
    ("which party is Jivani in?" answered "a Conservative MP"): no rule here overrides it.
    """
    if match.vouched:
        return None
    return detail_missing(question, match) or unsaid(question, match)


def detail_missing(question: str, match: Match) -> str | None:
    """The detail the question asks for ("which senators", "how long") when the answer does not give it.

    "How long/old" and "by how much" are given by a number. A "which X" is given by a name: where the
    answer says X itself, a name right beside it ("Secretary of State Marco Rubio", "Bowmanville—Oshawa
    North riding"), not a list around it ("meetings with Senators, GM"); elsewhere any name the question
    does not hold already. A "who at X" or "where in X" needs X itself in the answer.
    """
    found = _DETAIL.search(fold(question))
    if not found:
        return None
    answer = match.doc.evidence
    what = re.sub(r"^(?:what|which)\s+", "which ", found.group())
    noun = found.group(1) or found.group(2)
    if noun is None:  # how long, how old, by how much: a number that is not a date
        return None if QuestionType.NUMBER in offered_kinds(answer) else what
    if found.group(1) and question_type(question) is QuestionType.WHO:
        return None
    stem = noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun
    mentions = list(re.finditer(rf"\b{re.escape(stem)}[a-z]*", answer, re.IGNORECASE))
    if mentions:
        return None if any(_named_beside(answer, m.start(), m.end()) for m in mentions) else what
    if found.group(2):  # "who at GM", "where in DC": an answer that never mentions GM or DC gives neither
        return what
    words = set(fold(question).split())
    return None if {fold(n) for n in _NAME.findall(answer)} - words else what


def unsaid(question: str, match: Match) -> str | None:
    """Whose words the question asks for ("what did Vance tell Jivani?") when the answer does not give them.

    The answer gives someone's words where their name stands right before or after a verb of saying
    ("Carney said", "according to Carney", "said Carney"); otherwise the story reports no words of theirs.
    """
    found = _SAID.search(fold(question))
    if not found:
        return None
    speaker = found.group(1).split()[-1]
    answer = fold(match.doc.evidence)
    name, gap = re.escape(speaker), r"(?:\s+\S+){0,2}?\s+"
    near = rf"\b{name}\w*\b{gap}{SPEECH}\b|\b{SPEECH}\b{gap}{name}"
    return None if re.search(near, answer) else found.group(1)


def _named_beside(text: str, start: int, end: int) -> bool:
    """A capitalised name within two words before or after text[start:end], in the same clause and not
    across "and"/"or" ("Senators and GM" lists two things; neither names the other)."""
    before = re.split(r"[,;:]|\b(?:and|or)\b", text[max(0, start - 40):start])[-1].split()[-2:]
    after = re.split(r"[,;:]|\b(?:and|or)\b", text[end:end + 40])[0].split()[:2]
    return any(re.match(r"\W*[A-Z][A-Za-z]", w) for w in (*before, *after))


def features(question: str, query: Query, match: Match, meaning: float, best_other_meaning: float,
             best_other_lexical: float, covered: float, index: Index) -> tuple[float, ...]:
    """The signals of one candidate, in the order of params.FEATURES.

    "agree" marks the candidate that both retrievers put first: words and meaning agreeing is strong
    evidence even where the wording shares little with the knowledge.
    """
    weights = [index.weight(t) for t in query.terms]
    unknown = sum(w for t, w in zip(query.terms, weights, strict=True) if t not in index.idf)
    return (
        1.0,
        min(match.score, 1.0),
        match.recall,
        match.precision,
        match.ratio,
        1.0 if match.typed else 0.0,
        meaning,
        meaning - best_other_meaning,
        min(match.score, 1.0) - best_other_lexical,
        unknown / (sum(weights) or 1.0),
        1.0 if match.doc.title is None else 0.0,
        1.0 if meaning >= best_other_meaning and min(match.score, 1.0) >= best_other_lexical else 0.0,
        covered,
    )


def probability(signals: tuple[float, ...], weights: tuple[float, ...]) -> float:
    return _sigmoid(sum(f * w for f, w in zip(signals, weights, strict=True)))


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def verified_signals(verifier: float, retrieval: float) -> tuple[float, ...]:
    """What the final decision weighs, in the order of params.VERIFIED_FEATURES."""
    return (1.0, logit(verifier), logit(retrieval))

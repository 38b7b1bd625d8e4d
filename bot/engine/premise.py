"""Yes or No in front of an answer to a yes/no question, when the story settles it.

"Did Trump threaten 50 percent tariffs?" is answered "No: …100 percent…", because the question
holds a number, a date or a name that the answer contradicts; "Did Jivani meet Usha Vance?" is
answered "Yes: …", because everything the question holds is in the answer. Anything in between
gets the answer as it is: the story's own words, without a verdict the engine can't back.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.engine.conversation import Entities
from bot.engine.index import Doc
from bot.engine.lexicon import MONTH
from bot.engine.text import QuestionType, content_terms, question_type
from bot.knowledge.article import fold

_DATE = re.compile(rf"\b{MONTH}\.?(?:\s+\d{{1,2}})?\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b|\b(?:half|quarter|third|two-thirds|three-fourths|three-quarters|"
                     r"one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred)\b")


# An answer that denies or negates something may hold every word of the question and still mean no
# ("Canada hasn't been able to secure a trade deal"; "Carney denied…"): no "Yes" for it.
_NEGATED = re.compile(r"\b(?:not|never|no|nor|without|denied|denies|deny|rejected|refused)\b|n't\b")
# An answer that says the story leaves the question open ("The article doesn't say Jivani met Trump…").
_HEDGED = re.compile(r"\b(?:doesn't|does not|didn't|did not|don't|do not)\s+say\b|\bunclear\b|\bnot clear\b",
                     re.IGNORECASE)


def _dates(text: str) -> set[str]:
    return {m.group()[:3] + "".join(re.findall(r"\d+", m.group())) for m in _DATE.finditer(text)}


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(_DATE.sub(" ", text)))


def claims_removed(question: str, known: frozenset[str] | set[str]) -> str:
    """A yes/no question without the details it asserts (numbers, dates, words the story never uses),
    so the fact it is about can be found even when a detail is wrong ("on Feb. 10" for "on Feb. 4")."""
    text = _NUMBER.sub(" ", _DATE.sub(" ", fold(question)))
    return " ".join(w for w in text.split() if re.sub(r"\W", "", w) in known)


@lru_cache(maxsize=4096)
def _terms(answer_side: str) -> frozenset[str]:
    """An answer's content terms: the same few answers are settled for many questions."""
    return frozenset(content_terms(answer_side))


def disputable(question: str, entities: Entities) -> bool:
    """Whether a yes/no question holds what an answer could contradict (a number, a date, a person) or choose
    between ("X or Y"): without any, no answer found for it can be a "No" or a choice."""
    q = fold(question)
    return bool(_NUMBER.search(_DATE.sub(" ", q)) or _DATE.search(q) or " or " in q
                or any(e.person for e in entities.found(q)))


def choice(question: str, answer_side: str, entities: Entities) -> bool:
    """An either-or question ("is Jivani a Liberal or a Conservative?") that the answer settles: of the two
    things offered, the answer names exactly one."""
    q = fold(question)
    if " or " not in q:
        return False
    offered = [e for m, e in entities.mentions(q)
               if re.search(r"\bor\s+(?:an?\s+|the\s+)?$", q[: m.start()]) or re.match(r"\s+or\b", q[m.end():])]
    present = entities.found(answer_side)
    return len(offered) == 2 and sum(e in present for e in offered) == 1


def verdict(question: str, answer_side: str, entities: Entities) -> str | None:
    """"Yes", "No" or None (the story doesn't settle it) for a yes/no `question` given the answer's words."""
    if question_type(question) is not QuestionType.YESNO or choice(question, answer_side, entities):
        return None
    q, a = fold(question), fold(answer_side)
    if _NUMBER.search(_DATE.sub(" ", q)) and _numbers(q) - _numbers(a) and _numbers(a):
        return "No"
    if _dates(q) - _dates(a) and _dates(a):
        return "No"
    # Someone else in their place ("Was it Rubio who claimed…?" where the story says Bessent): a person the
    # question names is missing and the answer names another. A place or thing left unmentioned settles nothing.
    named, present = entities.found(q), entities.found(a)
    if any(e.person and e not in present for e in named) and any(e.person and e not in named for e in present):
        return "No"
    if set(content_terms(q)) <= _terms(a) and not _NEGATED.search(a):
        return "Yes"  # every word asked is in the answer, and nothing there says otherwise
    return None


def settle(question: str, doc: Doc, entities: Entities) -> str:
    """The answer, with "Yes: " or "No: " in front when the question is yes/no and the story settles it."""
    if re.match(r"^(?:yes|no)\b", doc.answer, re.IGNORECASE) or _HEDGED.search(doc.answer):
        return doc.answer  # it says yes or no itself, or that the story leaves it open: no verdict in front
    found = verdict(question, doc.evidence, entities)
    return doc.answer if found is None else f"{found}: {doc.answer}"

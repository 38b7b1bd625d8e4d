"""How question text is cleaned, split into words and read for what it asks.

Built on `bot.knowledge.fold`, so the engine, the validator and the tests compare
text by the same rule; this module adds what matching needs on top of it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from enum import Enum
from functools import lru_cache

from bot.engine.lexicon import DATE, INTERJECTIONS, MONTH, MONTH_BY_PREFIX, NUMBER_WORDS
from bot.knowledge.article import fold

# Discord markup that carries no words: user/role/channel mentions, custom emoji, links.
_MARKUP = re.compile(r"<a?:\w+:\d+>|<[@#][!&]?\d+>|https?://\S+|@(?:everyone|here)\b")
_WORD = re.compile(r"[a-z0-9]+")
# Control, zero-width, bidirectional and variation-selector characters, and combining marks:
# invisible in Discord, they must not split or hide words.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u0300-\u036f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
                        "\ufe00-\ufe0f\ufeff]")
# Ways of asking that carry no content: "can you tell me ...", "do you know ...".
_REQUEST = re.compile(r"\b(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?|(?:tell|show|give)\s+(?:me|us)\b|"
                      r"do\s+(?:you|u)\s+know\b|i\s+(?:want|wanna|would\s+like|'d\s+like)\s+to\s+know\b)")
# "Canada's", "I'm", "they've", "isn't": the possessive and the verb carry nothing; "n't" is "not".
_CONTRACTION = re.compile(r"(?<=\w)(n't|'(?:s|m|re|ve|ll|d))\b")
_ABBREVIATION = re.compile(r"(?<![a-z])u\.\s?s\.(?:a\.)?|\busa\b")

# Chat shorthand and spellings readers use, mapped to the words the story uses.
# General English only: anything specific to the story belongs in the knowledge files.
SHORTHAND: dict[str, str] = {
    "wht": "what", "wat": "what", "wut": "what", "whats": "what is", "whos": "who is", "wheres": "where is",
    "whens": "when is", "hows": "how is", "abt": "about", "bc": "because", "cuz": "because", "tho": "though",
    "u": "you", "ur": "your", "r": "are", "n": "and", "ppl": "people", "govt": "government", "gov": "government",
    "pct": "percent", "dept": "department", "non": "not", "dec": "december", "jan": "january", "feb": "february",
    "didnt": "did not", "doesnt": "does not", "isnt": "is not", "wasnt": "was not", "dont": "do not",
    "shud": "should", "wud": "would", "cud": "could", "gonna": "going to", "wanna": "want to",
    "w": "with", "rly": "really", "tmrw": "tomorrow",
    "nah": "no", "ya": "yes", "yea": "yes", "yeah": "yes", "thx": "thanks", "pls": "please", "plz": "please",
}

# Function words and chat filler: they say how a question is asked, not what about.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not of off on once only or other our ours ourselves out over same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom whose why will
    with would you your yours yourself yourselves
    think thinks know knows mean means happen happened happening get got
    go going does ask asked asking want wants please thanks thank hey hi hello yo ok okay so like really
    bot question quick anyone someone something anything anybody somebody stuff thing things one ones lol pls
    kind sort also actually explain yes though
    story article news report piece according per much many still remain remains remaining
    without within among upon via toward towards onto across around along amid despite
    read confused confusing wondering wonder curious hmm um uh guys wait btw anyway honestly basically literally
    bro bruh ngl rn lmao lmfao tbh fr idk omg smh dude yall fam lowkey highkey haha hahaha xd lolol srsly
    even supposedly apparently allegedly reportedly ever
    """.split()
)


class QuestionType(Enum):
    WHO = "who"
    WHEN = "when"
    WHERE = "where"
    WHY = "why"
    HOW = "how"
    NUMBER = "number"
    YESNO = "yesno"
    WHAT = "what"


_YESNO_START = frozenset("did does do is are was were has have had can could will would should".split())


# Terminal control: CSI (colours, cursor moves), OSC (titles, hyperlinks), 7- and 8-bit, and other escapes.
_ESCAPES = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
                      r"|\x1b[@-Z\\-_]")


def terminal_safe(text: str) -> str:
    """Readers' text made harmless for a terminal: escape sequences and control characters removed
    (they could recolour, retitle or rewrite the moderator's screen), line breaks kept."""
    text = _ESCAPES.sub("", text)
    return "".join(c for c in text if c == "\n" or unicodedata.category(c) not in {"Cc", "Cf"} or c == "\u200d")


def well_formed(text: str) -> str:
    """`text` as valid Unicode: a surrogate pair written as two characters becomes its character, and a lone
    surrogate ("\\ud800", which no UTF-8 encoder, tokenizer or terminal accepts) becomes U+FFFD.

    Readers' text reaches the engine through `understand` alone, which applies this first.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def plain(text: str) -> str:
    """Fold the text and drop Discord markup, control and zero-width characters."""
    text = text[:4000]
    if "<" in text or "@" in text or "http" in text:  # all markup holds one of these; without, nothing to drop
        text = _MARKUP.sub(" ", text)
    if not (text.isascii() and text.isprintable()):  # printable ASCII is NFKC already, with nothing invisible
        text = _INVISIBLE.sub(" ", unicodedata.normalize("NFKC", text))
    return fold(text)


def clean(text: str) -> str:
    """`plain` text without ways of asking that carry no content ("can you tell me"), contractions split."""
    text = _REQUEST.sub(" ", plain(text))
    text = _ABBREVIATION.sub(" us ", text)
    if "'" in text:  # contractions are the only thing the pass changes
        text = _CONTRACTION.sub(lambda m: " not" if m.group(1) == "n't" else "", text)
    return text.replace("%", " percent ")


def words(text: str) -> list[str]:
    """All words of the text, shorthand expanded, in order."""
    out: list[str] = []
    for word in _WORD.findall(clean(text)):
        out.extend(SHORTHAND.get(word, word).split())
    return out


# Irregular past tenses readers and reporters use for the story's verbs.
_IRREGULAR = {"met": "meet", "held": "hold", "gave": "give", "went": "go", "made": "make", "took": "take",
              "spoke": "speak", "said": "say", "told": "tell", "thought": "think", "led": "lead", "ate": "eat",
              "wrote": "write", "sent": "send", "paid": "pay", "sought": "seek", "began": "begin", "won": "win"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately light stemmer: plurals, then -ing/-ed, then a final e, so 'meetings' meets 'meet'."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and (word[-1] in "bdgmnprt" or word.endswith("ell")):
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


class Thesaurus:
    """The story's synonym groups (knowledge/synonyms.yaml): each word or phrase becomes its group's first.

    Applied to questions and to the knowledge alike, so "tories" meets "Conservatives"
    and "sit down" meets "meeting" without a phrasing for every variant.
    """

    def __init__(self, groups: tuple[tuple[str, ...], ...] = ()) -> None:
        # first stem -> (phrase stems, canonical stems), longest phrase first
        self.phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = defaultdict(list)
        for group in groups:
            canonical = tuple(stem(w) for w in words(group[0]))
            for item in group[1:]:
                key = tuple(stem(w) for w in words(item))
                if key and key != canonical:
                    self.phrases[key[0]].append((key, canonical))
        for options in self.phrases.values():
            options.sort(key=lambda option: len(option[0]), reverse=True)
        self.words = frozenset(w for group in groups for item in group for w in words(item))

    def terms(self, ws: list[str]) -> list[str]:
        """Content terms of a word list: synonyms replaced (longest phrase first), stop words dropped, stemmed."""
        stems = [stem(w) for w in ws]
        out: list[str] = []
        i = 0
        while i < len(ws):
            for key, canonical in self.phrases.get(stems[i], ()):
                if tuple(stems[i : i + len(key)]) == key:
                    out.extend(canonical)
                    i += len(key)
                    break
            else:
                if ws[i] not in STOPWORDS:
                    out.append(stems[i])
                i += 1
        return list(dict.fromkeys(out))


def meaning_words(ws: Iterable[str]) -> list[str]:
    """The words that carry meaning, in order, once each (unstemmed: the embedding model reads them)."""
    return list(dict.fromkeys(w for w in ws if w not in STOPWORDS and len(w) > 1))


PLAIN = Thesaurus()


def content_terms(text: str | list[str], thesaurus: Thesaurus = PLAIN) -> list[str]:
    """Stemmed words that carry meaning, in order, without repeats (from text, or its `words`)."""
    return thesaurus.terms(words(text) if isinstance(text, str) else text)


# The wordings of each kind of question, tried in this order; a yes/no opening is tried before "how".
_KIND_WORDING = (
    (QuestionType.NUMBER,
     re.compile(r"\b(how (many|much|big|large)|what (percent|percentage|share|number|amount|proportion))\b")),
    (QuestionType.WHEN, re.compile(r"\b(when|what (date|day|month|time)|which (date|day|month))\b")),
    (QuestionType.WHO, re.compile(r"\b(who|whom|whose)\b")),
    (QuestionType.WHERE, re.compile(r"\b(where|which (city|town|country|place|province|state|region|district))\b")),
    (QuestionType.WHY, re.compile(r"\b(why|how come|what for|reason)\b")),
)
_HOW = re.compile(r"\bhow\b")


def question_type(text: str | list[str]) -> QuestionType:
    """What kind of answer the question wants, from its wording (text, or its `words`)."""
    ws = words(text) if isinstance(text, str) else text
    if not ws:
        return QuestionType.WHAT
    joined = " ".join(ws)
    for kind, wording in _KIND_WORDING:
        if wording.search(joined):
            return kind
    opening = next((w for w in ws if w not in INTERJECTIONS), "")
    if opening in _YESNO_START:  # "yo did the mayor vote for it" asks yes or no as "did the mayor…" does
        return QuestionType.YESNO
    if _HOW.search(joined):
        return QuestionType.HOW
    return QuestionType.WHAT


_DATE = re.compile(DATE)
_NUMBER = re.compile(rf"\d|\b{NUMBER_WORDS}\b")
_DAY_OF_MONTH = re.compile(rf"\b{MONTH}\.?\s*\d+")


def offered_kinds(text: str, places: tuple[str, ...] = ()) -> frozenset[QuestionType]:
    """The kinds of question an answer text can serve: a "when" needs a date, a "how many" a number,
    and a "where" one of the story's `places` (when the knowledge lists them)."""
    folded = fold(text)
    kinds = set(QuestionType)
    if places and not any(fold(place) in folded for place in places):
        kinds.discard(QuestionType.WHERE)
    if not _DATE.search(folded):
        kinds.discard(QuestionType.WHEN)
    if not _NUMBER.search(_DAY_OF_MONTH.sub(" ", folded)):  # "Feb. 4" is a date, not a how-many
        kinds.discard(QuestionType.NUMBER)
    return frozenset(kinds)


_MONTHS = frozenset(MONTH_BY_PREFIX)
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][a-zA-Z]+")


def names_in(text: str) -> frozenset[str]:
    """Stems of the capitalised words inside sentences: the people and bodies an answer names.

    A "who" question is served only by an answer that names someone the question does not.
    """
    found = (m.group().lower() for m in _NAME.finditer(text))
    return frozenset(stem(w) for w in found if w[:3] not in _MONTHS)

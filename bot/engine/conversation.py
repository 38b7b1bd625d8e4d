"""A reader's short conversation: the last few questions, so follow-ups ("who is he?") can lean on them.

A Conversation is a small immutable value. Faces keep one per reader and place (Discord: user and
channel/thread/DM; the console: the session) in a ConversationBook and hand it to `Engine.ask`;
the engine does the resolving.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache

from cachetools import TTLCache

from bot.engine.answer import Answer
from bot.engine.lexicon import WH
from bot.knowledge.article import fold

TTL = 600.0  # seconds a conversation is remembered after its last question
MAX_TURNS = 5  # turns kept: follow-ups lean on the last few, not on the whole history
MAX_TURN_CHARS = 1000  # of each question and answer kept: enough to resolve "he"; bounds a 4,000-character message
MAX_BOOK_BYTES = 64 * 1024 * 1024  # text of all conversations of one face; least recently used forgotten first


@dataclass(frozen=True, slots=True)
class Turn:
    question: str  # as the reader typed it
    resolved: str  # the question the engine answered, follow-ups spelled out
    answered: bool
    source: str | None
    text: str | None  # the answer given
    at: float


@dataclass(frozen=True, slots=True)
class Conversation:
    turns: tuple[Turn, ...] = ()

    def current(self, now: float, ttl: float = TTL) -> Conversation:
        """The conversation as it stands at `now`: forgotten when its last turn is older than `ttl`."""
        if self.turns and now - self.turns[-1].at > ttl:
            return Conversation()
        return self

    def add(self, answer: Answer, now: float) -> Conversation:
        """The conversation after `answer`, keeping the last MAX_TURNS turns."""
        turn = Turn(answer.question[:MAX_TURN_CHARS], (answer.resolved or answer.question)[:MAX_TURN_CHARS],
                    answer.answered, answer.source, answer.text[:MAX_TURN_CHARS] if answer.text else answer.text, now)
        return Conversation((*self.turns, turn)[-MAX_TURNS:])


class ConversationBook:
    """Conversations by key (reader and place), bounded in age and in bytes. Not thread-safe: a face uses it
    from one thread (Discord: the event loop).

    A cachetools.TTLCache: a conversation is forgotten TTL seconds after its last question, and the least
    recently used go first once the conversations' text passes MAX_BOOK_BYTES. Expired ones are freed at the
    next question, whoever asks it, rather than waiting to be pushed out by the count.
    """

    def __init__(self, ttl: float = TTL, max_bytes: int = MAX_BOOK_BYTES) -> None:
        self.ttl = ttl
        self._now = 0.0  # the latest `now` seen: the cache's clock never runs backwards
        self._items: TTLCache[Hashable, Conversation] = TTLCache(max_bytes, ttl, timer=lambda: self._now,
                                                                 getsizeof=conversation_bytes)

    def _tick(self, now: float) -> None:
        self._now = max(self._now, now)
        self._items.expire()

    def get(self, key: Hashable, now: float) -> Conversation:
        self._tick(now)
        conversation = self._items.get(key)
        return conversation.current(now, self.ttl) if conversation is not None else Conversation()

    def record(self, key: Hashable, answer: Answer, now: float) -> Conversation:
        """Add `answer` to the conversation at `key` and remember it."""
        conversation = self.get(key, now).add(answer, now)
        self._items[key] = conversation
        return conversation

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        """Bytes of text held, as counted against MAX_BOOK_BYTES."""
        return int(self._items.currsize)


def conversation_bytes(conversation: Conversation) -> int:
    """What a conversation holds in memory: its strings and a fixed cost per turn and per entry."""
    return 256 + sum(200 + sum(sys.getsizeof(t) for t in (turn.question, turn.resolved, turn.text) if t)
                     for turn in conversation.turns)


# --- resolving follow-ups ---------------------------------------------------------------

_MALE = frozenset({"he", "him", "his", "himself"})
_FEMALE = frozenset({"she", "her", "hers", "herself"})
_PLURAL = frozenset({"they", "them", "their", "theirs", "both"})
_PERSONAL = _MALE | _FEMALE | _PLURAL
# "it", or "that"/"this" standing alone ("who said that?", "wasn't that in January?"), not "that deal".
_THING_REF = re.compile(r"\b(?:it|its)\b|\b(?:that|this)\b(?=\W*$)|"
                        r"^\W*(?:\w+n'?t|is|was|were|are|did)\s+(?:that|this|it)\b")
_FEMININE_ROLE = re.compile(r"\b(?:wife|woman|mother|daughter|sister|she|her|mrs|ms)\b")
# Openings that lean on the previous question: "and rubio?", "what about usha?", "same for poilievre".
_ELLIPSIS = re.compile(r"^\s*(?:and|what\s+about|how\s+about|same\s+(?:for|with|about)|also|plus|ok\s+and|"
                       r"so\s+and)\b[\s,]*", re.IGNORECASE)
_CORRECTION = re.compile(r"^\s*(?:wait|hold\s+on|hang\s+on|hmm+|but|actually|no)\b[\s,.!-]*", re.IGNORECASE)
_WH = re.compile(rf"^\s*(?:how\s+(?:much|many|long|come)|{WH})\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“”'‘’][^\"“”]{3,}?[\"“”'‘’](?=\W*$|\s)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# "what did carney say?", "how did he respond": asks for words without saying about what.
_BARE_SAID = re.compile(r"\s*(?:what|how)\s+(?:did|does|has|do)\s+[\w.' -]+?\s+(?:say|said|respond|react|reply|think)"
                        r"(?:\s+to\s+(?:that|this|it))?[\s?!.]*", re.IGNORECASE)
FOUND_CACHE = 4096  # texts whose named entities are remembered
SHORT = 4  # words: a question this short with no name of its own ("when was that?") leans on the last one


@dataclass(frozen=True, slots=True)
class Entity:
    """Someone or something the story names, as a follow-up's pronoun may mean it."""

    name: str
    person: bool
    female: bool = False


class Entities:
    """The story's people and terms by every name readers use, to find them in text (longest name first)."""

    def __init__(self, named: list[tuple[tuple[str, ...], Entity]]) -> None:
        pairs = [(fold(n), e) for names, e in named for n in names if len(fold(n)) >= 2]
        self.spelling = {folded: n for names, _ in named for n in names if (folded := fold(n))}  # as written
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n, _ in pairs) + r")\b") if pairs else None
        self._by_name = dict(pairs[::-1]) if pairs else {}
        # An answer's text is searched again for every question it answers; the search over every name is the
        # slow part of a yes/no verdict. The least recently used texts are forgotten first, so the answers stay.
        self._found = lru_cache(maxsize=FOUND_CACHE)(self._named_in)

    @staticmethod
    def feminine(role: str) -> bool:
        return bool(_FEMININE_ROLE.search(fold(role)))

    def mentions(self, folded: str) -> list[tuple[re.Match[str], Entity]]:
        """Each name in already folded text, with the entity it names."""
        if self._pattern is None:
            return []
        return [(m, self._by_name[m.group(1)]) for m in self._pattern.finditer(folded)]

    def found(self, text: str) -> list[Entity]:
        """The entities named in `text`, in order of first mention, without repeats."""
        return list(self._found(text))

    def _named_in(self, text: str) -> tuple[Entity, ...]:
        return tuple(dict.fromkeys(e for _, e in self.mentions(fold(text))))


def _focus(turn: Turn, entities: Entities) -> list[Entity]:
    """Who or what the last turn was about, most salient first.

    A "who" question's answer brings someone new ("who is his roommate?" -> Vance): that someone comes
    first; then what the question named; then the rest of the answer.
    """
    asked = _topic_first(turn.resolved, entities)
    answered = entities.found(turn.text or "") if turn.answered else []
    new = [e for e in answered if e not in asked]
    identity = re.fullmatch(r"\s*who(?:'s|\s+is|\s+was)\s+(.+?)[\s?!.]*", fold(turn.resolved))
    if identity and entities.found(identity.group(1)) and len(entities.mentions(identity.group(1))) == 1 and \
            entities.mentions(identity.group(1))[0][0].group() == identity.group(1):
        return [*asked, *new]  # "who is Scott Bessent?": he is still the subject
    if re.match(r"\s*who", turn.resolved, re.IGNORECASE) and new:
        # The one who did it: named after "by" ("the party … led by Pierre Poilievre"), else the first new person.
        text = fold(turn.text or "")
        agents = [e for m, e in entities.mentions(text) if e in new and re.search(r"\bby\s+(?:\S+\s+){0,3}$",
                                                                                 text[: m.start()])]
        people = [e for e in new if e.person]
        # Several people and none named as the one who did it ("who did he meet there?" -> Vance, Usha Vance,
        # Rubio): a list, so "he" stays with whom the question was about.
        first = next(iter(a for a in agents if a.person),
                     people[0] if people and (len(people) == 1 or not asked) else None)
        if first is not None:
            return [first, *asked, *(e for e in new if e != first)]
    return [*asked, *new]


def _topic_first(question: str, entities: Entities) -> list[Entity]:
    """Who or what a question names, what it is about first: in "what did Carney say about Jivani's trip?"
    the trip is Jivani's, so a next "who briefed him before he went?" means Jivani."""
    folded = fold(question)
    named = entities.mentions(folded)
    owners = [e for owner in re.findall(r"([\w.-]+)'s\b", folded) for e in entities.found(owner)]
    about = [e for m, e in named if re.search(r"\babout\s+$", folded[: m.start()])]
    return list(dict.fromkeys([*owners, *about, *(e for _, e in named)]))


def _frame(previous: str) -> str:
    """The previous question without its question word and auxiliary: its subject matter."""
    return re.sub(rf"^\s*(?:{WH}(?:'s)?\s+(?:is|are|was|were|did|does|do|"
                  r"has|have|had)?\s*|(?:is|are|was|were|did|does|do|has|have)\s+)", "", previous,
                  flags=re.IGNORECASE).strip(" ?")


def correcting(question: str) -> str | None:
    """"wait, wasn't that in January?": what the reader says of the last answer, without the "wait", when the
    question takes issue with it ("that", "it", "this" standing for the last answer); else None."""
    opening = _CORRECTION.match(question)
    if opening is None or not opening.group().strip():
        return None
    claim = question[opening.end():]
    return claim if _THING_REF.search(fold(claim)) else None


def resolve(question: str, conversation: Conversation, entities: Entities) -> str:
    """The follow-up spelled out against the reader's last turn; a question that stands alone is kept as it is.

    Pronouns become the person or thing last talked about ("what did he claim?" -> "what did Scott Bessent
    claim?"); an elliptical "and Rubio?" reuses the last question with the new name; a bare "why?" or
    "when was that?" asks about the last question's subject; "wait, wasn't that in January?" too.
    """
    if not conversation.turns:
        return question
    last = conversation.turns[-1]
    text = _CORRECTION.sub("", question, count=1) or question
    ellipsis = _ELLIPSIS.match(text)
    body = text[ellipsis.end():] if ellipsis else text
    words = _WORD.findall(fold(body))
    named = entities.found(body)
    persons = [w for w in words if w in _PERSONAL]
    things = _THING_REF.findall(fold(body))
    asks = re.search(rf"\b{WH}\b", body, re.IGNORECASE) or \
        re.match(r"\s*(?:is|are|was|were|did|does|do|has|have)\b", body, re.IGNORECASE)

    if ellipsis and not asks:
        # "and rubio?" / "what about 'wasn't so grateful'?": the last question again, about the new thing.
        swapped = _swap(last.resolved, body.strip(" ?.!"), _focus(last, entities), entities)
        return _replace_pronouns(swapped, [e for e in _focus(last, entities) if e not in named], last,
                                 _as_said(conversation, entities))
    if things and any(e.person for e in named) and not persons:
        # "wasn't it Rubio who said that?": "that" is what the last question was about; "it" stays.
        resolved = re.sub(r"\b(?:that|this)(?=\W*$)", _frame(last.resolved), body, flags=re.IGNORECASE)
        if resolved != body:
            return resolved
    if persons or (things and not any(e.person for e in named)):
        # "and rubio, what's his job?": his is Rubio. Otherwise whom the last turn was about, not whom
        # this question names itself ("did carney agree with him?" after Bessent's claim about Carney).
        if ellipsis and named:
            body = re.sub(r"^[^,?]+,\s*", "", body)  # "rubio, what's his job?" asks "what's his job?" of Rubio
        focus = named if ellipsis and named else [e for e in _focus(last, entities) if e not in named]
        resolved = _replace_pronouns(body, focus, last, _as_said(conversation, entities))
        if resolved != body:
            return resolved
    if ellipsis and _BARE_SAID.fullmatch(body):
        # "and what did carney say?": said about what the conversation was about.
        return f"{body.strip(' ?.!')} about {_frame(last.resolved)}?"
    if not named and len(words) <= SHORT and re.search(rf"\b{WH}\b", body, re.IGNORECASE):
        # "why?", "says who?", "over what?": the same subject, another question.
        return f"{' '.join(words)} {_frame(last.resolved)}".strip()
    return body


def _swap(previous: str, new: str, focus: list[Entity], entities: Entities) -> str:
    """The previous question about `new` instead: its quote or its main name replaced, else its frame kept."""
    quoted = _QUOTED.search(previous)
    if quoted and re.search(r"[\"“”'‘’]", new):
        return previous[: quoted.start()] + new + previous[quoted.end():]
    folded = fold(previous)
    fragment = fold(new)
    replacing = entities.mentions(fragment)
    rest = _WORD.findall(fragment[: replacing[0][0].start()] + fragment[replacing[0][0].end():]) if replacing else []
    if replacing and len(rest) <= 1:
        # "and rubio?": the same question about Rubio, in place of whoever of the same kind it was about.
        person = replacing[0][1].person
        for entity in focus:
            for m, named in entities.mentions(folded):
                if named == entity and named.person == person:
                    return folded[: m.start()] + new + folded[m.end():]
    wh = _WH.match(previous)
    head = previous[: wh.end()] if wh else ""
    # "what tariff …" keeps its noun ("and on goods outside USMCA?" -> "what tariff on goods outside USMCA");
    # "when did …", "who said …" keep only the question word.
    noun = re.match(r"\s*(?!(?:is|are|was|were|did|does|do|has|have|had|will|would|can|could)\b)(\w+)",
                    previous[wh.end():]) if wh and re.match(r"\s*(?:what|which)\b", head, re.IGNORECASE) else None
    return f"{head} {noun.group(1) if noun else ''} {new}".strip()


def _as_said(conversation: Conversation, entities: Entities) -> dict[Entity, str]:
    """Whom the reader named in this conversation, as they last named them ("jivani", not "Jamil Jivani"):
    a follow-up spelled out in the reader's words matches the knowledge's phrasings as their question did."""
    return {e: entities.spelling.get(m.group(), e.name)
            for turn in conversation.turns for m, e in entities.mentions(fold(turn.question))}


def _replace_pronouns(body: str, focus: list[Entity], last: Turn, said: dict[Entity, str]) -> str:
    """`said`: how the reader named people (else they are named as the story names them)."""
    people = [e for e in focus if e.person]
    male = next((e for e in people if not e.female), None)
    female = next((e for e in people if e.female), None)
    thing = next((e for e in focus if not e.person), None)
    named: set[str] = set()  # a name is spelled out once: "who briefed Jivani before he went?"

    def swap(m: re.Match[str]) -> str:
        word = m.group().lower()
        target: str | None = None
        if word in _MALE and male:
            target = said.get(male, male.name)
        elif word in _FEMALE and female:
            target = said.get(female, female.name)
        elif word == "them" and thing:  # "why did he threaten them?": the tariffs, not two people
            target = thing.name
        elif word in _PLURAL and len(people) >= 2:
            target = " and ".join(said.get(e, e.name) for e in people[:2])
        elif word in _PLURAL and people:
            target = said.get(people[0], people[0].name)
        elif word in {"it", "its"}:
            target = thing.name if thing else _frame(last.resolved)
        elif word in {"that", "this"}:  # "where did he say that?": what the last question was about
            target = _frame(last.resolved)
        if target is None or target in named:
            return m.group()
        named.add(target)
        return f"{target}'s" if word in {"his", "its", "their", "theirs", "hers"} else target

    return re.sub(r"\b(?:he|him|his|himself|she|her|hers|herself|they|them|their|theirs|it|its)\b|"
                  r"\b(?:that|this)\b(?=\W*$)|(?:(?<=n't )|(?<=^is )|(?<=^was )|(?<=^are )|(?<=^were )|(?<=^did ))"
                  r"(?:that|this)\b", swap, body, flags=re.IGNORECASE)

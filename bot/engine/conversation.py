"""A reader's short conversation: the last few questions, so follow-ups ("who is he?") can lean on them.

A Conversation is a small immutable value. Faces keep one per reader and place (Discord: user and
channel/thread/DM; the console: the session) in a ConversationBook and hand it to `Engine.ask`;
the engine does the resolving.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from bot.engine.answer import Answer

TTL = 600.0  # seconds a conversation is remembered after its last question
MAX_TURNS = 5  # turns kept: follow-ups lean on the last few, not on the whole history
MAX_CONVERSATIONS = 50_000  # readers remembered at once by one face; the oldest are forgotten first


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
        turn = Turn(answer.question, answer.resolved or answer.question, answer.answered, answer.source,
                    answer.text, now)
        return Conversation((*self.turns, turn)[-MAX_TURNS:])


class ConversationBook:
    """Conversations by key (reader and place), least recently used forgotten first. Not thread-safe:
    a face uses it from one thread (Discord: the event loop)."""

    def __init__(self, ttl: float = TTL, limit: int = MAX_CONVERSATIONS) -> None:
        self.ttl = ttl
        self.limit = limit
        self._items: OrderedDict[Hashable, Conversation] = OrderedDict()

    def get(self, key: Hashable, now: float) -> Conversation:
        conversation = self._items.get(key)
        return conversation.current(now, self.ttl) if conversation is not None else Conversation()

    def record(self, key: Hashable, answer: Answer, now: float) -> Conversation:
        """Add `answer` to the conversation at `key` and remember it."""
        conversation = self.get(key, now).add(answer, now)
        self._items[key] = conversation
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return conversation

    def __len__(self) -> int:
        return len(self._items)

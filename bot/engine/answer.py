"""The engine's reply: what every face (CLI, console, Discord) renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.knowledge.model import Citation

DOESNT_SAY = "The story doesn't say."


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answered: bool
    text: str | None
    confidence: float
    citations: tuple[Citation, ...] = ()
    source: str | None = None  # "qa:<id>", "person:<id>", "term:<id>", "event:<id>", "article:<¶>" or "story"
    suggestions: tuple[str, ...] = field(default=())
    # The question actually answered: a follow-up spelled out ("who is he?" -> "who is Scott Bessent?").
    resolved: str | None = None
    # Set when the message was not a story question: "help", "greeting", "thanks", "about-bot", "chatter".
    intent: str | None = None
    # "Did you mean…?": the titles of two different answers that were too close to pick between.
    alternatives: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `python -m bot ask --json`."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "confidence": round(self.confidence, 3),
            "citations": [{"paragraph": c.paragraph, "quote": c.quote} for c in self.citations],
            "source": self.source,
            "suggestions": list(self.suggestions),
            "resolved": self.resolved,
            "intent": self.intent,
            "alternatives": list(self.alternatives),
        }

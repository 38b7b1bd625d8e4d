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
    source: str | None = None  # "qa:<id>", "person:<id>", "term:<id>", "event:<id>" or "article:<¶>"
    suggestions: tuple[str, ...] = field(default=())

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
        }

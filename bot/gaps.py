"""What readers missed, as lines of text: shared by `python -m bot gaps` and `/kb gaps` / `/kb stats`."""

from __future__ import annotations

from typing import TextIO

from bot.config import Settings
from bot.store import Gap, Stats, StoreUnavailable, open_store

SHOWN_PHRASINGS = 3
QUESTION_WIDTH = 150  # long questions are cut in listings; /kb add gets the whole text


def _cut(text: str, width: int = QUESTION_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def gap_line(number: int, gap: Gap) -> str:
    """`3. Who is Jivani's wife? — 5 (4 unanswered, 1 unhelpful); also asked as: …`"""
    parts = [f"{gap.unanswered} unanswered"] if gap.unanswered else []
    if gap.unhelpful:
        parts.append(f"{gap.unhelpful} unhelpful" + (f" ({', '.join(gap.sources)})" if gap.sources else ""))
    line = f"{number}. {_cut(gap.question)} — {gap.count} ({', '.join(parts)})"
    if gap.phrasings:
        line += "; also asked as: " + " | ".join(_cut(p, 60) for p in gap.phrasings[:SHOWN_PHRASINGS])
    return line


def stats_lines(stats: Stats) -> list[str]:
    lines = [
        f"Questions: {stats.questions}",
        f"Answered: {stats.answered} ({stats.answered_share:.0%})",
        f"Votes: {stats.votes}, helpful: {stats.helpful} ({stats.helpful_share:.0%})",
    ]
    if stats.top_entries:
        lines.append("Top entries: " + ", ".join(f"{source} ({n})" for source, n in stats.top_entries))
    return lines


def print_gaps(settings: Settings, out: TextIO) -> int:
    """`python -m bot gaps`: totals, then the most frequent unanswered or unhelpful questions. Exit status."""
    if not settings.database_url and not settings.database_path.exists():
        out.write(f"No questions recorded yet: there is no database at {settings.database_path} "
                  "(set DATABASE_PATH to the bot's database).\n")
        return 0
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        out.write(f"The database cannot be read: {exc}\n")
        return 1
    try:
        stats, gaps = store.stats(), store.gaps()
    finally:
        store.close()
    out.write("\n".join(stats_lines(stats)) + "\n\n")
    if not gaps:
        out.write("No gaps: every question was answered and nobody marked an answer unhelpful.\n")
        return 0
    out.write("Most frequent unanswered or unhelpful questions:\n")
    out.write("\n".join(gap_line(i, gap) for i, gap in enumerate(gaps, 1)) + "\n")
    return 0

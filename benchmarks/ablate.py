"""Does each rule still add, now that the verifier decides? Take one out at a time and score the held-out sets.

A rule is kept only where these figures show it adds (more right, or fewer wrong answers). The
held-out sets are the ones calibration never fits on: ../shared/eval/dev.yaml, the odd half of
tests/data/heldout/discord.yaml, tests/data/heldout/conversations.yaml, and the second story's
development set (tests/data/harbourline/questions.yaml, answered from its own pack).

    python -m benchmarks.ablate
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from benchmarks.calibrate import HELDOUT, SHARED, load_conversations, load_set, score
from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import Engine, load_engine

ROOT = Path(__file__).resolve().parent.parent
SECOND = ROOT / "tests" / "fixtures" / "stories" / "harbourline"
SECOND_SET = ROOT / "tests" / "data" / "harbourline" / "questions.yaml"


def _none(*_args: object, **_kwargs: object) -> None:
    return None


# Each rule, and where it lives: taken out by replacing that function with one that never fires.
RULES: dict[str, str] = {
    "detail missing (which X, how long)": "bot.engine.decide.detail_missing",
    "whose words (what did X say)": "bot.engine.decide.unsaid",
    "false premise: No": "bot.engine.engine.verdict",
    "timeline comparisons": "bot.engine.timeline.Timeline.compare",
    "corrections of the last answer": "bot.engine.engine.Engine._corrected",
}


def figures(engines: dict[str, Engine]) -> dict[str, tuple[int, int, int]]:
    """Right, wrong and count per held-out set."""
    discord = load_set(HELDOUT / "discord.yaml")
    sets = {
        "dev": (engines["story"], load_set(SHARED / "dev.yaml"), []),
        "discord (odd half)": (engines["story"], discord[1::2], []),
        "conversations": (engines["story"], [], load_conversations(HELDOUT / "conversations.yaml")),
        "second story": (engines["second"], load_set(SECOND_SET), load_conversations(SECOND_SET)),
    }
    out = {}
    for name, (engine, items, convs) in sets.items():
        acc, wrong, n, _ = score(engine, items, convs)
        out[name] = (round(acc * n), wrong, n)
    return out


def main() -> None:
    engines = {}
    for name, folder in {"story": DEFAULT_KNOWLEDGE_DIR, "second": SECOND}.items():
        built, problems = load_engine(folder)
        if built is None:
            raise SystemExit("\n".join(map(str, problems)))
        engines[name] = built
    base = figures(engines)
    total = (sum(r for r, _, _ in base.values()), sum(w for _, w, _ in base.values()))
    print("all rules: " + "; ".join(f"{k} {r}/{n} ({w} wrong)" for k, (r, w, n) in base.items()))
    for rule in RULES:
        with mock.patch(RULES[rule], _none):
            got = figures(engines)
        right = sum(r for r, _, _ in got.values()) - total[0]
        wrong = sum(w for _, w, _ in got.values()) - total[1]
        verdict = "adds" if right < 0 or wrong > 0 else "adds nothing"
        detail = "; ".join(f"{k} {r - base[k][0]:+d} right {w - base[k][1]:+d} wrong" for k, (r, w, _) in got.items())
        print(f"without {rule}: {right:+d} right, {wrong:+d} wrong -> the rule {verdict} ({detail})")


if __name__ == "__main__":
    main()

"""Every tunable number of the engine, in one value passed to it (calibrated by benchmarks/calibrate.py).

The engine reads no module-level knobs: a test or the calibration builds an Engine with other
Params and compares, and the defaults below are the calibrated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

# The signals the decision weighs, in the order of `Params.weights` (see bot/engine/decide.py).
FEATURES = ("bias", "lexical", "recall", "precision", "ratio", "typed", "meaning", "meaning_margin",
            "lexical_margin", "unknown", "sentence", "agree", "covered")


@dataclass(frozen=True, slots=True)
class Params:
    # --- lexical scoring (bot/engine/index.py) ---
    recall_power: float = 2.0  # recall multiplies the rest: a question's main words must be explained
    w_base: float = 0.5
    w_precision: float = 0.3  # how much of the matched phrasing the question uses
    w_ratio: float = 0.2  # rapidfuzz ratio of the whole wording
    answer_only: float = 0.7  # a question word found only in a document's answer counts for less
    wrong_type: float = 0.7  # a "when" question whose answer holds no date, a "how many" with no number
    other_question: float = 0.85  # a wh-question matched through a phrasing that asks another kind
    unmatched_floor: float = 2.5  # a word a document leaves unexplained counts at least this much
    vouched_ratio: float = 0.8  # wording ratio from which a curated phrasing counts as the question itself
    typo_cutoff: int = 82  # rapidfuzz ratio for correcting an unknown word to a known one
    shortlist: int = 8  # documents scored in full after the inverted-index pass
    # --- retrieval by meaning (bot/engine/semantic.py) ---
    meaning_shortlist: int = 3  # documents the embedding proposes beside the lexical shortlist
    meaning_rank: float = 1.0  # candidates are ranked by lexical score + this × similarity in meaning
    decided: int = 6  # best-ranked candidates whose signals are computed (the decision, suggestions, "did you mean")
    # --- the decision (bot/engine/decide.py): a logistic model over FEATURES ---
    weights: tuple[float, ...] = (-3.791, 2.345, 1.455, -0.256, 0.532, 1.707, -0.170, 0.525, 1.208, -0.803, 0.170,
                                  -0.109, 0.787)
    threshold: float = 0.65  # the probability of being right below which the engine says the story doesn't say
    # The same for a follow-up spelled out from the reader's conversation (calibrated on dev2's conversations).
    followup_threshold: float = 0.6
    part_threshold: float = 0.25  # the same for a later question of a message that asks several
    unsure_margin: float = 0.15  # answers this close above the threshold come with suggestions
    ambiguity_margin: float = 0.04  # two different answers this close: "did you mean…?"
    suggestion_floor: float = 0.2  # a suggestion must be at least this likely
    premise_floor: float = 0.2  # a yes/no question whose best answer is less likely is no false premise of it


DEFAULT = Params()

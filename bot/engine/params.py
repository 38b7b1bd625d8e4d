"""Every tunable number of the engine, in one value passed to it.

The engine reads no module-level knobs: a test or the calibration builds an Engine with other
Params and compares. The fitted values (the decision's weights, named by feature, and its
thresholds) are data: benchmarks/calibrate.py writes them to fitted.json beside this file, and
DEFAULT reads them from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

FITTED = Path(__file__).resolve().with_name("fitted.json")

# The signals the decision weighs, in the order of `Params.weights` (see bot/engine/decide.py).
FEATURES = ("bias", "lexical", "recall", "precision", "ratio", "typed", "meaning", "meaning_margin",
            "lexical_margin", "unknown", "sentence", "agree", "covered")
# What the final decision weighs for a verified candidate, in the order of `Params.verified_weights`.
VERIFIED_FEATURES = ("bias", "verifier", "retrieval")
# fitted.json names each weight by its feature: the order each weights tuple follows.
_NAMED = {"weights": FEATURES, "verified_weights": VERIFIED_FEATURES}


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
    weights: tuple[float, ...] = (0.0,) * len(FEATURES)  # fitted: see fitted.json
    threshold: float = 0.65  # the probability of being right below which the engine says the story doesn't say
    # The same for a follow-up spelled out from the reader's conversation (calibrated on dev2's conversations).
    followup_threshold: float = 0.6
    part_threshold: float = 0.25  # the same for a later question of a message that asks several
    unsure_margin: float = 0.15  # answers this close above the threshold come with suggestions
    ambiguity_margin: float = 0.04  # two different answers this close: "did you mean…?"
    suggestion_floor: float = 0.2  # a suggestion must be at least this likely
    premise_floor: float = 0.2  # a yes/no question whose best answer is less likely is no false premise of it
    # --- the verifier (bot/engine/verifier.py): a cross-encoder reads the question with each candidate ---
    verify: bool = True  # off: the retrieval signals alone decide (the verifier's files missing, or a test)
    verify_depth: int = 4  # best-ranked candidates the verifier reads
    # The fast path: the verifier is not asked when retrieval's best is below the floor (nothing came near) or at
    # least sure (the words already settle it). Both chosen by the calibration: where asking changes nothing.
    verify_floor: float = 0.02
    verify_sure: float = 1.0
    # The final probability of a verified candidate: a logistic model over the verifier's and retrieval's logits.
    verified_weights: tuple[float, ...] = (0.0, 1.0, 0.0)  # fitted: see fitted.json

    @classmethod
    def fitted(cls, path: Path = FITTED) -> Params:
        """The defaults with the calibration's fitted values read from `path` (none: the defaults as they are)."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                raise ValueError(f"{path}: unknown parameter {name!r}")
            if name in _NAMED:  # weights named by feature, in the engine's order
                order = _NAMED[name]
                if not isinstance(value, dict) or set(value) != set(order):
                    raise ValueError(f"{path}: {name} must name exactly {', '.join(order)}")
                value = tuple(float(value[f]) for f in order)
            values[name] = value
        return replace(cls(), **values)

    def fitted_values(self, names: tuple[str, ...]) -> dict[str, Any]:
        """`names` as fitted.json holds them: weights as {feature: weight}."""
        out: dict[str, Any] = {}
        for name in names:
            value = getattr(self, name)
            if name in _NAMED:
                value = {f: round(w, 4) for f, w in zip(_NAMED[name], value, strict=True)}
            out[name] = value
        return out


DEFAULT = Params.fitted()

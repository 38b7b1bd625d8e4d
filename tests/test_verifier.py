"""The shipped verifier: its files are what the manifest says, its ONNX scores are the trained model's, it
reads a near miss as one, and the engine decides by it (or answers on without it)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from bot.engine import Engine, load_engine
from bot.engine import engine as engine_module
from bot.engine.params import DEFAULT
from bot.engine.shipped import ModelError
from bot.engine.verifier import MODEL_DIR, Verifier, candidate_text, shared_verifier
from tests.knowledge_dirs import FIXTURE

# int8 weights move a logit by a little: far less than the gap between a match and a near miss.
ONNX_TOLERANCE = 0.75


def test_the_onnx_model_scores_as_the_trained_model_did() -> None:
    reference = json.loads((MODEL_DIR / "reference.json").read_text(encoding="utf-8"))
    got = shared_verifier().logits(reference["pairs"][0][0], [reference["pairs"][0][1]])
    assert len(got) == 1
    for (question, candidate), expected in zip(reference["pairs"], reference["logits"], strict=True):
        assert abs(float(shared_verifier().logits(question, [candidate])[0]) - expected) < ONNX_TOLERANCE


def test_a_batch_scores_each_pair_as_alone() -> None:
    """Padding a short pair to the longest in the batch changes little: the attention mask hides the padding, and
    only the int8 activations' scale, measured per batch, moves a logit by a few hundredths."""
    verifier = shared_verifier()
    pairs = json.loads((MODEL_DIR / "reference.json").read_text(encoding="utf-8"))["pairs"]
    question = pairs[0][0]
    batch = verifier.logits(question, [c for _, c in pairs])
    for i, (_, candidate) in enumerate(pairs):
        assert abs(float(batch[i]) - float(verifier.logits(question, [candidate])[0])) < 0.2


def test_a_match_scores_above_a_near_miss() -> None:
    verifier = shared_verifier()
    right, near = verifier.scores("who was jivani's roommate at university?", [
        "Who is JD Vance? JD Vance: U.S. Vice-President, a close friend and former university roommate of Jivani.",
        "Who is Marco Rubio? Marco Rubio: U.S. Secretary of State.",
    ])
    assert right > 0.5 > near
    (tall,) = verifier.scores("how tall is JD Vance?", ["Who is JD Vance? JD Vance: U.S. Vice-President."])
    assert tall < right


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "verifier_model"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_a_damaged_model_file_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"verifier file .*model\.onnx is not the one shipped"):
        Verifier(folder)


@pytest.mark.parametrize("missing", ["manifest.json", "tokenizer.json"])
def test_a_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    folder = _copy(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(ModelError, match=missing.replace(".", r"\.")):
        Verifier(folder)


def test_without_its_verifier_the_engine_answers_from_retrieval_and_says_why(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Verifier:
        raise ModelError("the verifier file model.onnx is not the one shipped")

    monkeypatch.setattr(engine_module, "shared_verifier", broken)
    with caplog.at_level(logging.ERROR):
        built, _ = load_engine(FIXTURE)
    assert built is not None and built.verifier is None
    assert "verifier cannot be loaded" in caplog.text and "not the one shipped" in caplog.text
    assert built.ask("Who is Jamil Jivani?").answered


class _Judge:
    """A verifier that trusts one candidate alone: the engine must follow its verdict."""

    def __init__(self, trusted: str) -> None:
        self.trusted = trusted
        self.read: list[int] = []

    def scores(self, question: str, candidates: Sequence[str]) -> list[float]:
        self.read.append(len(candidates))
        return [0.99 if c == self.trusted else 0.01 for c in candidates]


def _judged(engine: Engine, trusted: str) -> tuple[Engine, _Judge]:
    """The engine over the same knowledge, deciding by the verifier's probability alone."""
    judged = Engine(engine.kb, replace(DEFAULT, verified_weights=(0.0, 1.0, 0.0)))
    judge = _Judge(trusted)
    judged.verifier = judge  # type: ignore[assignment]
    return judged, judge


def test_the_verifier_chooses_among_the_candidates_and_decides(engine: Engine) -> None:
    retrieved = engine.candidates("who did jivani meet", verify=False)
    assert len(retrieved) >= 2
    second = retrieved[1].doc
    judged, judge = _judged(engine, candidate_text(second))
    ranked = judged.candidates("who did jivani meet")
    assert judge.read == [min(len(retrieved), DEFAULT.verify_depth)]
    assert ranked[0].doc == second
    assert ranked[0].probability == pytest.approx(0.99) and ranked[0].verified == pytest.approx(0.99)
    assert judged.ask("who did jivani meet").text == second.answer
    declined, _ = _judged(engine, "no candidate reads like this")
    assert not declined.ask("who did jivani meet").answered


def test_nothing_near_or_sure_already_is_not_read(engine: Engine) -> None:
    """The fast path: below the floor nothing came near; from the bar up, retrieval settles it alone."""
    question = "recommend a good movie"
    judged, judge = _judged(engine, "anything")
    near = engine.candidates(question, verify=False)[0].retrieval
    judged.params = replace(judged.params, verify_floor=near + 0.01)
    assert not judged.ask(question).answered
    assert judge.read == []
    sure = engine.candidates("who is jamil jivani", verify=False)[0].retrieval
    judged.params = replace(judged.params, verify_floor=0.0, verify_sure=sure - 0.01)
    assert judged.ask("who is jamil jivani").answered
    assert judge.read == []


def test_a_curated_phrasing_asked_as_it_is_written_is_answered_by_its_entry(engine: Engine) -> None:
    """A moderator wrote this wording into an entry (a gap made a phrasing): the verifier does not overrule it."""
    entry = next(e for e in engine.kb.qa if e.phrasings)
    asked = entry.phrasings[0]
    retrieved = engine.candidates(asked, verify=False)
    other = next(c.doc for c in retrieved if c.doc.source != f"qa:{entry.id}")
    judged, judge = _judged(engine, candidate_text(other))  # a verifier that prefers another candidate
    judged.params = replace(judged.params, verify_floor=0.0, verify_sure=1.01)  # and is asked whatever retrieval says
    assert judged.candidates(asked)[0].doc.source == f"qa:{entry.id}" and judge.read == []
    assert judged.ask(asked.upper() + "?").source == f"qa:{entry.id}"  # the same wording, however it is typed
    reworded = f"{asked} in the story"
    assert judged.candidates(reworded)[0].doc == other and judge.read  # any other wording is read as before

"""The verifier: a cross-encoder that reads a question and a candidate answer together.

Retrieval finds the right answer among its first few candidates for nearly every question the
story answers; what it cannot tell is whether a candidate *gives what was asked*. A bi-encoder
or word overlap scores the question and the answer apart; a cross-encoder attends across both,
so "how old is Vance?" against "Vance is the Vice-President" reads as a near miss, and "the
lawmaker's college dorm-mate" against "his former roommate at Yale" reads as a match.

The model is all-MiniLM-L6-v2 fine-tuned by tools/train_verifier.py on the engine's own
candidates, exported to ONNX and quantized to int8: run here with onnxruntime on one thread,
no PyTorch. Its files ship in bot/engine/verifier_model/ with a manifest of their checksums
(bot/engine/shipped.py checks them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.engine.index import Doc
from bot.engine.shipped import ModelError, read_checked
from bot.engine.text import plain
from bot.knowledge.loader import display_path

MODEL_DIR = Path(__file__).resolve().parent / "verifier_model"


VERIFIER_FILES = ("model.onnx", "tokenizer.json")


def question_text(question: str) -> str:
    """What the verifier reads of a question: folded, without Discord markup ("<@1234…>" is no word of it)."""
    return plain(question)


def candidate_text(doc: Doc) -> str:
    """What the verifier reads of a candidate: the question it answers (when it has one) and its answer."""
    return f"{doc.title} {doc.answer}" if doc.title else doc.answer


class Verifier:
    """Scores (question, candidate) pairs: the probability that the candidate answers the question."""

    def __init__(self, directory: Path = MODEL_DIR) -> None:
        import onnxruntime as ort  # imported here: only an engine that verifies pays for it
        from tokenizers import Tokenizer

        files, manifest = read_checked(directory, VERIFIER_FILES, "verifier")
        try:
            self.tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
            self.tokenizer.enable_truncation(int(manifest["max_length"]), strategy="longest_first")
            self.tokenizer.enable_padding()
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one question at a time per thread; the bot answers in parallel
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self.session = ort.InferenceSession(files["model.onnx"], options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # checksums matched, so a manifest written for broken files: say so, in one line
            raise ModelError(f"the verifier in {display_path(directory)} cannot be loaded ({exc!r})") from None
        self._inputs = {i.name for i in self.session.get_inputs()}

    def logits(self, question: str, candidates: Sequence[str]) -> np.ndarray:
        """Raw scores, one per candidate (higher: more likely to answer the question)."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        asked = question_text(question)
        encoded = self.tokenizer.encode_batch([(asked, c) for c in candidates])
        feed = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def scores(self, question: str, candidates: Sequence[str]) -> list[float]:
        """The probability that each candidate answers the question."""
        return [1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(x))))) for x in self.logits(question, candidates)]


@lru_cache(maxsize=1)
def shared_verifier() -> Verifier:
    """One verifier per process: its session is thread-safe and costs ~25 MB."""
    return Verifier()

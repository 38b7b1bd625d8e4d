"""The verifier: a cross-encoder that reads a question and a candidate answer together.

Retrieval finds the right answer among its first few candidates for nearly every question the
story answers; what it cannot tell is whether a candidate *gives what was asked*. A bi-encoder
or word overlap scores the question and the answer apart; a cross-encoder attends across both,
so "how old is Vance?" against "Vance is the Vice-President" reads as a near miss, and "the
lawmaker's college dorm-mate" against "his former roommate at Yale" reads as a match.

The model is all-MiniLM-L6-v2 fine-tuned by tools/train_verifier.py on the engine's own
candidates, exported to ONNX and quantized to int8: run here with onnxruntime on one thread,
no PyTorch. Its files ship in bot/engine/verifier_model/ with a manifest of their checksums.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.engine.index import Doc

MODEL_DIR = Path(__file__).resolve().parent / "verifier_model"


class VerifierError(RuntimeError):
    """The shipped verifier files are missing, damaged or not what the manifest says."""


def candidate_text(doc: Doc) -> str:
    """What the verifier reads of a candidate: the question it answers (when it has one) and its answer."""
    return f"{doc.title} {doc.answer}" if doc.title else doc.answer


@dataclass(frozen=True, slots=True)
class VerifierInfo:
    max_length: int
    files: dict[str, str]  # file name -> sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path = MODEL_DIR) -> VerifierInfo:
    """The manifest, with every listed file present and matching its checksum."""
    manifest = directory / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        info = VerifierInfo(int(data["max_length"]), {str(k): str(v) for k, v in data["files"].items()})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VerifierError(f"{manifest}: cannot read the verifier's manifest ({exc})") from exc
    for name, expected in info.files.items():
        path = directory / name
        if not path.is_file():
            raise VerifierError(f"{path}: missing (reinstall the package or rebuild with tools/train_verifier.py)")
        if _sha256(path) != expected:
            raise VerifierError(f"{path}: checksum differs from {manifest.name} (damaged or replaced)")
    return info


class Verifier:
    """Scores (question, candidate) pairs: the probability that the candidate answers the question."""

    def __init__(self, directory: Path = MODEL_DIR) -> None:
        import onnxruntime as ort  # imported here: only an engine that verifies pays for it
        from tokenizers import Tokenizer

        info = read_manifest(directory)
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(info.max_length, strategy="longest_first")
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one question at a time per thread; the bot answers in parallel
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def logits(self, question: str, candidates: Sequence[str]) -> np.ndarray:
        """Raw scores, one per candidate (higher: more likely to answer the question)."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        encoded = self.tokenizer.encode_batch([(question, c) for c in candidates])
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

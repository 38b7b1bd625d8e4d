"""Meaning, offline: a static embedding model (model2vec format) and cosine search over the knowledge.

The model is a token table distilled from all-MiniLM-L6-v2 (tools/distill_model.py): a text's
vector is the mean of its tokens' vectors, normalised. That is the whole of model2vec's
`StaticModel.encode`; it is read here with `tokenizers` and `safetensors` directly because importing
model2vec also pulls joblib, tqdm and huggingface_hub, a quarter of a second at every start-up
(tests/test_semantic.py checks the vectors against model2vec's own). No network, no PyTorch.
"""

from __future__ import annotations

import json
from itertools import accumulate
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_DIR = Path(__file__).resolve().parent / "model"
MAX_TOKENS = 256  # a question is short; a 4,000-character message is cut here, keeping it fast
BATCH = 256  # texts encoded per tokenizer call


class Embedder:
    """Texts to unit vectors with a model2vec static model folder (config.json, tokenizer.json, model.safetensors)."""

    def __init__(self, folder: Path = MODEL_DIR) -> None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.table = load_file(str(folder / "model.safetensors"))["embeddings"].astype(np.float32)
        self.normalize = bool(config.get("normalize", True))
        unk = self.tokenizer.token_to_id("[UNK]")
        self.unknown = -1 if unk is None else unk
        self.dim = self.table.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text; a text with no known token gets a zero row (similar to nothing).

        In batches of BATCH: the tokenizer holds the GIL for a whole call, and a reload encoding every
        phrasing of 10,000 entries in one call would stall the bot's event loop for most of a second.
        """
        if len(texts) > BATCH:
            return np.concatenate([self.encode(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encoded = [[t for t in enc.ids[:MAX_TOKENS] if t != self.unknown]
                   for enc in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        rows = [i for i, ids in enumerate(encoded) if ids]
        if rows:  # every text's mean in one pass: sums over each text's run of token vectors
            lengths = np.array([len(encoded[i]) for i in rows], dtype=np.intp)
            flat = [t for ids in encoded for t in ids]
            starts = [0, *accumulate(len(encoded[i]) for i in rows[:-1])]
            out[rows] = np.add.reduceat(self.table[flat], starts, axis=0) / lengths[:, None]
        if self.normalize:  # np.linalg.norm's own arithmetic, without its checks: a question pays them per call
            norms = np.sqrt(np.add.reduce(out * out, axis=1, keepdims=True))
            out /= np.where(norms == 0.0, 1.0, norms)
        return out


_SHARED: Embedder | None = None


def shared_embedder() -> Embedder:
    """The shipped model, loaded once per process: every Engine (and every reload) reuses it."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Embedder()
    return _SHARED


class MeaningIndex:
    """The knowledge's phrasings as vectors: how close in meaning a question is to each document.

    A document is as close as its closest phrasing (the same rule as the lexical index).
    """

    def __init__(self, embedder: Embedder, keys: list[str], doc_starts: list[int]) -> None:
        self.embedder = embedder
        self.vectors = embedder.encode(keys) if keys else np.zeros((0, embedder.dim), dtype=np.float32)
        self.starts = np.asarray(doc_starts, dtype=np.intp)

    def similarities(self, question: str) -> np.ndarray:
        """Cosine similarity of `question` to every document (one value per document, in index order)."""
        if not len(self.starts):
            return np.zeros(0, dtype=np.float32)
        scores = self.vectors @ self.embedder.encode([question])[0]
        return np.maximum.reduceat(scores, self.starts)


class WordMeaning:
    """How much of a question's wording a document covers in meaning, word by word ("dorm" ~ "roommate").

    The lexical recall counts a word the knowledge never uses fully against a match; here each
    question word counts by its closest word in the document's phrasings and answer.
    """

    def __init__(self, embedder: Embedder, doc_words: list[list[str]]) -> None:
        self.embedder = embedder
        vocabulary = sorted({w for ws in doc_words for w in ws})
        self.ids = {w: i for i, w in enumerate(vocabulary)}
        self.vectors = embedder.encode(vocabulary) if vocabulary else np.zeros((0, embedder.dim), np.float32)
        self.doc_ids = [np.fromiter((self.ids[w] for w in dict.fromkeys(ws)), dtype=np.intp) for ws in doc_words]

    def question(self, words: list[str]) -> np.ndarray:
        """The question's words as vectors: known words from the table, only the others encoded."""
        if not words:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        known = [self.ids.get(w) for w in words]
        vectors = self.vectors[[0 if i is None else i for i in known]] if self.ids else \
            np.zeros((len(words), self.embedder.dim), dtype=np.float32)
        unknown = [n for n, i in enumerate(known) if i is None]
        if unknown:
            vectors[unknown] = self.embedder.encode([words[n] for n in unknown])
        return vectors

    def coverage(self, question: np.ndarray, weights: np.ndarray, total: float, doc: int) -> float:
        """The weighted mean, over question words, of the closest document word's cosine similarity.

        `total` is weights.sum(): the caller asks for several documents with the same question.
        """
        ids = self.doc_ids[doc]
        if not len(question) or not len(ids):
            return 0.0
        best = (question @ self.vectors[ids].T).max(axis=1)
        # np.clip's arithmetic, without its wrapper's cost
        return float(np.minimum(np.maximum(best, 0.0), 1.0) @ weights / total)

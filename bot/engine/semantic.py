"""Meaning, offline: a static embedding model (model2vec format) and cosine search over the knowledge.

The model is a token table distilled from all-MiniLM-L6-v2 (tools/distill_model.py): a text's
vector is the mean of its tokens' vectors, normalised. That is the whole of model2vec's
`StaticModel.encode`; it is read here with `tokenizers` and `safetensors` directly because importing
model2vec also pulls joblib, tqdm and huggingface_hub, a quarter of a second at every start-up
(tests/test_semantic.py checks the vectors against model2vec's own). No network, no PyTorch.

The knowledge's own vectors are kept on disk between starts (`VectorCache`), under a name made from
the exact texts and the model files, so an edited entry or another model is simply a new name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from itertools import accumulate
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "model"
MAX_TOKENS = 256  # a question is short; a 4,000-character message is cut here, keeping it fast
BATCH = 256  # texts encoded per tokenizer call
CACHE_VARIABLE = "STORY_BOT_CACHE"  # the folder for cached vectors; "off" turns the cache off
CACHE_KEEP = 8  # cached vector files kept: the current knowledge and a few recent versions of it
_CACHE_FORMAT = "1"  # part of every cache name: a change to how vectors are computed bumps it


class Embedder:
    """Texts to unit vectors with a model2vec static model folder (config.json, tokenizer.json, model.safetensors)."""

    def __init__(self, folder: Path = MODEL_DIR) -> None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        # Kept as stored (float16: half the memory, no start-up conversion); rows become float32 when read.
        self.table = load_file(str(folder / "model.safetensors"))["embeddings"]
        self.normalize = bool(config.get("normalize", True))
        unk = self.tokenizer.token_to_id("[UNK]")
        self.unknown = -1 if unk is None else unk
        self.dim = self.table.shape[1]
        # What the vectors depend on besides the texts: the model's files, by size and modification time.
        files = {name: (folder / name).stat() for name in ("config.json", "tokenizer.json", "model.safetensors")}
        self.identity = ";".join(f"{name}:{st.st_size}:{st.st_mtime_ns}" for name, st in files.items())

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
            out[rows] = np.add.reduceat(self.table[flat].astype(np.float32), starts, axis=0) / lengths[:, None]
        if self.normalize:  # np.linalg.norm's own arithmetic, without its checks: a question pays them per call
            norms = np.sqrt(np.add.reduce(out * out, axis=1, keepdims=True))
            out /= np.where(norms == 0.0, 1.0, norms)
        return out


class VectorCache:
    """Vectors of many texts kept in a folder between starts: encoding the knowledge is most of start-up.

    A file's name is a hash of the model's identity and the texts themselves, so a reload after an edit
    looks for a new name and never reads stale vectors. Anything wrong with the folder (unwritable, full,
    a damaged file) costs only the time to encode again: the cache never stops the engine answering.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    @classmethod
    def default(cls) -> VectorCache:
        """STORY_BOT_CACHE ("off": none), else the user's cache folder ($XDG_CACHE_HOME or ~/.cache)/story-bot."""
        value = os.environ.get(CACHE_VARIABLE, "").strip()
        if value.lower() == "off":
            return cls(None)
        if value:
            return cls(Path(value))
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        return cls((Path(base) if base else Path.home() / ".cache") / "story-bot")

    def encode(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        """embedder.encode(texts), read from the folder when these exact texts were encoded before."""
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        if self.folder is None:
            return embedder.encode(texts)
        digest = hashlib.sha256(f"{_CACHE_FORMAT}\0{embedder.identity}\0{MAX_TOKENS}\0{len(texts)}".encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        path = self.folder / f"vectors-{digest.hexdigest()[:32]}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32:
                with contextlib.suppress(OSError):  # recently used: kept when old files are cleared away
                    os.utime(path)
                return vectors
            log.warning("cached vectors %s have the wrong shape; encoding again", path)
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged or unreadable file: encode again
            log.warning("cannot read cached vectors %s (%s); encoding again", path, exc)
        vectors = embedder.encode(texts)
        self._save(path, vectors)
        return vectors

    def _save(self, path: Path, vectors: np.ndarray) -> None:
        """Write whole or not at all (a temporary file renamed into place), then clear old files away."""
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".vectors-", suffix=".tmp", delete=False) as f:
                temporary = f.name
                np.save(f, vectors, allow_pickle=False)
            os.replace(temporary, path)
        except Exception as exc:  # read-only, full or vanished folder: the vectors are in memory all the same
            log.warning("cannot cache vectors in %s (%s)", path.parent, exc)
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            return
        with contextlib.suppress(OSError):  # another process may be clearing the same files
            kept = sorted(path.parent.glob("vectors-*.npy"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for stale in kept[CACHE_KEEP:]:
                stale.unlink(missing_ok=True)


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
        self.vectors = VectorCache.default().encode(embedder, keys)
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
        self.vectors = VectorCache.default().encode(embedder, vocabulary)
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

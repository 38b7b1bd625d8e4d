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
import io
import json
import logging
import os
import tempfile
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as safetensors_load
from tokenizers import Tokenizer

from bot.engine import shipped
from bot.engine.shipped import MANIFEST_FILE, MAX_MODEL_BYTES, ModelError, read_checked
from bot.knowledge.loader import display_path
from bot.safefile import read_regular

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "model"
MAX_TOKENS = 256  # a question is short; a 4,000-character message is cut here, keeping it fast
BATCH = 256  # texts encoded per tokenizer call
CACHE_VARIABLE = "STORY_BOT_CACHE"  # the folder for cached vectors; "off" turns the cache off
CACHE_KEEP = 8  # cached vector files kept: the current knowledge and a few recent versions of it
_CACHE_FORMAT = "2"
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")


def write_manifest(folder: Path = MODEL_DIR) -> None:
    """Record each model file's size and SHA-256, and the table's shape: run after (re)building the model."""
    table = safetensors_load(read_regular(folder / "model.safetensors", MAX_MODEL_BYTES))["embeddings"]
    shipped.write_manifest(folder, MODEL_FILES, shape=list(table.shape))


def read_model(folder: Path = MODEL_DIR) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The model files' bytes, each checked against the manifest, and the manifest (its shape a tuple)."""
    files, manifest = read_checked(folder, MODEL_FILES, "model")
    try:
        shape = tuple(int(n) for n in manifest["shape"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"the model's manifest {display_path(folder)}/{MANIFEST_FILE} is damaged ({exc!r})") from None
    return files, {**manifest, "shape": shape}


class Embedder:
    """Texts to unit vectors with a model2vec static model folder (config.json, tokenizer.json, model.safetensors).

    Raises ModelError when the folder's files are not the ones its manifest lists, or do not fit together.
    """

    def __init__(self, folder: Path = MODEL_DIR) -> None:
        files, manifest = read_model(folder)
        try:
            config = json.loads(files["config.json"])
            self.tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
            # Kept as stored (float16: half the memory, no start-up conversion); rows become float32 when read.
            self.table = safetensors_load(files["model.safetensors"])["embeddings"]
        except Exception as exc:  # checksums matched, so a manifest written for broken files: say so, in one line
            raise ModelError(f"the model in {display_path(folder)} cannot be loaded ({exc!r})") from None
        expected = (self.tokenizer.get_vocab_size(), int(config.get("hidden_dim", manifest["shape"][1])))
        if self.table.shape != expected or self.table.shape != manifest["shape"]:
            raise ModelError(f"the model in {display_path(folder)} has a table of shape {self.table.shape}, "
                             f"not {expected} ({expected[0]} tokens of config.json's hidden_dim)")
        if not np.isfinite(self.table).all():
            raise ModelError(f"the model in {display_path(folder)} has values that are not finite (NaN or inf)")
        self.tokenizer.no_truncation()
        self.normalize = bool(config.get("normalize", True))
        unk = self.tokenizer.token_to_id("[UNK]")
        self.unknown = -1 if unk is None else unk
        self.dim = self.table.shape[1]
        # What the vectors depend on besides the texts: the model files' contents, as the manifest checked them.
        self.identity = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()

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
    looks for a new name and never reads stale vectors. The file holds that key again and a checksum of the
    key and the vectors, and is read only if both match, every value is finite and it is a regular file:
    shuffled or NaN rows changed answers without a word, and a FIFO at the path hung start-up. Anything
    wrong (unwritable, full, damaged) costs one log line and the time to encode again: the cache never stops
    the engine answering.
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
        key = digest.hexdigest()
        path = self.folder / f"vectors-{key[:32]}.npz"
        try:
            vectors = self._read(path, key, (len(texts), embedder.dim))
            with contextlib.suppress(OSError):  # recently used: kept when old files are cleared away
                os.utime(path)
            return vectors
        except FileNotFoundError:
            pass
        except Exception as exc:  # damaged, tampered with, or not a file: encode again, and say so once
            log.warning("cached vectors %s are unusable (%s); encoding again", path, getattr(exc, "strerror", exc))
        vectors = embedder.encode(texts)
        self._save(path, key, vectors)
        return vectors

    @staticmethod
    def _read(path: Path, key: str, shape: tuple[int, int]) -> np.ndarray:
        """The vectors stored at `path` for `key`; raises unless they are exactly what was saved for it."""
        data = read_regular(path, shape[0] * shape[1] * 4 + 64 * 1024)
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            if set(stored.files) != {"vectors", "key", "checksum"}:
                raise ValueError(f"holds {sorted(stored.files)}")
            vectors, stored_key, checksum = stored["vectors"], str(stored["key"]), str(stored["checksum"])
        if stored_key != key:
            raise ValueError("it was saved for other texts or another model")
        if vectors.shape != shape or vectors.dtype != np.float32:
            raise ValueError(f"shape {vectors.shape} {vectors.dtype}, not {shape} float32")
        if checksum != _vectors_checksum(key, vectors):
            raise ValueError("its checksum does not match its vectors")
        if not np.isfinite(vectors).all():
            raise ValueError("it holds values that are not finite")
        return vectors

    def _save(self, path: Path, key: str, vectors: np.ndarray) -> None:
        """Write whole or not at all (a temporary file renamed into place), then clear old files away."""
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".vectors-", suffix=".tmp", delete=False) as f:
                temporary = f.name
                np.savez(f, vectors=vectors, key=np.array(key), checksum=np.array(_vectors_checksum(key, vectors)))
            os.replace(temporary, path)
        except Exception as exc:  # read-only, full or vanished folder: the vectors are in memory all the same
            log.warning("cannot cache vectors in %s (%s)", path.parent, exc)
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            return
        with contextlib.suppress(OSError):  # another process may be clearing the same files
            kept = sorted(path.parent.glob("vectors-*.np[yz]"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for stale in kept[CACHE_KEEP:]:
                stale.unlink(missing_ok=True)


def _vectors_checksum(key: str, vectors: np.ndarray) -> str:
    """SHA-256 of the cache key and the vectors' bytes, row by row: any moved, changed or lost value shows."""
    return hashlib.sha256(key.encode() + np.ascontiguousarray(vectors).tobytes()).hexdigest()


_SHARED: Embedder | None = None


def shared_embedder() -> Embedder:
    """The shipped model, loaded once per process: every Engine (and every reload) reuses it."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Embedder(MODEL_DIR)  # read at call time: tests point MODEL_DIR at a damaged copy
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

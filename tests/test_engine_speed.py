"""The engine's speed work changes no answer: the cached vectors, the shortlist and the phrasing scores are the
same as computing them the plain way, to the last bit; and a cache that is stale, damaged or unwritable costs
only time. (How fast is measured by benchmarks/bench.py, never asserted here.)
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz

from bot.engine import Engine
from bot.engine.index import SPECIFIC, Index, Query
from bot.engine.semantic import CACHE_KEEP, CACHE_VARIABLE, Embedder, VectorCache, shared_embedder
from bot.engine.text import QuestionType, question_type, words
from tests.question_set import load_items
from tests.test_editor_files import run_with_timeout

TEXTS = ["who is jivani's old roommate", "tariffs on chinese electric vehicles", "🤔", "Tell the Canadians I love them"]


class Counting:
    """The shipped embedder, counting its encode calls: what the cache must spare."""

    def __init__(self, identity: str | None = None) -> None:
        self.inner = shared_embedder()
        self.dim = self.inner.dim
        self.identity = self.inner.identity if identity is None else identity
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def story(story_engine: Engine) -> Engine:
    return story_engine


# --- the vector cache ------------------------------------------------------------------


def test_vectors_are_read_back_instead_of_encoded_again(tmp_path: Path) -> None:
    embedder, cache = Counting(), VectorCache(tmp_path)
    first = cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    again = cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    assert embedder.calls == 1
    assert np.array_equal(first, again) and np.array_equal(again, shared_embedder().encode(TEXTS))


def test_an_edited_text_or_another_model_is_encoded_afresh(tmp_path: Path) -> None:
    embedder, cache = Counting(), VectorCache(tmp_path)
    cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    edited = [*TEXTS[:-1], "Tell the Canadians I like them"]
    vectors = cache.encode(embedder, edited)  # type: ignore[arg-type]
    assert embedder.calls == 2 and np.array_equal(vectors, shared_embedder().encode(edited))
    other = Counting(identity="another model")
    cache.encode(other, TEXTS)  # type: ignore[arg-type]
    assert other.calls == 1


@pytest.mark.parametrize("damage", [b"not a numpy file", b""])
def test_a_damaged_file_is_encoded_again_and_replaced(tmp_path: Path, damage: bytes,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    embedder, cache = Counting(), VectorCache(tmp_path)
    cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    [stored] = tmp_path.glob("vectors-*.npz")
    stored.write_bytes(damage)
    with caplog.at_level(logging.WARNING):
        vectors = cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    assert np.array_equal(vectors, shared_embedder().encode(TEXTS)) and embedder.calls == 2
    assert caplog.text.count("are unusable") == 1
    assert np.array_equal(np.load(stored)["vectors"], vectors)  # written anew


def rewrite(stored: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Change the stored vectors, keeping the file's key and checksum: what a damaged or tampered cache looks like."""
    with np.load(stored) as held:
        kept = {name: held[name] for name in held.files}
    np.savez(stored, **{**kept, "vectors": change(kept["vectors"])})


@pytest.mark.parametrize("change", [
    lambda v: np.zeros((2, 3), dtype=np.float32),  # the wrong shape
    lambda v: v[::-1].copy(),  # shuffled rows: every row a real vector, for the wrong text
    lambda v: np.where(np.arange(len(v))[:, None] == 1, np.nan, v).astype(np.float32),  # a NaN row
])
def test_cached_vectors_other_than_those_saved_are_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            change: Callable[[np.ndarray], np.ndarray]) -> None:
    embedder, cache = Counting(), VectorCache(tmp_path)
    cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    [stored] = tmp_path.glob("vectors-*.npz")
    rewrite(stored, change)
    with caplog.at_level(logging.WARNING):
        vectors = cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    assert np.array_equal(vectors, shared_embedder().encode(TEXTS)) and embedder.calls == 2
    assert caplog.text.count("are unusable") == 1


def test_a_fifo_at_the_cache_path_is_refused_not_opened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    embedder, cache = Counting(), VectorCache(tmp_path)
    cache.encode(embedder, TEXTS)  # type: ignore[arg-type]
    [stored] = tmp_path.glob("vectors-*.npz")
    stored.unlink()
    os.mkfifo(stored)
    with caplog.at_level(logging.WARNING):
        vectors = run_with_timeout(cache.encode, embedder, TEXTS)
    assert np.array_equal(vectors, shared_embedder().encode(TEXTS))
    assert "is a FIFO" in caplog.text and stored.is_file()  # replaced by a real cache file


def test_an_unwritable_folder_never_stops_the_vectors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        vectors = VectorCache(blocker / "cache").encode(shared_embedder(), TEXTS)
    assert np.array_equal(vectors, shared_embedder().encode(TEXTS))
    assert "cannot cache vectors" in caplog.text


def test_old_files_are_cleared_away(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    for n in range(CACHE_KEEP + 3):
        cache.encode(shared_embedder(), [f"text number {n}"])
    assert len(list(tmp_path.glob("vectors-*.npz"))) == CACHE_KEEP
    assert not list(tmp_path.glob(".vectors-*"))  # no temporary file left behind


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_VARIABLE, "off")
    assert VectorCache.default().folder is None
    assert VectorCache.default().encode(shared_embedder(), TEXTS).shape == (len(TEXTS), shared_embedder().dim)
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "here"))
    assert VectorCache.default().folder == tmp_path / "here"
    monkeypatch.delenv(CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert VectorCache.default().folder == tmp_path / "xdg" / "story-bot"


def test_an_engine_from_a_warm_cache_answers_alike(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   story: Engine) -> None:
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))
    cold, warm = Engine(story.kb), Engine(story.kb)
    assert list(tmp_path.glob("vectors-*.npz"))
    assert np.array_equal(cold.meaning.vectors, warm.meaning.vectors)
    assert np.array_equal(cold.word_meaning.vectors, warm.word_meaning.vectors)
    assert np.array_equal(warm.meaning.vectors, shared_embedder().encode(warm.index.key_text))
    for item in load_items()[:40]:
        assert warm.ask(item.q) == cold.ask(item.q)


def test_an_edited_entry_gets_its_own_vectors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              story: Engine) -> None:
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))
    Engine(story.kb)
    entry = story.kb.qa[0]
    edited_entry = replace(entry, phrasings=(*entry.phrasings, "what did the president say to tell canadians"))
    edited = Engine(replace(story.kb, qa=(edited_entry, *story.kb.qa[1:])))
    assert "what did the president say to tell canadians" in edited.index.key_text
    assert np.array_equal(edited.meaning.vectors, shared_embedder().encode(edited.index.key_text))


def test_the_table_kept_as_stored_reads_as_float32() -> None:
    embedder = Embedder()
    assert np.array_equal(embedder.encode(TEXTS), shared_embedder().encode(TEXTS))
    assert embedder.encode(TEXTS).dtype == np.float32


# --- the lexical search, against the plain loops it replaced -----------------------------


def plain_shortlist(index: Index, weights: dict[str, float]) -> list[int]:
    """The estimate as a dict loop, rarest word first, ties to the document found first."""
    postings = {t: dict(zip(docs.tolist(), (boost - 1.0).tolist(), strict=True))
                for t, (docs, boost) in index.postings.items()}
    estimate: dict[int, float] = defaultdict(float)
    for t in sorted(weights, key=lambda t: len(postings.get(t, ()))):
        only_known = len(postings.get(t, ())) > 1000 and len(estimate) >= index.params.shortlist
        for d, part in postings.get(t, {}).items():
            if not only_known or d in estimate:
                estimate[d] += weights[t] * (1.0 + part)
    return sorted(estimate, key=estimate.__getitem__, reverse=True)[: index.params.shortlist]


def plain_scores(index: Index, q: Query, d: int, weights: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """Every phrasing sharing a word with the question, scored in full: phrasing -> (score, recall, precision)."""
    p, doc = index.params, index.docs[d]
    typed = q.kind in index.doc_offers[d] and (q.kind is not QuestionType.WHO
                                               or bool(index.doc_names[d].difference(q.terms)))
    keys = [k for k in index.doc_keys[d] if index.key_terms[k] & weights.keys()] or [index.doc_keys[d][0]]
    out = {}
    for k in keys:
        in_key = in_answer = unmatched = 0.0
        for t, w in weights.items():
            if t in index.key_terms[k]:
                in_key += w
            elif t in index.answer_terms[d]:
                in_answer += w
            else:
                unmatched += max(w, p.unmatched_floor)
        recall = (in_key + p.answer_only * in_answer) / (in_key + in_answer + unmatched)
        precision = in_key / index.key_weight[k]
        other = q.kind in SPECIFIC and index.key_kind[k] is not None and index.key_kind[k] is not q.kind
        factor = doc.prior * (1.0 if typed else p.wrong_type)
        base = recall**p.recall_power * factor * (p.other_question if other else 1.0)
        ratio = fuzz.token_sort_ratio(" ".join(words(q.text)), " ".join(words(index.key_text[k]))) / 100
        out[index.key_text[k]] = (base * (p.w_base + p.w_precision * precision + p.w_ratio * ratio), recall, precision)
    return out


def test_the_shortlist_and_the_scores_are_the_plain_loops(story: Engine) -> None:
    index = story.index
    checked = 0
    for item in load_items():
        q = index.query(item.q, question_type(item.q))
        if not q.terms:
            continue
        weights = {t: index.weight(t) for t in q.terms}
        assert index._shortlist(weights) == plain_shortlist(index, weights), item.q
        for m in index.search(q):
            scores = plain_scores(index, q, m.position, weights)
            assert m.score == max(score for score, _, _ in scores.values()), item.q
            assert scores[m.key] == (m.score, m.recall, m.precision), item.q
            checked += 1
    assert checked > 1000

"""The searchable form of a knowledge base: answer documents, an inverted index, and scoring.

Raw fuzzy ratios barely separate questions the story answers from ones it doesn't
(a short query is a "perfect" partial match of any long text). So a match is scored
from several signals: how much of the question's rare-word weight a document explains
(recall), how much of the matched phrasing the question uses (precision), a rapidfuzz
ratio of the whole wording (typos, word order), and whether the answer offers what the
question type asks for. Words the knowledge has never seen count against a match at
full weight: that is what a near miss ("How tall is Vance?") looks like.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.engine.text import QuestionType, content_terms, offers, stem, words
from bot.knowledge.model import Citation, Fact, KnowledgeBase

# Weights of the signals; calibrated with benchmarks/calibrate.py on tests/data/questions.yaml.
# Recall multiplies the rest: a question whose main words the document never mentions is not answered
# by it, however close the wording. Precision and the whole-wording ratio then rank the documents.
RECALL_POWER = 1.0
W_BASE, W_PRECISION, W_RATIO = 0.5, 0.3, 0.2
ANSWER_ONLY = 0.7  # a question word found only in a document's answer counts for less than in its phrasing
WRONG_TYPE = 0.7  # a "when" question whose answer holds no date, a "how many" with no number
SHORTLIST = 30  # documents scored in full after the inverted-index pass
TYPO_CUTOFF = 82  # rapidfuzz ratio for correcting an unknown word to a known one


@dataclass(frozen=True, slots=True)
class Doc:
    """One answer the engine can give, with the phrasings that lead to it."""

    source: str
    title: str | None  # the question offered as a suggestion; None for article sentences
    answer: str
    citations: tuple[Citation, ...]
    keys: tuple[str, ...]
    prior: float = 1.0


@dataclass(frozen=True, slots=True)
class Match:
    doc: Doc
    score: float
    key: str
    recall: float
    precision: float
    ratio: float
    typed: bool


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[str, ...]
    wording: str
    kind: QuestionType
    unknown: tuple[str, ...]


_SENTENCE_END = re.compile(r"(?<=[.!?”\"])\s+(?=[“\"A-Z])")
_ABBREVIATIONS = ("U.S.", "Mr.", "Mrs.", "Ms.", "Dr.", "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.", "St.")


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, not breaking after abbreviations like "U.S." or "Feb."."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        if out and out[-1].endswith(_ABBREVIATIONS):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _fact_docs(source: str, title: str, lead: str, facts: Iterable[Fact], names: tuple[str, ...]) -> list[Doc]:
    docs = []
    for i, fact in enumerate(facts, 1):
        keys = (fact.text, *(f"{name} {fact.text}" for name in names[:1]))
        docs.append(Doc(f"{source}#{i}", title, f"{lead} {fact.text}".strip(), fact.citations, keys))
    return docs


def build_docs(kb: KnowledgeBase) -> list[Doc]:
    """Every answer the knowledge base can give: curated entries first, article sentences last."""
    docs: list[Doc] = [Doc(f"qa:{e.id}", e.question, e.answer, e.citations, e.questions) for e in kb.qa]
    for p in kb.people:
        title = f"Who is {p.name}?"
        keys = (title, *p.names, *(f"who is {n}" for n in p.aliases))
        docs.append(Doc(f"person:{p.id}", title, f"{p.name}: {p.role.text}", p.role.citations, keys))
        docs.extend(_fact_docs(f"person:{p.id}", title, "", p.facts, p.names))
    for t in kb.terms:
        title = f"What is {t.name}?"
        keys = (title, *t.names, *(f"what is {n}" for n in t.aliases))
        docs.append(Doc(f"term:{t.id}", title, f"{t.name}: {t.definition.text}", t.definition.citations, keys))
        docs.extend(_fact_docs(f"term:{t.id}", title, "", t.facts, t.names))
    for ev in kb.timeline:
        keys = (ev.text, f"{ev.when} {ev.text}", f"what happened on {ev.when}")
        docs.append(Doc(f"event:{ev.id}", f"What happened on {ev.when}?", f"{ev.when}: {ev.text}", ev.citations, keys))
    for para in kb.article.paragraphs:
        for sentence in sentences(para.text):
            cite = (Citation(para.number, sentence),)
            docs.append(Doc(f"article:{para.number}", None, sentence, cite, (sentence,), prior=0.9))
    return docs


class Index:
    """Inverted index over document phrasings and answers, with rarity weights."""

    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs
        self.key_doc: list[int] = []
        self.key_text: list[str] = []
        self.key_wording: list[str] = []
        self.key_terms: list[frozenset[str]] = []
        self.answer_terms: list[frozenset[str]] = []
        self.key_postings: dict[str, list[int]] = defaultdict(list)
        self.answer_postings: dict[str, list[int]] = defaultdict(list)
        vocabulary: set[str] = set()
        doc_freq: dict[str, int] = defaultdict(int)
        for d, doc in enumerate(docs):
            answer_side = " ".join([doc.answer, *(c.quote for c in doc.citations)])
            answer_terms = frozenset(content_terms(answer_side))
            self.answer_terms.append(answer_terms)
            for t in answer_terms:
                self.answer_postings[t].append(d)
            seen = set(answer_terms)
            for key in doc.keys:
                terms = frozenset(content_terms(key))
                k = len(self.key_doc)
                self.key_doc.append(d)
                self.key_text.append(key)
                self.key_wording.append(" ".join(words(key)))
                self.key_terms.append(terms)
                for t in terms:
                    self.key_postings[t].append(k)
                seen |= terms
                vocabulary.update(words(key))
            vocabulary.update(words(answer_side))
            for t in seen:
                doc_freq[t] += 1
        n = len(docs) or 1
        self.idf = {t: math.log((n + 1) / (df + 0.5)) for t, df in doc_freq.items()}
        self.unknown_weight = max(self.idf.values(), default=1.0)
        self.vocabulary = sorted(w for w in vocabulary if len(w) >= 3 and not w.isdigit())
        self.known_stems = set(self.idf)

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_weight)

    def query(self, text: str, kind: QuestionType) -> Query:
        """The question's content terms, with misspelt words corrected to the nearest known word."""
        terms: list[str] = []
        unknown: list[str] = []
        for term in content_terms(text):
            if term not in self.known_stems and len(term) >= 4 and not term.isdigit():
                best = process.extractOne(term, self.vocabulary, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
                if best is not None:
                    term = stem(best[0])
            if term not in self.known_stems:
                unknown.append(term)
            if term not in terms:
                terms.append(term)
        return Query(text, tuple(terms), " ".join(words(text)), kind, tuple(unknown))

    def search(self, q: Query, limit: int = SHORTLIST) -> list[Match]:
        """Documents ranked by match score, best first (one Match per document)."""
        if not q.terms:
            return []
        weights = {t: self.weight(t) for t in q.terms}
        total = sum(weights.values())
        key_hits: dict[int, float] = defaultdict(float)
        answer_hits: dict[int, float] = defaultdict(float)
        for t, w in weights.items():
            for k in self.key_postings.get(t, ()):
                key_hits[k] += w
            for d in self.answer_postings.get(t, ()):
                answer_hits[d] += w
        estimate: dict[int, float] = dict.fromkeys(answer_hits, 0.0)
        for d, hit in answer_hits.items():
            estimate[d] = ANSWER_ONLY * hit
        for k, hit in key_hits.items():
            d = self.key_doc[k]
            estimate[d] = max(estimate.get(d, 0.0), hit + ANSWER_ONLY * answer_hits.get(d, 0.0))
        shortlist = sorted(estimate, key=estimate.__getitem__, reverse=True)[:limit]
        keys_of: dict[int, list[int]] = defaultdict(list)
        for k, d in enumerate(self.key_doc):
            if d in estimate:
                keys_of[d].append(k)
        matches = [self._best_key(q, d, keys_of[d], weights, total) for d in shortlist]
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches

    def _best_key(self, q: Query, d: int, keys: list[int], weights: dict[str, float], total: float) -> Match:
        doc = self.docs[d]
        answer_terms = self.answer_terms[d]
        typed = offers(" ".join([doc.answer, *(c.quote for c in doc.citations)]), q.kind)
        best: Match | None = None
        for k in keys:
            terms = self.key_terms[k]
            in_key = sum(w for t, w in weights.items() if t in terms)
            in_answer = sum(w for t, w in weights.items() if t not in terms and t in answer_terms)
            recall = (in_key + ANSWER_ONLY * in_answer) / total
            key_weight = sum(self.weight(t) for t in terms) or 1.0
            precision = in_key / key_weight
            ratio = fuzz.token_sort_ratio(q.wording, self.key_wording[k]) / 100
            score = recall**RECALL_POWER * (W_BASE + W_PRECISION * precision + W_RATIO * ratio) * doc.prior
            if not typed:
                score *= WRONG_TYPE
            if best is None or score > best.score:
                best = Match(doc, score, self.key_text[k], recall, precision, ratio, typed)
        if best is None:  # a document reached only through its answer words
            in_answer = sum(w for t, w in weights.items() if t in answer_terms)
            recall = ANSWER_ONLY * in_answer / total
            score = recall**RECALL_POWER * W_BASE * doc.prior * (1.0 if typed else WRONG_TYPE)
            best = Match(doc, score, doc.answer, recall, 0.0, 0.0, typed)
        return best

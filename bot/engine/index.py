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

import numpy as np
from rapidfuzz import fuzz, process

from bot.engine.params import DEFAULT, Params
from bot.engine.text import (
    STOPWORDS,
    QuestionType,
    Thesaurus,
    meaning_words,
    names_in,
    offered_kinds,
    question_type,
    stem,
    words,
)
from bot.knowledge.model import Citation, Fact, KnowledgeBase

SPECIFIC = frozenset({QuestionType.WHO, QuestionType.WHEN, QuestionType.WHERE, QuestionType.WHY,
                      QuestionType.NUMBER, QuestionType.HOW})
_YES_NO_ANSWER = re.compile(r"^(yes|no)\b", re.IGNORECASE)
WHOLE = 1.0 - 1e-9  # recall and precision are sums of weights: "all of it", give or take rounding
COMMON_POSTINGS = 1000  # a word in more documents than this only adds to documents rarer words found


@dataclass(frozen=True, slots=True)
class Doc:
    """One answer the engine can give, with the phrasings that lead to it."""

    source: str
    title: str | None  # the question offered as a suggestion; None for article sentences
    answer: str
    citations: tuple[Citation, ...]
    keys: tuple[str, ...]
    prior: float = 1.0

    @property
    def evidence(self) -> str:
        """The answer with its cited quotes: everything the reader is shown as said by the story."""
        return " ".join([self.answer, *(c.quote for c in self.citations)])


@dataclass(frozen=True, slots=True)
class Match:
    doc: Doc
    position: int  # the document's place in Index.docs
    score: float
    key: str
    recall: float
    precision: float
    ratio: float
    typed: bool
    # The key is one of the knowledge's own phrasings of this answer, as good as word for word and asking the same
    # kind of thing: the moderators' word that it answers the question, over the type check and the detail rules.
    vouched: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[str, ...]
    sorted_wording: str  # the words in sorted order: what the wording ratio compares
    kind: QuestionType


# A sentence ends at . ! or ?, or at a closing quote right after one: "…Department,” Jivani said" goes on.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][”\"]))\s+(?=[“\"A-Z])")
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
        # A role answers "what's Rubio's job?" as well as "who is Rubio?".
        keys = (title, *p.names, *(f"who is {n}" for n in p.aliases), *(f"what is {n}'s role" for n in p.names))
        docs.append(Doc(f"person:{p.id}", title, f"{p.name}: {p.role.text}", p.role.citations, keys))
        docs.extend(_fact_docs(f"person:{p.id}", title, "", p.facts, p.names))
    for t in kb.terms:
        title = f"What is {t.name}?"
        keys = (title, *t.names, *(f"what is {n}" for n in t.aliases))
        docs.append(Doc(f"term:{t.id}", title, f"{t.name}: {t.definition.text}", t.definition.citations, keys))
        docs.extend(_fact_docs(f"term:{t.id}", title, "", t.facts, t.names))
    for event in kb.timeline:
        keys = (event.text, f"{event.when} {event.text}", f"what happened on {event.when}")
        docs.append(Doc(f"event:{event.id}", f"What happened on {event.when}?", f"{event.when}: {event.text}",
                        event.citations, keys))
    for para in kb.article.paragraphs:
        for sentence in sentences(para.text):
            cite = (Citation(para.number, sentence),)
            docs.append(Doc(f"article:{para.number}", None, sentence, cite, (sentence,), prior=0.9))
    return docs


class Index:
    """Inverted index over document phrasings and answers, with rarity weights."""

    def __init__(self, docs: list[Doc], thesaurus: Thesaurus, places: tuple[str, ...] = (),
                 params: Params = DEFAULT) -> None:
        self.docs = docs
        self.params = params
        self.thesaurus = thesaurus
        self.key_doc: list[int] = []
        self.key_text: list[str] = []
        self.key_sorted: list[str] = []  # each phrasing's words in sorted order, for the wording ratio
        self.key_terms: list[frozenset[str]] = []
        self.key_kind: list[QuestionType | None] = []  # the kind of a phrasing that is a question
        self.answer_terms: list[frozenset[str]] = []
        self.doc_offers: list[frozenset[QuestionType]] = []
        self.doc_names: list[frozenset[str]] = []
        self.doc_keys: list[range] = []
        self.doc_words: list[list[str]] = []
        self.doc_term_keys: list[dict[str, tuple[int, ...]]] = []  # per document: term -> its phrasings using it
        # term -> {document using it anywhere: the largest share of one phrasing's weight it makes up}
        doc_postings: dict[str, dict[int, float]] = defaultdict(dict)
        vocabulary: set[str] = set()
        doc_freq: dict[str, int] = defaultdict(int)
        for d, doc in enumerate(docs):
            answer_side = doc.evidence
            # An answer that opens with yes or no serves yes/no questions only.
            offered = offered_kinds(answer_side, places)
            self.doc_offers.append(offered & {QuestionType.YESNO} if _YES_NO_ANSWER.match(doc.answer) else offered)
            self.doc_names.append(names_in(doc.answer))
            answer_words = words(answer_side)
            answer_terms = frozenset(thesaurus.terms(answer_words))
            self.answer_terms.append(answer_terms)
            seen = set(answer_terms)
            first = len(self.key_doc)
            doc_key_words: list[str] = []
            for key in doc.keys:
                key_words = words(key)
                doc_key_words += key_words
                terms = frozenset(thesaurus.terms(key_words))
                self.key_doc.append(d)
                self.key_text.append(key)
                self.key_sorted.append(" ".join(sorted(key_words)))
                self.key_terms.append(terms)
                kind = question_type(key_words)
                self.key_kind.append(None if kind is QuestionType.WHAT else kind)
                seen |= terms
                vocabulary.update(key_words)
            self.doc_keys.append(range(first, len(self.key_doc)))
            # The words that carry meaning, answer and phrasings, once each: for the word-by-word meaning.
            self.doc_words.append(meaning_words((*answer_words, *doc_key_words)))
            vocabulary.update(answer_words)
            for t in seen:
                doc_freq[t] += 1
        n = len(docs) or 1
        self.idf = {t: math.log((n + 1) / (df + 0.5)) for t, df in doc_freq.items()}
        self.unknown_weight = max(self.idf.values(), default=1.0)
        self.key_weight = [sum(self.idf[t] for t in terms) or 1.0 for terms in self.key_terms]
        for d in range(len(docs)):
            share: dict[str, float] = dict.fromkeys(self.answer_terms[d], 0.0)
            term_keys: dict[str, list[int]] = defaultdict(list)
            for k in self.doc_keys[d]:
                for t in self.key_terms[k]:
                    share[t] = max(share.get(t, 0.0), self.idf[t] / self.key_weight[k])
                    term_keys[t].append(k)
            for t, part in share.items():
                doc_postings[t][d] = part
            self.doc_term_keys.append({t: tuple(ks) for t, ks in term_keys.items()})
        # The same as arrays, documents ascending: the documents using a term, and 1 + that share.
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {
            t: (np.fromiter(ds, np.intp, len(ds)), 1.0 + np.fromiter(ds.values(), np.float64, len(ds)))
            for t, ds in doc_postings.items()}
        vocabulary |= thesaurus.words
        self.known_words = frozenset(vocabulary)
        # Correction targets by first letter: readers misspell the middle of a name, rarely its start.
        self.vocabulary: dict[str, list[str]] = defaultdict(list)
        # Stop words are targets too, so "happend" becomes "happened" and is then dropped as one.
        for w in sorted(vocabulary | STOPWORDS):
            if len(w) >= 4 and not w.isdigit():
                self.vocabulary[w[0]].append(w)

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_weight)

    def query(self, text: str, kind: QuestionType, ws: list[str] | None = None) -> Query:
        """The question's content terms, each misspelt word first corrected to the nearest known word.

        `ws` is words(text), when the caller has it already.
        """
        ws = words(text) if ws is None else ws
        corrected = [self._correct(w) for w in ws]
        terms = tuple(self.thesaurus.terms(corrected))
        return Query(text, terms, " ".join(sorted(ws)), kind)

    def _correct(self, word: str) -> str:
        if word in self.known_words or word in STOPWORDS or len(word) < 4 or word.isdigit() or stem(word) in self.idf:
            return word
        best = process.extractOne(word, self.vocabulary.get(word[0], ()), scorer=fuzz.ratio,
                                  score_cutoff=self.params.typo_cutoff)
        return best[0] if best is not None else word

    def search(self, q: Query, extra: Iterable[int] = ()) -> list[Match]:
        """Documents ranked by match score, best first (one Match per document)."""
        if not q.terms:
            return []
        weights = {t: self.weight(t) for t in q.terms}
        shortlist = dict.fromkeys([*self._shortlist(weights), *extra])
        # Per question word: its weight, and what it counts against a phrasing and answer without it.
        counted = [(t, w, max(w, self.params.unmatched_floor)) for t, w in weights.items()]
        matches = [self._best_key(q, d, counted) for d in shortlist]
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches

    def _shortlist(self, weights: dict[str, float]) -> list[int]:
        """The documents worth scoring in full, by a cheap estimate: the question weight a document holds
        anywhere, more where a phrasing is mostly that word ("Rubio" for "rubio").

        Rarest words first; once enough documents are found, a word in very many documents only adds to
        them. Ties go to the document found first (by an earlier word, then a lower number), as when this
        was a loop over a dict.
        """
        limit = self.params.shortlist
        estimate = np.zeros(len(self.docs))
        found_by = np.full(len(self.docs), len(weights))  # the first word (in the order below) that found it
        empty = (np.zeros(0, np.intp), np.zeros(0))
        for j, t in enumerate(sorted(weights, key=lambda t: len(self.postings.get(t, empty)[0]))):
            docs, boost = self.postings.get(t, empty)
            if len(docs) > COMMON_POSTINGS and np.count_nonzero(found_by < j) >= limit:
                known = found_by[docs] < j
                docs, boost = docs[known], boost[known]
            estimate[docs] += weights[t] * boost
            found_by[docs] = np.minimum(found_by[docs], j)
        found = np.flatnonzero(found_by < len(weights))
        order = np.lexsort((found, found_by[found], -estimate[found]))
        return found[order[:limit]].tolist()

    def _best_key(self, q: Query, d: int, counted: list[tuple[str, float, float]]) -> Match:
        """Score document `d` by its best phrasing among those sharing a word with the question.

        Phrasings holding the same question words share their recall, so it is computed once per such
        set (word by word in question order, the same sums to the last bit). The wording ratio costs the
        most, so phrasings are tried best bound first and the ratio is computed only where it can still
        change the winner.
        """
        doc = self.docs[d]
        answer_terms = self.answer_terms[d]
        if q.kind is QuestionType.WHO:
            typed = q.kind in self.doc_offers[d] and bool(self.doc_names[d].difference(q.terms))
        else:
            typed = q.kind in self.doc_offers[d]
        p = self.params
        factor = doc.prior * (1.0 if typed else p.wrong_type)
        term_keys = self.doc_term_keys[d]
        held: dict[int, int] = {}  # phrasing -> the question words it holds, as bits in question order
        for bit, (t, _, _) in enumerate(counted):
            for k in term_keys.get(t, ()):
                held[k] = held.get(k, 0) | 1 << bit
        if not held:
            held[self.doc_keys[d][0]] = 0
        shared: dict[int, tuple[float, float, float]] = {}  # question words held -> weight, recall, recall part
        for mask in set(held.values()):
            in_key = in_answer = unmatched = 0.0
            for bit, (t, w, missing) in enumerate(counted):
                if mask >> bit & 1:
                    in_key += w
                elif t in answer_terms:
                    in_answer += w
                else:
                    unmatched += missing
            recall = (in_key + p.answer_only * in_answer) / (in_key + in_answer + unmatched)
            shared[mask] = in_key, recall, recall**p.recall_power * factor
        key_weight, key_kind, kind = self.key_weight, self.key_kind, q.kind
        other_kind, other_question = kind in SPECIFIC, p.other_question
        w_base, w_precision, w_ratio = p.w_base, p.w_precision, p.w_ratio
        candidates = []
        for k, mask in held.items():
            in_key, recall, part = shared[mask]
            precision = in_key / key_weight[k]
            asks_other = other_kind and (key_kind_k := key_kind[k]) is not None and key_kind_k is not kind
            base = part * (other_question if asks_other else 1.0)
            candidates.append((base * (w_base + w_precision * precision + w_ratio), base, recall, precision, k))
        best: tuple[float, int, float, float, float] | None = None  # score, phrasing, ratio, recall, precision
        for bound, base, recall, precision, k in sorted(candidates, reverse=True):
            if best is not None and bound <= best[0]:
                break
            ratio = fuzz.ratio(q.sorted_wording, self.key_sorted[k]) / 100
            score = base * (w_base + w_precision * precision + w_ratio * ratio)
            if best is None or score > best[0]:
                best = score, k, ratio, recall, precision
        assert best is not None, "every document has at least one phrasing"
        score, k, ratio, recall, precision = best
        vouched = doc.title is not None and recall >= WHOLE and precision >= WHOLE and ratio >= p.vouched_ratio \
            and (self.key_kind[k] or QuestionType.WHAT) is q.kind
        if vouched and not typed:  # "how many people did he meet", listed by the moderators for the list of them
            score, typed = score / p.wrong_type, True
        return Match(doc, d, score, self.key_text[k], recall, precision, ratio, typed, vouched)

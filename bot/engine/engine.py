"""Engine.ask: a message in, an Answer out, cited from the story or honestly declined.

How a message is answered, in order:
1. understand it (bot/engine/understand.py): an intent said to the bot ("help", "thanks"), or up
   to three questions found inside chatter and filler;
2. spell each question out against the reader's conversation (bot/engine/conversation.py);
3. propose candidates by words (bot/engine/index.py) and by meaning (bot/engine/semantic.py);
4. decide (bot/engine/decide.py): the probability that a candidate gives what is asked, calibrated,
   against one threshold; two different answers too close to call become "did you mean…?";
5. a yes/no question gets "Yes" or "No" in front when the story settles it (bot/engine/premise.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
from rapidfuzz import fuzz, process

from bot.engine import decide
from bot.engine.answer import DOESNT_SAY, Answer
from bot.engine.conversation import Conversation, Entities, Entity, correcting, resolve
from bot.engine.index import Index, build_docs, sentences
from bot.engine.params import DEFAULT, Params
from bot.engine.premise import claims_removed, disputable, settle, verdict
from bot.engine.semantic import MeaningIndex, WordMeaning, shared_embedder
from bot.engine.shipped import ModelError
from bot.engine.text import QuestionType, Thesaurus, clean, content_terms, meaning_words, question_type, stem, words
from bot.engine.timeline import Timeline
from bot.engine.understand import understand
from bot.engine.verifier import Verifier, candidate_text, shared_verifier
from bot.knowledge.loader import Problem, load_knowledge, phrasing_key
from bot.knowledge.model import Citation, Event, KnowledgeBase, Person, Term

log = logging.getLogger(__name__)
T = TypeVar("T", Person, Term)

NAME_CUTOFF = 70  # rapidfuzz WRatio for /who and /what lookups
MAX_QUESTION = 4000  # longer messages are cut: nobody asks a 4,000-character question


class Engine:
    """Answers questions from one KnowledgeBase. Immutable after construction; safe to share across threads."""

    def __init__(self, kb: KnowledgeBase, params: Params = DEFAULT) -> None:
        self.kb = kb
        self.params = params
        self.thesaurus = Thesaurus(kb.synonyms)
        self.index = Index(build_docs(kb), self.thesaurus, kb.story.places, params)
        self.meaning = MeaningIndex(shared_embedder(), self.index.key_text,
                                    [r.start for r in self.index.doc_keys])
        self.word_meaning = WordMeaning(shared_embedder(), self.index.doc_words)
        self.entities = Entities(
            [(p.names, Entity(p.name, True, Entities.feminine(p.role.text))) for p in kb.people]
            + [(t.names, Entity(t.name, False)) for t in kb.terms]
        )
        self._people_names = [(n, p) for p in kb.people for n in p.names]
        self._term_names = [(n, t) for t in kb.terms for n in t.names]
        self._story_words = frozenset(self.index.idf)
        self._given = {(d.source, d.answer): d for d in self.index.docs}  # a past answer's document
        self.verifier = _verifier() if params.verify else None
        self.timeline = Timeline(kb.timeline, self.index, self.thesaurus, {p.id: p.name for p in kb.people},
                                 shared_embedder())

    # --- answering ---------------------------------------------------------------------

    def ask(self, text: str, conversation: Conversation | None = None) -> Answer:
        """Answer `text`, leaning on the reader's `conversation` for follow-ups.

        Never raises: a failure inside becomes a logged abstention.
        """
        question = text if isinstance(text, str) else ""
        try:
            return replace(self._ask(question[:MAX_QUESTION], conversation or Conversation()), question=question)
        except Exception:  # the engine's promise: any string gets an Answer
            log.exception("engine failed on a question; answering that the story doesn't say")
            return Answer(question, False, DOESNT_SAY, 0.0)

    def _ask(self, text: str, conversation: Conversation) -> Answer:
        message = understand(text)
        if message.intent == "summary":
            return self._summary(text)
        if message.intent is not None:
            return Answer(text, False, self._intent_reply(message.intent), 0.0, intent=message.intent)
        parts: list[Answer] = []
        talk = conversation
        for i, asked in enumerate(message.questions):
            resolved = resolve(asked, talk, self.entities)
            # A later question of the same message is asked in the light of the first: a lower bar.
            bar = self.params.part_threshold if i else self.params.threshold
            if resolved != asked:
                bar = min(bar, self.params.followup_threshold)
            answer = self._corrected(asked, talk) or self._answer_one(asked, resolved, bar)
            parts.append(answer)
            talk = talk.add(answer, talk.turns[-1].at if talk.turns else 0.0)  # the next part may say "he"
        return _combine(text, parts)

    def _summary(self, text: str) -> Answer:
        """"tldr?", "what's this story about?": the pack's summary, with the lead sentence it sums up cited."""
        lead = next(iter(self.kb.article.paragraphs), None)
        if lead is None:
            return Answer(text, False, DOESNT_SAY, 0.0)
        first = sentences(lead.text)[0]
        # No intent on it: faces show it as a story answer, with its citation.
        return Answer(text, True, self.kb.story.summary, 1.0, (Citation(lead.number, first),), "story")

    def _corrected(self, asked: str, conversation: Conversation) -> Answer | None:
        """"Wait, wasn't that in January?": the last answer's own fact, checked against what the reader says of
        it (not another fact that happens to mention January). None when it is no correction, or the last
        answer neither contradicts nor bears out the claim."""
        claim = correcting(asked)
        if claim is None or not conversation.turns or not conversation.turns[-1].answered:
            return None
        last = conversation.turns[-1]
        doc = self._given.get((last.source, re.sub(r"^(?:Yes|No): ", "", last.text or "")))
        if doc is None or (found := verdict(claim, doc.evidence, self.entities)) is None:
            return None
        return Answer(asked, True, f"{found}: {doc.answer}", 1.0 if found == "No" else 0.9, doc.citations,
                      doc.source, resolved=f"{claim.strip()} ({last.resolved})")

    def _answer_one(self, asked: str, resolved: str, threshold: float) -> Answer:
        spelled = resolved if resolved != asked else None
        compared = self.timeline.compare(resolved)  # "which came first, X or Y?": no one entry answers it
        if compared is not None:
            return Answer(asked, True, compared.text, compared.confidence, compared.citations,
                          f"event:{compared.events[0].id}", resolved=spelled)
        candidates = self.candidates(resolved)
        if (not candidates or candidates[0].probability < threshold) and \
                question_type(resolved) is QuestionType.YESNO:
            # A false premise ("Did they meet on Feb. 10?") hides the fact it gets wrong: find the fact
            # without the asserted details, and answer it only where the story contradicts the premise.
            stripped = claims_removed(resolved, self.index.known_words)
            # No second search when nothing asserted can be taken out (the same words would be searched again),
            # when nothing in the question could be contradicted or chosen between, or when no answer came near.
            near = bool(candidates) and candidates[0].probability >= self.params.premise_floor
            found = self.candidates(stripped, decided=1) \
                if near and words(stripped) != words(resolved) and disputable(resolved, self.entities) else []
            if found and found[0].probability >= threshold:
                best = found[0]
                if verdict(resolved, best.doc.evidence, self.entities) == "No":
                    return Answer(asked, True, f"No: {best.doc.answer}", best.probability, best.doc.citations,
                                  best.doc.source, resolved=spelled)
        if not candidates or candidates[0].probability < threshold:
            best = candidates[0].probability if candidates else 0.0
            return Answer(asked, False, DOESNT_SAY, best, suggestions=self._suggestions(candidates), resolved=spelled)
        best = candidates[0]
        missing = decide.unasked(resolved, best.match)
        # Another answer over the bar may give what the best lacks ("what did Bessent say about Carney?": his
        # claim, not Carney's denial of it).
        given = None if not missing else next(
            (c for c in candidates[1:] if c.probability >= threshold and c.doc.answer != best.doc.answer
             and decide.unasked(resolved, c.match) is None), None)
        if missing and given is None:
            # The story names the thing but not what is asked of it: say so, and what it does say.
            text = f"The story doesn't say {self._what(missing)}. What it does say: {best.doc.answer}"
            return Answer(asked, False, text, best.probability, best.doc.citations, best.doc.source,
                          resolved=spelled)
        if given is not None:
            best, candidates = given, [given, *(c for c in candidates if c is not given)]
        p = self.params
        others = [c for c in candidates[1:] if c.doc.answer != best.doc.answer]
        unsure = best.probability < threshold + p.unsure_margin
        alternatives: tuple[str, ...] = ()
        # Unsure, and another answer is about as likely: ask which was meant rather than guess.
        if unsure and others and best.doc.title and others[0].doc.title and \
                best.probability - others[0].probability < p.ambiguity_margin:
            alternatives = (best.doc.title, others[0].doc.title)
        text = settle(resolved, best.doc, self.entities)
        return Answer(asked, True, text, best.probability, best.doc.citations, best.doc.source,
                      self._suggestions(others, exclude=best.doc.title) if unsure else (),
                      resolved=spelled, alternatives=alternatives)

    def candidates(self, question: str, decided: int | None = None, verify: bool = True) -> list[decide.Candidate]:
        """Possible answers to one question, most likely right first, each with its signals.

        Signals are computed for the `decided` best-ranked (Params.decided unless a caller needs fewer); the
        verifier then reads the best `verify_depth` of them with the question, unless nothing came near or retrieval
        is sure already (the fast path).
        """
        found = self._retrieved(question, decided)
        if not verify or self.verifier is None or not found or _told(question, found[0]) or \
                not self.params.verify_floor <= found[0].probability < self.params.verify_sure:
            return found
        depth = self.params.verify_depth
        read = found[:depth]
        weights = self.params.verified_weights
        scores = self.verifier.scores(question, [candidate_text(c.doc) for c in read])
        verified = [replace(c, probability=decide.probability(decide.verified_signals(v, c.probability), weights),
                            verified=v) for c, v in zip(read, scores, strict=True)]
        verified.sort(key=lambda c: c.probability, reverse=True)
        return verified + found[depth:]

    def _retrieved(self, question: str, decided: int | None) -> list[decide.Candidate]:
        """Candidates by retrieval alone: words and meaning, and the logistic model over their signals."""
        ws = words(question)
        query = self.index.query(question, question_type(ws), ws)
        if not query.terms:
            return []
        meaning = self.meaning.similarities(question)
        proposed = np.argsort(-meaning)[: self.params.meaning_shortlist].tolist()
        matches = self.index.search(query, extra=proposed)
        if len(query.terms) == 1 and query.terms[0] not in self._story_words:
            return []  # one word the story never uses ("nice", "hmm") asks nothing of it
        asked = meaning_words(ws)
        asked_vectors = self.word_meaning.question(asked)
        asked_weights = np.array([self.index.weight(stem(w)) for w in asked])
        asked_total = asked_weights.sum()
        # Each signal's best value among the other answers, from each signal's two best (different) answers.
        by_words = _two_best((min(m.score, 1.0), m.doc.answer) for m in matches)
        by_meaning = _two_best((float(meaning[m.position]), m.doc.answer) for m in matches)
        ranked = sorted(matches, key=lambda m: min(m.score, 1.0) + self.params.meaning_rank * meaning[m.position],
                        reverse=True)
        out = []
        for m in ranked[: decided or self.params.decided]:  # the decision and the suggestions need no more
            similarity = float(meaning[m.position])
            covered = self.word_meaning.coverage(asked_vectors, asked_weights, asked_total, m.position)
            signals = decide.features(question, query, m, similarity, _other(by_meaning, m.doc.answer),
                                      _other(by_words, m.doc.answer), covered, self.index)
            p = decide.probability(signals, self.params.weights)
            out.append(decide.Candidate(m, similarity, min(m.score, 1.0) + self.params.meaning_rank * similarity,
                                        signals, p, p))
        return out

    def explain(self, text: str, limit: int = 8) -> list[decide.Candidate]:
        """The top candidates and their signals, for moderators debugging a miss."""
        message = understand(text)
        if message.intent is not None:
            return []
        return self.candidates(message.questions[0])[:limit]

    def _suggestions(self, candidates: list[decide.Candidate], exclude: str | None = None,
                     limit: int = 3) -> tuple[str, ...]:
        """Titles of answers close to the question by retrieval: near the topic, whether or not the verifier found
        they answer it ("How old is Rubio?" -> "Who is Marco Rubio?")."""
        titles: list[str] = []
        for c in sorted(candidates, key=lambda c: c.retrieval, reverse=True):
            title = c.doc.title
            if c.retrieval >= self.params.suggestion_floor and title and title != exclude and title not in titles:
                titles.append(title)
        return tuple(titles[:limit])

    def _what(self, missing: str) -> str:
        """"which senators", "who at GM" as they are; a speaker as "what Marco Rubio said", named as the story
        names them."""
        if re.match(r"(?:which|how|by|who|where|what will)\b", missing):  # a detail, as it reads
            return missing
        named = self.entities.found(missing)
        return f"what {named[0].name if named else missing} said"

    def _intent_reply(self, intent: str) -> str:
        """A short pointer to what the bot does: never a story fact, never "the story doesn't say"."""
        title = self.kb.story.title
        example = f"“Who is {self.kb.people[0].name}?”" if self.kb.people else "a question"
        pointer = f"Ask me about “{title}” — for example {example} — or type /help to see everything I can do."
        return {
            "help": f"I answer questions about “{title}” with quotes from the story and their paragraph numbers. "
                    f"Ask in your own words, for example {example}, or use /ask, /who, /what, /when and /source. "
                    "/help shows them all.",
            "thanks": f"You're welcome! {pointer}",
            "greeting": f"Hi! {pointer}",
            "about-bot": f"I'm a bot that answers from the story's own words, citing its paragraphs. {pointer}",
        }.get(intent, pointer)

    # --- lookups for /who, /what, /when and autocomplete ------------------------------

    def find_person(self, name: str) -> Person | None:
        return _find(name, self._people_names)

    def find_term(self, name: str) -> Term | None:
        return _find(name, self._term_names)

    def complete_people(self, current: str, limit: int = 25) -> list[tuple[str, str]]:
        return _complete(current, self._people_names, limit)

    def complete_terms(self, current: str, limit: int = 25) -> list[tuple[str, str]]:
        return _complete(current, self._term_names, limit)

    def events(self, query: str | None = None) -> list[Event]:
        """The timeline in story order; with a query, the events that share a word or a person with it."""
        if not query or not query.strip():
            return list(self.kb.timeline)
        wanted = set(self.index.query(query, question_type(query)).terms)
        out = []
        for event in self.kb.timeline:
            names = " ".join(n for pid in event.people if (p := self.kb.person(pid)) for n in p.names)
            if wanted & set(content_terms(f"{event.when} {event.text} {names}", self.thesaurus)):
                out.append(event)
        return out


def _told(question: str, best: decide.Candidate) -> bool:
    """Whether the best candidate is an entry one of whose curated phrasings is the question itself: a moderator
    said what it means (a gap turned into a phrasing must be answered by it), so the verifier is not asked."""
    return best.doc.source.startswith("qa:") and phrasing_key(best.match.key) == phrasing_key(question)


def _two_best(scored: Iterable[tuple[float, str]]) -> list[tuple[float, str]]:
    """The best score, and the best of another answer, as (score, answer) pairs."""
    best: list[tuple[float, str]] = []
    for score, answer in sorted(scored, reverse=True):
        if not best or (len(best) == 1 and answer != best[0][1]):
            best.append((score, answer))
        if len(best) == 2:
            break
    return best


def _other(best: list[tuple[float, str]], answer: str) -> float:
    """The best score among answers other than `answer`."""
    return next((score for score, other in best if other != answer), 0.0)


def _combine(text: str, parts: list[Answer]) -> Answer:
    """One Answer for a message: one question's answer as it is; several answered one after another."""
    if len(parts) == 1:
        return parts[0]
    answered = [a for a in parts if a.answered]
    if not answered:
        best = max(parts, key=lambda a: a.confidence)
        return replace(best, question=text)
    lines = [a.text if a.answered else f"“{a.question.strip(' ?')}?” — the story doesn't say." for a in parts]
    citations: list[Citation] = list(dict.fromkeys(c for a in answered for c in a.citations))
    return Answer(text, True, "\n".join(lines), min(a.confidence for a in answered), tuple(citations),
                  answered[0].source, resolved=" / ".join(a.resolved or a.question for a in parts))


def _find(name: str, names: list[tuple[str, T]]) -> T | None:
    cleaned = clean(name)
    if not cleaned.strip():
        return None
    best = process.extractOne(cleaned, [n for n, _ in names], scorer=fuzz.WRatio, processor=clean,
                              score_cutoff=NAME_CUTOFF)
    return names[best[2]][1] if best else None


def _complete(current: str, names: list[tuple[str, T]], limit: int) -> list[tuple[str, str]]:
    """Autocomplete choices (display name, id), best first, one per item, names cut to 100 characters."""
    cleaned = clean(current or "")
    if cleaned.strip():
        ranked = process.extract(cleaned, [n for n, _ in names], scorer=fuzz.WRatio, processor=clean,
                                 limit=len(names), score_cutoff=50)
        order = [names[i][1] for _, _, i in ranked]
    else:
        order = sorted({item.id: item for _, item in names}.values(), key=lambda item: item.name)
    out: dict[str, str] = {}
    for item in order:
        out.setdefault(item.id, item.name[:100])
    return [(display, ident) for ident, display in out.items()][:limit]


def _verifier() -> Verifier | None:
    """The shipped verifier, or None (logged) when its files are missing or damaged: answer on without it."""
    try:
        return shared_verifier()
    except (ModelError, ImportError) as exc:
        log.error("the verifier cannot be loaded; answering from retrieval alone: %s", exc)
        return None


def load_engine(directory: Path | str, params: Params = DEFAULT) -> tuple[Engine | None, tuple[Problem, ...]]:
    """Load knowledge and build an Engine over everything valid, with the problems found.

    A bad entry leaves only that entry out, so the engine is None only when the story or the
    article itself is unusable. Callers that must serve complete knowledge (the bot's start,
    a live reload) refuse an engine that comes with problems.
    """
    result = load_knowledge(directory)
    return (Engine(result.kb, params) if result.kb is not None else None), result.problems

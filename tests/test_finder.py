"""EntryFinder: ids for /kb autocomplete from a prefix search and a capped candidate list."""

from __future__ import annotations

import pytest

from bot.knowledge import finder as finder_module
from bot.knowledge.finder import EntryFinder
from bot.knowledge.model import Citation, QAEntry


def qa(ident: str, question: str) -> QAEntry:
    return QAEntry(ident, question, (), "answer", (Citation(1, "x"),))


ENTRIES = [
    qa("trump-message", "What message did Trump ask Jivani to pass along to Canadians?"),
    qa("trump-message-source", "Who says Trump sent the message?"),
    qa("who-jivani-met", "Who did Jivani meet in Washington?"),
    qa("cusma-review", "When is the CUSMA review?"),
    qa("tariffs", "Which tariffs did Trump threaten?"),
]


@pytest.fixture
def finder() -> EntryFinder:
    return EntryFinder(ENTRIES)


def ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [ident for ident, _ in pairs]


def test_nothing_typed_lists_ids_in_order_up_to_the_limit(finder: EntryFinder):
    assert ids(finder.find("", limit=3)) == ["cusma-review", "tariffs", "trump-message"]
    assert finder.find("   ", limit=1) == [("cusma-review", "When is the CUSMA review?")]


def test_ids_starting_with_what_is_typed_come_first_then_words_of_questions(finder: EntryFinder):
    assert ids(finder.find("trump-m"))[:2] == ["trump-message", "trump-message-source"]
    found = ids(finder.find("TRUMP"))
    assert found[:2] == ["trump-message", "trump-message-source"] and "tariffs" in found  # "Trump" in its question


def test_words_of_the_question_find_an_entry_whatever_the_order(finder: EntryFinder):
    assert ids(finder.find("washington meet"))[0] == "who-jivani-met"
    assert ids(finder.find("review cus"))[0] == "cusma-review"


def test_a_typo_finds_the_nearest_words(finder: EntryFinder):
    assert ids(finder.find("tarifs"))[0] == "tariffs"
    assert finder.find("zzzzqqq") == []


def test_each_keystroke_ranks_at_most_the_candidate_cap(monkeypatch: pytest.MonkeyPatch):
    many = [qa(f"entry-{i:05d}", f"Question about trade number {i}?") for i in range(3000)]
    finder = EntryFinder(many)
    ranked: list[int] = []
    real = finder_module.process.extract

    def counting(query, choices, **kwargs):
        ranked.append(len(choices))
        return real(query, choices, **kwargs)

    monkeypatch.setattr(finder_module.process, "extract", counting)
    monkeypatch.setattr(finder_module, "CANDIDATES", 100)
    found = finder.find("trade number 2999", limit=25)
    assert len(found) == 25 and ranked == [100]
    assert ids(finder.find("entry-0299", limit=5)) == [f"entry-0299{i}" for i in range(5)]

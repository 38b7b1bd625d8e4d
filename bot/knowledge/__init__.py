"""Knowledge: the article, the data model, and loading with `path:line` problems."""

from bot.knowledge.article import Article, Paragraph, fold
from bot.knowledge.loader import LoadResult, Problem, load_knowledge
from bot.knowledge.model import Citation, Event, Fact, KnowledgeBase, Person, QAEntry, Story, Term

__all__ = [
    "Article",
    "Citation",
    "Event",
    "Fact",
    "KnowledgeBase",
    "LoadResult",
    "Paragraph",
    "Person",
    "Problem",
    "QAEntry",
    "Story",
    "Term",
    "fold",
    "load_knowledge",
]

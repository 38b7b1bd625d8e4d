"""The engine holds nothing of one story: a story's names, places and terms live in its pack.

Names are gathered from the packs themselves (people, terms, places) and looked for, as whole words
and case-insensitively, in the string literals and identifiers of every module under bot/. Docstrings
and comments may name the default story, as examples for the reader of the code; code may not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from bot.engine.text import Thesaurus, content_terms, words
from bot.knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parent.parent
PACKS = (ROOT / "knowledge", ROOT / "tests" / "fixtures" / "stories" / "harbourline")
# A leading article is not part of a name: "the White House" is found as "White House".
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
# An alias in lower case after "the" ("the city", "the builder", "the president") describes the entity in
# ordinary words; it is not a name, and the bare noun is ordinary English.
_DESCRIPTION = re.compile(r"^the\s+[^A-Z]*$")

# Names of a pack that are ordinary English used in the engine's ordinary sense, each with why it may stay.
ALLOWED: dict[str, str] = {
    "mark": "Mark Carney's first name, and the ordinary noun: a YAML node's start and end mark, yaml.Mark",
    "tell": "Marcus Tell's surname, and the ordinary verb: 'tell me…' asks nothing of the story",
    "wh": "the White House's initials, and the grammar's wh-question words (who, what, where…)",
    "gm": "General Motors' initials, and chat's 'good morning', read as a greeting only as the whole message",
}


def _entries(pack: Path, name: str) -> list[dict]:
    data = yaml.safe_load((pack / name).read_text(encoding="utf-8")) or []
    return [e for e in data if isinstance(e, dict)]


def pack_names() -> dict[str, str]:
    """Every name, alias and place of the packs, and the ids of their people and terms ("riding" names the
    default story's electoral district), lower-cased, mapped to the pack file that holds it."""
    names: dict[str, str] = {}
    for pack in PACKS:
        found: list[tuple[object, str]] = []
        for file in ("people.yaml", "terms.yaml"):
            for entry in _entries(pack, file):
                ident = str(entry.get("id", "")).replace("-", " ")
                found += [(name, file) for name in [ident, entry.get("name"), *(entry.get("aliases") or [])]]
        story = yaml.safe_load((pack / "story.yaml").read_text(encoding="utf-8")) or {}
        found += [(place, "story.yaml") for place in story.get("places") or []]
        for name, file in found:
            if isinstance(name, str) and not _DESCRIPTION.match(name.strip()):
                names.setdefault(_ARTICLE.sub("", name.strip()).lower(), f"{pack.name}/{file}")
    return names


def story_names() -> dict[str, str]:
    """The names the engine's code must not hold: the packs' names less the allowed ordinary words."""
    return {name: where for name, where in pack_names().items() if name not in ALLOWED}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: the first bare string of a module, class or function."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                found.add(id(first.value))
    return found


def _identifier_words(name: str) -> str:
    """`riding_count` and `ridingCount` read as "riding count", so a name inside an identifier is found."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")


def code_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal (docstrings aside) and identifier of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((line, node.value))
        elif isinstance(node, ast.Name):
            out.append((line, _identifier_words(node.id)))
        elif isinstance(node, ast.Attribute):
            out.append((line, _identifier_words(node.attr)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((line, _identifier_words(node.name)))
        elif isinstance(node, (ast.arg, ast.keyword)) and node.arg:
            out.append((line, _identifier_words(node.arg)))
        elif isinstance(node, ast.alias):
            out.append((line, _identifier_words(node.asname or node.name)))
    return out


def _pattern(name: str) -> re.Pattern[str]:
    """The name as whole words, any case; its spaces and dashes match any run of spaces, dashes or underscores."""
    parts = [re.escape(p) for p in re.split(r"[\s\-\u2014_]+", name) if p]
    return re.compile(r"(?<![a-z0-9])" + r"[\s\-\u2014_]+".join(parts) + r"(?![a-z0-9])", re.IGNORECASE)


def findings() -> list[str]:
    names = {name: (_pattern(name), where) for name, where in story_names().items()}
    found: list[str] = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for line, text in code_texts(path):
            for name, (pattern, where) in names.items():
                if pattern.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {name!r} ({where}) in {text[:60]!r}")
    return found


def test_story_names_are_gathered() -> None:
    """The check is only as good as its list: both stories' people, terms and places are in it."""
    names = story_names()
    for name in ("jivani", "cusma", "bowmanville—oshawa north", "riding", "fenwick", "harbourline", "quarry street"):
        assert name in names


def test_allow_list_names_are_story_names() -> None:
    """An allowance for a name no pack holds any more is dead: drop it."""
    assert set(ALLOWED) <= set(pack_names())


@pytest.mark.parametrize("finding", findings() or ["none"])
def test_no_story_in_code(finding: str) -> None:
    assert finding == "none", "story-specific name in the engine's code; move it to the pack: " + finding


@pytest.mark.parametrize(("shorthand", "spelled"), [
    ("who is the pm", "who is the prime minister"), ("the vp's wife", "the vice president's wife"),
    ("tariffs on evs", "tariffs on electric vehicles"), ("the ev deal", "the electric vehicle deal"),
])
def test_the_default_storys_shorthand_is_read_from_its_pack(shorthand: str, spelled: str) -> None:
    """"pm", "vp" and "ev(s)" were once expanded in code for every story; the default pack's synonyms read them."""
    kb = load_knowledge(PACKS[0]).kb
    assert kb is not None
    thesaurus = Thesaurus(kb.synonyms)
    assert content_terms(shorthand, thesaurus) == content_terms(spelled, thesaurus)
    assert "pm" in words("the pm")  # the engine itself leaves the story's shorthand alone

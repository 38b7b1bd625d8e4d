"""Story packs: which stories the bot knows, each a folder named by its slug.

The knowledge folder (KNOWLEDGE_DIR, else knowledge/, else the story shipped in the package) is always there,
as the pack `main`: a fresh clone behaves as it did with one story. Further packs are the subfolders of
STORIES_DIR that hold an article, each named by its slug (`harbourline/` is the story `harbourline`). A slug is
what readers see in `/story` and moderators type in `/kb story set`, and what the records carry, so it is short,
lower case and stable: renaming a folder makes a new story as far as the records go.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.loader import (
    ARTICLE_FILE,
    PEOPLE_FILE,
    STORY_FILE,
    TERMS_FILE,
    TIMELINE_FILE,
    undeclared_headings,
)

MAIN_STORY = "main"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
SLUG_RULE = "1 to 40 lower-case letters, digits and hyphens, starting with a letter or digit"


class PackError(ValueError):
    """A story folder or slug the bot cannot use; the message says which and why, in one line."""


@dataclass(frozen=True, slots=True)
class Pack:
    slug: str
    directory: Path


def check_slug(slug: str) -> str:
    """`slug` when it is a usable story name; else PackError saying what one looks like."""
    if not SLUG.fullmatch(slug):
        raise PackError(f"{slug!r} is not a story name: use {SLUG_RULE}")
    return slug


def find_packs(knowledge_dir: Path, stories_dir: Path | None) -> dict[str, Pack]:
    """Every story the bot serves, by slug: `main` first, then STORIES_DIR's packs in name order.

    A subfolder without an article is skipped (a `.git` or notes folder beside the packs); a folder whose name is
    not a slug, or is `main`, is an error: a pack that silently never loads is worse than one that stops the start.
    """
    packs = {MAIN_STORY: Pack(MAIN_STORY, knowledge_dir)}
    if stories_dir is None:
        return packs
    if not stories_dir.is_dir():
        raise PackError(f"STORIES_DIR {stories_dir} is not a folder")
    for folder in sorted(stories_dir.iterdir()):
        if not folder.is_dir() or not (folder / ARTICLE_FILE).is_file():
            continue
        slug = folder.name
        if not SLUG.fullmatch(slug):
            raise PackError(f"{folder}: a story folder's name is its slug: use {SLUG_RULE}")
        if slug == MAIN_STORY:
            raise PackError(f"{folder}: `{MAIN_STORY}` is the knowledge folder's story; name this one otherwise")
        packs[slug] = Pack(slug, folder)
    return packs


def pick_pack(packs: dict[str, Pack], slug: str) -> Pack:
    """The pack named `slug`, or PackError listing the ones there are."""
    try:
        return packs[slug]
    except KeyError:
        raise PackError(f"no story {slug!r}: the stories are {', '.join(packs)}") from None


SKELETON_FILES = {  # each file's keys are in knowledge/README.md; `[]` until the story has some
    PEOPLE_FILE: "# Who is who: id, name, aliases, role (text and citations), facts.\n[]\n",
    TERMS_FILE: "# Words readers may not know: id, name, aliases, definition (text and citations), facts.\n[]\n",
    TIMELINE_FILE: "# What happened when, in story order: id, when, text, citations, people.\n[]\n",
    "qa-story.yaml": "# What readers ask and the story's answer: id, question, phrasings, answer, citations.\n[]\n",
}


def new_story(target: Path, article: Path) -> list[str]:
    """Start a pack in `target` (which must not exist yet) from an article: the article, a story.yaml with the
    lines that look like headings declared, and empty people, terms, timeline and Q&A files to fill in.

    Returns what a moderator does next, a line each.
    """
    if target.exists():
        raise PackError(f"{target} exists already: a new story needs a new folder")
    text = article.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise PackError(f"{article} has no text")
    headings = [line for _, line in undeclared_headings(text, ())]
    target.mkdir(parents=True)
    shutil.copyfile(article, target / ARTICLE_FILE)
    title = lines[0] if headings[:1] == lines[:1] else "TODO: the story's headline"  # a headline is heading-like
    (target / STORY_FILE).write_text(_story_yaml(title, headings), encoding="utf-8")
    for name, body in SKELETON_FILES.items():
        (target / name).write_text(body, encoding="utf-8")
    return [f"wrote {target}: {ARTICLE_FILE}, {STORY_FILE}, {', '.join(SKELETON_FILES)}",
            f"next: check the title, summary and headings in {target / STORY_FILE}, "
            f"read the numbered paragraphs with `python -m bot paragraph --knowledge {target}`,",
            f"then add people, terms, events and Q&A entries, and run `python -m bot check --knowledge {target}`"]


def _story_yaml(title: str, headings: list[str]) -> str:
    quoted = [f"  - {_yaml_text(h)}" for h in headings]
    return "\n".join([
        "# What the bot says about the story itself: only facts the article gives.",
        f"title: {_yaml_text(title)}",
        "summary: >-",
        "  TODO: two or three sentences on what the story reports.",
        "# The paragraphs before the first heading: what to call them.",
        "lead_section: \"Lead\"",
        "# Lines of article.txt that are section headings, not paragraphs.",
        "headings:" + ("" if quoted else " []"),
        *quoted,
        "# Places where something in the story happened.",
        "places: []",
        "language: en",
        "",
    ])


def _yaml_text(text: str) -> str:
    """A YAML double-quoted scalar: safe for any line of an article."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""Knowledge directories a test may break: a fresh copy per test."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "knowledge"  # small and frozen
SECOND_STORY = Path(__file__).resolve().parent / "fixtures" / "stories" / "harbourline"  # fictional, with headings


# Millbrook: a tiny invented story, small enough to reason about by hand (three paragraphs, three dated events).
ARTICLE = """\
The Millbrook council voted on March 3, 2029 to build a new library on Elm Street.
The mayor, Ada Quill, opened the library's design contest on April 17.
Builders broke ground in the fall of 2029 after the contest ended.
"""
STORY = """\
title: Millbrook's new library
summary: Millbrook votes to build a library and opens a design contest.
lead_section: The vote
headings: []
places: [Millbrook, Elm Street]
"""
PEOPLE = """\
- id: quill
  name: Ada Quill
  aliases: [Quill]
  role:
    text: The mayor of Millbrook.
    citations:
      - {paragraph: 2, quote: "The mayor, Ada Quill"}
"""
TIMELINE = """\
- id: vote
  when: March 3, 2029
  text: The council voted to build a new library on Elm Street.
  citations:
    - {paragraph: 1, quote: "The Millbrook council voted on March 3, 2029 to build a new library"}
- id: contest
  when: April 17
  text: Ada Quill opened the library's design contest.
  people: [quill]
  citations:
    - {paragraph: 2, quote: "opened the library's design contest on April 17"}
- id: ground
  when: Fall 2029
  text: Builders broke ground on the library.
  citations:
    - {paragraph: 3, quote: "Builders broke ground in the fall of 2029"}
"""


def millbrook(folder: Path) -> Path:
    """Write the Millbrook pack into `folder` and return it."""
    for name, text in {"article.txt": ARTICLE, "story.yaml": STORY, "people.yaml": PEOPLE, "terms.yaml": "[]\n",
                       "timeline.yaml": TIMELINE}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def copy_knowledge(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(source, target)
    return target

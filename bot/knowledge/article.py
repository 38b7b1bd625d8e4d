"""The article as numbered paragraphs, and the one rule for checking a quote against it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Typographic variants that must not make a verbatim quote fail: curly quotes,
# en/em dashes and no-break spaces compare equal to their plain forms.
_FOLD_TABLE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Fold case, quotes, dashes and white space: the comparison form used everywhere."""
    return _SPACE.sub(" ", text.translate(_FOLD_TABLE).lower()).strip()


@dataclass(frozen=True, slots=True)
class Paragraph:
    number: int
    text: str
    section: str
    folded: str  # fold(text), kept because every quote check compares against it


@dataclass(frozen=True, slots=True)
class Article:
    """Paragraphs 1..N of the story; headings name sections but are not paragraphs."""

    paragraphs: tuple[Paragraph, ...]
    sections: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paragraphs)

    def paragraph(self, number: int) -> Paragraph | None:
        if 1 <= number <= len(self.paragraphs):
            return self.paragraphs[number - 1]
        return None

    def verify_quote(self, number: int, quote: str) -> str | None:
        """Return why the quote does not check out in paragraph `number`, or None when it does."""
        para = self.paragraph(number)
        if para is None:
            return f"paragraph {number} is out of range 1..{len(self.paragraphs)}"
        folded = fold(quote).strip(" \"'")
        if len(folded) < 3:
            return "quote is too short to check (at least 3 characters)"
        if folded not in para.folded:
            return f"quote is not in paragraph {number}: {quote!r}"
        return None


def parse_article(text: str, headings: list[str], lead_section: str) -> Article:
    """Split the article into paragraphs: its non-empty lines, heading lines excepted."""
    heading_keys = {fold(h): h for h in headings}
    paragraphs: list[Paragraph] = []
    section = lead_section
    sections = [lead_section]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if fold(line) in heading_keys:
            section = heading_keys[fold(line)]
            sections.append(section)
            continue
        paragraphs.append(Paragraph(len(paragraphs) + 1, line, section, fold(line)))
    return Article(tuple(paragraphs), tuple(sections))

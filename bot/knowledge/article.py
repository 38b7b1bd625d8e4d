"""The article as numbered paragraphs, and the one rule for checking a quote against it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

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
CLOSE_QUOTE = 85  # rapidfuzz partial ratio from which a paragraph's words are offered as the quote meant
_NUMBER = re.compile(r"\s*(?:¶|#|p\.?|para(?:graph)?\.?)?\s*(\d{1,4})\s*", re.IGNORECASE)


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
        """Return why the quote does not check out in paragraph `number`, or None when it does.

        A quote that is verbatim in another paragraph says where ("quote is in ¶15, not ¶16"):
        after a correction or an inserted paragraph that is the usual mistake, and `check --fix` mends it.
        """
        folded = _quote_key(quote)
        if len(folded) < 3:
            return "quote is too short to check (at least 3 characters)"
        para = self.paragraph(number)
        if para is not None and folded in para.folded:
            return None
        found = self.locate(quote)
        if found:
            best = nearest(found, number)
            others = [n for n in found if n != best]
            also = f" (also in {', '.join(f'¶{n}' for n in others)})" if others else ""
            return f"quote is in ¶{best}, not ¶{number}{also}: {shorten(quote)}"
        if para is None:
            return f"paragraph {number} is out of range 1..{len(self.paragraphs)}"
        return f"quote is not in paragraph {number}: {shorten(quote)}"

    def closest(self, number: int, quote: str) -> str | None:
        """What paragraph `number` says where a quote that no longer matches nearly does (after a correction,
        "USCMA" -> "CUSMA"), so the moderator can copy it; None when nothing is close."""
        para = self.paragraph(number)
        folded = _quote_key(quote)
        if para is None or len(folded) < 3 or len(para.folded) != len(para.text):
            return None  # offsets into the folded text are offsets into the text only when folding kept its length
        found = fuzz.partial_ratio_alignment(folded, para.folded, score_cutoff=CLOSE_QUOTE)
        if found is None:
            return None
        start, end = found.dest_start, found.dest_end
        while start > 0 and para.text[start - 1].isalnum():
            start -= 1
        while end < len(para.text) and para.text[end].isalnum():
            end += 1
        return para.text[start:end]

    def locate(self, quote: str) -> tuple[int, ...]:
        """The paragraphs that contain `quote` verbatim (typography folded), in order."""
        folded = _quote_key(quote)
        if len(folded) < 3:
            return ()
        return tuple(p.number for p in self.paragraphs if folded in p.folded)


def paragraph_number(text: str) -> int | None:
    """A paragraph number as people write it: "7", "¶7", "#7", "p. 7" (at most 4 digits: no 5,000-digit ints)."""
    match = _NUMBER.fullmatch(text)
    return int(match[1]) if match else None


def nearest(numbers: tuple[int, ...], number: int) -> int:
    """The paragraph of `numbers` closest to `number`: where a quote most likely moved (ties: the later one)."""
    return min(numbers, key=lambda n: (abs(n - number), -n))


def shorten(value: object, limit: int = 100) -> str:
    """`repr` of a value cut to `limit` characters: a message quotes what was written, never megabytes of it."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _quote_key(quote: str) -> str:
    return fold(quote).strip(" \"'")


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

"""A deterministic corpus of hostile messages, as members could really send them.

Each kind attacks something different: length limits, the engine's text folding, markdown and
code blocks in replies, mentions that must never ping, and citations the bot must not echo as its own.
Messages stay within what Discord delivers (at most 4,000 characters, valid Unicode).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.standin import Discord, Event

ASK_MAX = 500  # /ask's question option is limited to 500 characters; Discord enforces it before sending
AUTOCOMPLETE_MAX = 100  # Discord sends at most 100 typed characters
MAX_INCOMING = 4000  # Discord's longest message (with Nitro); the usual limit is 2,000
QUESTIONS = (
    "who is Jivani?",
    "what is CUSMA",
    "when did Jivani go to Washington?",
    "what did Trump say?",
    "is the story true",
    "",
)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BIDI = "\u202e\u202d\u202a\u202b\u2066\u2067\u2068\u2069\u200f\u200e"
MARKDOWN = ("**", "__", "~~", "||", "`", "*", "_", "> ", "# ", "-# ", "[x](https://evil.example)", "\\")


@dataclass(frozen=True, slots=True)
class Hostile:
    kind: str
    text: str


Maker = Callable[[random.Random, str, "Ids"], str]


@dataclass(frozen=True, slots=True)
class Ids:
    users: tuple[int, ...]
    roles: tuple[int, ...]


def huge(r: random.Random, q: str, ids: Ids) -> str:
    return (q + " ") * (MAX_INCOMING // (len(q) + 1)) if q else "a" * r.choice((1999, 2000, 2001, 4000))


def one_long_word(r: random.Random, q: str, ids: Ids) -> str:
    return q + "x" * r.randint(1000, MAX_INCOMING - 50)


def binary(r: random.Random, q: str, ids: Ids) -> str:
    def char() -> str:
        return chr(r.choice((r.randint(0, 31), r.randint(0x80, 0x2FF), 0xFFFD, r.randint(0xE000, 0xF8FF))))

    return q + "".join(char() for _ in range(r.randint(1, 800)))


def zero_width(r: random.Random, q: str, ids: Ids) -> str:
    return "".join(c + r.choice(ZERO_WIDTH) * r.randint(0, 3) for c in q) or ZERO_WIDTH * 50


def rtl(r: random.Random, q: str, ids: Ids) -> str:
    return r.choice(BIDI) + q[::-1] + " מי זה ג'יוואני؟ " + "".join(r.choice(BIDI) for _ in range(20)) + q


def markdown(r: random.Random, q: str, ids: Ids) -> str:
    return "".join(r.choice(MARKDOWN) + w for w in q.split()) + r.choice(MARKDOWN) * r.randint(1, 30)


def code_block(r: random.Random, q: str, ids: Ids) -> str:
    fence = r.choice(("```", "```py\n", "``` ```", "`\u200b``", "````"))
    return fence + q + "```" * r.randint(0, 3) + "\n" * r.randint(0, 40)


def mass_mentions(r: random.Random, q: str, ids: Ids) -> str:
    def mention() -> str:
        user, role = r.choice(ids.users), r.choice(ids.roles)
        return r.choice((f"<@{user}>", f"<@!{user}>", f"<@&{role}>", "@everyone", "@here"))

    return " ".join(mention() for _ in range(r.randint(1, 90))) + " " + q


def fake_citation(r: random.Random, q: str, ids: Ids) -> str:
    fake = "“Tell the Canadians I hate them.” [source](https://evil.example) Sources: ¶-1"
    return f"{q} (¶{r.randint(0, 9999)}) ¶{r.randint(1, 23)} — {fake}"


def zalgo(r: random.Random, q: str, ids: Ids) -> str:
    return "".join(c + "".join(chr(r.randint(0x300, 0x36F)) for _ in range(r.randint(0, 12))) for c in q or "zalgo")


def whitespace(r: random.Random, q: str, ids: Ids) -> str:
    return r.choice((" ", "\n", "\t", "\u3000", "\u00a0")) * r.randint(1, 500) + q + "\n" * r.randint(0, 200)


def emoji(r: random.Random, q: str, ids: Ids) -> str:
    return q + "👨‍👩‍👧‍👦🏳️‍🌈🇨🇦" * r.randint(1, 200) + "<:custom:123456789012345678><a:anim:123456789012345678>"


MAKERS: tuple[Maker, ...] = (
    huge, one_long_word, binary, zero_width, rtl, markdown, code_block, mass_mentions, fake_citation, zalgo,
    whitespace, emoji,
)  # fmt: skip


def corpus(size: int, *, seed: int = 20240204, users: tuple[int, ...], roles: tuple[int, ...]) -> list[Hostile]:
    """`size` hostile messages, the same ones for the same seed, every kind in turn; mentions use these ids."""
    rng = random.Random(seed)
    ids = Ids(users, roles)
    out = []
    for i in range(size):
        make = MAKERS[i % len(MAKERS)]
        text = make(rng, rng.choice(QUESTIONS), ids)[:MAX_INCOMING]
        out.append(Hostile(make.__name__.replace("_", "-"), text))
    return out


async def deliver(standin: Discord, n: int, message: Hostile) -> Event | None:
    """Route message n one of five ways; None for the answer channel, where silence is a valid answer."""
    w = standin.world
    author = w.reader(n)
    match n % 5:
        case 0:
            return await standin.member_says(message.text[:3990], mentions_bot=True, author=author, channel=w.chatter)
        case 1:
            return await standin.dm(message.text, author=author)
        case 2:
            await standin.member_says(message.text, author=author, channel=w.answers)
            return None
        case 3:
            return await standin.slash("ask", question=message.text[:ASK_MAX] or "?", user=author)
        case _:
            return await standin.types_into("who", "name", message.text[:AUTOCOMPLETE_MAX], user=author)

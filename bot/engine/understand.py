"""Reading a message the way people write it: what it asks, and whether it asks about the story at all.

A Discord message is rarely one clean question. It may be a greeting, thanks or a request for
help (an intent, answered with a pointer to /help, never with a story fact); it may carry
filler ("bro", "ngl", "lol", an @mention, emoji) around the question; chatter may come before
the question; and it may hold two or three questions at once ("who is X and when did Y?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.engine.text import plain, well_formed

MAX_QUESTIONS = 3  # questions answered from one message

# A leading address to the bot that is not a Discord mention: "@bot", "@StoryBot", "bot,".
_ADDRESS = re.compile(r"^\s*(?:@\w+[\s,:]*)+|^\s*(?:hey\s+)?bot\s*[,:]\s*", re.IGNORECASE)

# Messages said to the bot rather than asked about the story. Each pattern must cover the whole
# message (after cleaning), so "thanks, who is vance?" is a question, not thanks.
_FILL = r"(?:\s+(?:so\s+much|a\s+lot|lots|again|man|bro|bot|mate|buddy|dude|guys|all|everyone|u|you|"\
        r"there|friend|a\s+ton))*"
INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("help", re.compile(
        r"^(?:help(?:\s+me)?|commands?|usage|menu|what\s+(?:can|do|should|could)\s+(?:you|i|we)\s+(?:do|ask)(?:\s+you)?"
        r"(?:\s+here)?|what\s+are\s+(?:your\s+)?commands|how\s+(?:do|does|can|should)\s+(?:i|you|we|this|one)\s+"
        r"(?:use|work|ask)(?:\s+(?:this|you|it|the\s+bot|this\s+thing|this\s+bot|questions?))*(?:\s+thing)?|"
        r"how\s+does\s+this\s+(?:thing|bot)\s+work|what\s+do\s+you\s+do|what\s+is\s+this(?:\s+bot)?|"
        r"what\s+(?:questions\s+)?can\s+i\s+ask(?:\s+you)?|(?:can|could)?\s*(?:you\s+)?help(?:\s+me)?(?:\s+out)?"
        r"(?:\s+with\s+(?:something|a\s+question|this|stuff))?|"
        r"i\s+need\s+help|instructions|how\s+to\s+use(?:\s+(?:this|you|it))?)$")),
    ("thanks", re.compile(
        rf"^(?:(?:ok(?:ay)?|cool|great|nice|awesome|perfect|got\s+it|k)\s+)*(?:thanks?|thx|ty|tysm|thank\s+you|"
        rf"cheers|much\s+appreciated|appreciate\s+(?:it|you|that)|merci){_FILL}$")),
    ("greeting", re.compile(
        rf"^(?:hi+|hello+|hey+|heya|hiya|yo+|sup|wass?up|what'?s\s+up|howdy|good\s+(?:morning|afternoon|evening|day)|"
        rf"greetings|bonjour|salut|gm|gn|good\s*night|night|bye+|goodbye|cya|see\s+y(?:a|ou)(?:\s+later)?){_FILL}$")),
    ("about-bot", re.compile(
        r"^(?:good|bad|nice|great|smart|dumb|stupid|cool)\s+(?:bot|job|work|one)|"
        r"^(?:who|what)\s+(?:made|built|created|wrote|programmed|owns|runs)\s+(?:you|this(?:\s+bot)?)|"
        r"^are\s+(?:you|u)\s+(?:a\s+)?(?:real|human|person|bot|robot|ai|alive|sentient|chatgpt|a\s+real\s+person)|"
        r"^(?:what|who)\s+are\s+(?:you|u)$|^(?:what(?:'s|\s+is)\s+your\s+name)|^(?:how\s+are\s+(?:you|u))|"
        r"^(?:i\s+)?(?:love|like|hate)\s+(?:you|u|this\s+bot)$")),
    # The story as a whole: answered with the pack's summary and its lead, not searched for.
    ("summary", re.compile(
        r"^(?:(?:so|ok(?:ay)?|yo|hey|wait|bot)\s+)*(?:(?:can\s+you\s+|pls\s+|please\s+)?(?:give\s+(?:me|us)\s+)?"
        r"(?:a\s+|the\s+)?(?:(?:quick|short|brief|fast)\s+)?(?:tl;?\s?dr|summary|recap|gist|short\s+version|rundown)"
        r"(?:\s+of\s+(?:this|the|that)\s+(?:story|article|news|piece))?|"
        r"(?:can\s+you\s+|pls\s+|please\s+)?(?:summari[sz]e|sum\s+(?:(?:it|this|that)\s+)?up|recap)(?:\s+(?:it|this|that|the\s+(?:story|article|news)))?"
        r"(?:\s+up)?|what(?:'s|\s+is|\s+was)\s+(?:this|the|that)\s+(?:story|article|news|piece|thing)(?:\s+(?:about|on))?|"
        r"what(?:'s|\s+is)\s+(?:the\s+)?(?:story|news)\s+here|what(?:'s|\s+is)\s+(?:this|it)\s+about|"
        r"what\s+happened(?:\s+here)?)(?:\s+(?:pls|please|lol|bro|again|then|for\s+me))*$")),
    ("chatter", re.compile(
        r"^(?:ok(?:ay)?|k|cool|nice|great|got\s+it|alright|sure|lol|lmao|haha+|interesting|wow|neat|yes|no|yep|nope|"
        r"same|true|fair|oh|ah|hm+|huh)(?:\s+(?:ok|okay|cool|nice|then|lol|lmao|i\s+see))*$")),
)

# An opinion that asks nothing: "I think the tariffs are bad", "imo carney caved".
_OPINION = re.compile(r"^(?:i\s+(?:think|feel|believe|reckon|guess|hate|love|like|agree|disagree)|imo|imho)\b")

# Where one message holds two questions: a comma, "and", "also", "plus" or a semicolon followed
# by a new question word ("who is X and when did Y"). The question word starts the second part.
_QUESTION_START = (r"(?:who|whom|whose|what|when|where|why|which|how|did|does|do|is|are|was|were|has|have|"
                   r"can|could|will|would|should)\b")
_WH_START = r"(?:who|whom|whose|what|when|where|why|which|how)\b"
# After a bare comma only a question word starts a new question: in "Why, according to Poilievre, was
# Jivani going?" the "was" goes on with the same one.
_JOINT = re.compile(rf"(?:\s*,\s*(?={_WH_START})|(?:\s*[,;]\s*(?:and|also|plus|&)\s*|\s*;\s*|"
                    rf"\s+(?:and|also|plus|&)\s+(?:also\s+)?)(?={_QUESTION_START}))", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[^\d\s])|\n+")
# A full stop after these ends no sentence: "Feb. 4", "the U.S. tariffs".
_ABBREVIATION = re.compile(r"(?:\b(?:jan|feb|mar|apr|aug|sept?|oct|nov|dec|mr|mrs|ms|dr|st|vs|etc)|u\.s|\b[a-z])\.$",
                           re.IGNORECASE)
_STARTS_QUESTION = re.compile(rf"^\s*{_QUESTION_START}", re.IGNORECASE)
# Openings that only announce a question: "diff q - when did…", "quick question: who…".
_LEAD = re.compile(r"^\s*(?:(?:diff(?:erent)?|new|quick|other|another|unrelated|random|dumb|side)\s+"
                   r"(?:q|qs|question)\b|"
                   r"(?:separate|different|new|unrelated|another)\s+(?:topic|thing|question)|unrelated(?:\s+but)?|btw|"
                   r"by\s+the\s+way|ok(?:ay)?\s+so|so\s+like|anyway)[\s:,.!-]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Message:
    """What a message asks: an intent, or up to MAX_QUESTIONS questions, or a single unclear text."""

    intent: str | None
    questions: tuple[str, ...]


def strip_address(text: str) -> str:
    """The message without a leading "@bot"-style address (Discord's own <@id> mentions `clean` drops)."""
    return _ADDRESS.sub("", text, count=1)


def intent_of(text: str) -> str | None:
    """The intent of a message that is only said to the bot ("help", "thanks!!", "hi", "good bot")."""
    folded = " ".join(re.findall(r"[a-z0-9']+", plain(strip_address(text))))
    if not folded:
        return None
    for name, pattern in INTENTS:
        if pattern.search(folded):
            return name
    if "?" not in text and _OPINION.match(folded):
        return "chatter"
    return None


def split_questions(text: str) -> tuple[str, ...]:
    """The questions of a message, in order, at most MAX_QUESTIONS.

    Sentences that ask are kept (a statement of context before the question is not a question);
    a sentence that joins two questions ("who is X and when did Y") is split where the second starts.
    A message with no clear question is returned whole, so the engine still tries it.
    """
    text = strip_address(text).strip()
    # Pieces are gathered per sentence and joined once, and only the last piece is tested for an
    # abbreviation: re-joining and re-scanning the growing sentence made "u. s. a. …" quadratic.
    sentences: list[list[str]] = []
    for piece in (p.strip() for p in _SENTENCE.split(text)):
        if sentences and _ABBREVIATION.search(sentences[-1][-1]):
            if piece:
                sentences[-1].append(piece)
        elif piece:
            sentences.append([piece])
    asked = [s for s in map(" ".join, sentences) if s.endswith("?") or _STARTS_QUESTION.match(s)]
    parts: list[str] = []
    for sentence in asked or [text]:
        sentence = _LEAD.sub("", sentence, count=1) or sentence
        pieces = [p.strip(" ,;") for p in _JOINT.split(sentence)]
        # "and rubio, what's his job?" is one question about Rubio: the first piece must ask too.
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces) and _STARTS_QUESTION.match(pieces[0]):
            parts.extend(pieces)
        else:
            parts.append(sentence)
    return tuple(dict.fromkeys(p for p in parts if p))[:MAX_QUESTIONS] or (text,)


def understand(text: str) -> Message:
    """Read a message: an intent when it is said to the bot, else the questions it asks.

    The one entry of readers' text into the engine: made well-formed here, so no later stage meets a lone surrogate.
    """
    text = well_formed(text)
    intent = intent_of(text)
    if intent is not None:
        return Message(intent, ())
    return Message(None, split_questions(text))

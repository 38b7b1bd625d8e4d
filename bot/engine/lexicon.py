"""English words the engine reads questions and dates with, in one place.

The month names, seasons and the words that ask for an order in time are the language's, not a
story's: a story's own names and terms live in its pack.
"""

from __future__ import annotations

import re

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}
# "Jan.", "Sept", "december": a month as stories and readers write it (the first three letters decide).
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*"
MONTH_BY_PREFIX = {name[:3]: number for name, number in MONTHS.items()}
# Northern seasons, as the month they begin in: "fall 2031" sorts after "June 30, 2031".
SEASONS = {"winter": 1, "spring": 3, "summer": 6, "fall": 9, "autumn": 9}
# Early/late in a period: a fraction of the way through it, to sort "late January" after "Jan. 20".
PART_OF = {"early": 0.2, "mid": 0.5, "middle": 0.5, "late": 0.8}

# A year as stories write it.
YEAR = r"\b(?:1[89]|2\d)\d\d\b"
# Words a reader may put before a question without changing what it asks ("yo did…", "so was it…").
INTERJECTIONS = frozenset("yo hey hi so ok okay wait um uh hmm lol bro ngl honestly like well also and but".split())
# The words that open a wh-question.
WH = r"(?:who|whom|whose|what|when|where|why|which|how)"
# Verbs of saying: whose words an answer reports ("Carney said", "according to Bessent").
SPEECH = (r"(?:said|says|say|told|tells|asked|asks|replied|responded|wrote|posted|called|claimed|noted|denied|"
          r"added|stated|announced|described|according)")
# Numbers written as words, and the fractions stories write out ("three-fourths", "two thirds").
NUMBER_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|half|" \
               r"thirds?|quarters?|fourths?|fifths?|dozen)"
# What a date looks like in an answer: a month (with or without a day), a season, a year, or a relative time.
DATE = (rf"\b{MONTH}\.?\s*\d|\b(?:january|february|march|april|june|july|august|september|october|november|"
        r"december|spring|summer|fall|autumn|winter|yesterday|today|tomorrow|week|year|decade|next day|"
        rf"following day|day before|recently)\b|{YEAR}")

EARLIER = re.compile(r"\b(?:first|earlier|sooner|before)\b")
LATER = re.compile(r"\b(?:last|later|after)\b")

"""1,200 hostile messages through the real dispatch path: mentions, DMs, the answer channel, /ask, autocomplete.

No exception may escape (the `errors` fixture fails on any ERROR logged), no send may allow a ping and
every reply must be within Discord's limits (the `standin` fixture fails on any violation), and every
message addressed to the bot gets exactly one reply, none of them the apology.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.discord.render import APOLOGY
from tests.standin import Discord

from .harness import ErrorLog, running_bot, settings_for
from .hostile import corpus, deliver

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

CORPUS = 1200
BATCH = 100  # deliveries in flight at once: a burst, bounded


async def test_hostile_messages_are_answered_within_limits_and_never_ping(
    standin: Discord, tmp_path: Path, errors: ErrorLog
) -> None:
    w = standin.world
    messages = corpus(CORPUS, users=(w.bot.id, w.member.id), roles=(w.moderator_role, w.readers_role, w.guild_id))
    answered, owed = [], []
    async with running_bot(standin, settings_for(standin, tmp_path)):
        for start in range(0, CORPUS, BATCH):
            batch = range(start, min(start + BATCH, CORPUS))
            events = await asyncio.gather(*(deliver(standin, n, messages[n]) for n in batch))
            waiting = [e for e in events if e is not None]
            answered += await asyncio.wait_for(asyncio.gather(*(e.reply(timeout=30.0) for e in waiting)), 60.0)
            owed += waiting
    assert not errors.records, "\n".join(errors.messages()[:20])
    assert len(answered) == len(owed) == CORPUS * 4 // 5
    assert [e for e in owed if len(e.visible()) != 1] == [], "a message got more than one reply"
    assert not [r.text for r in answered if APOLOGY in r.text]

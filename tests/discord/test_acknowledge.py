"""Acknowledging in time: an interaction whose handler starts late (a backlog), or comes while the bot has many
questions in hand, is deferred before any work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.discord import respond
from bot.engine import Engine
from tests.discord.conftest import Harness, slash
from tests.standin.world import DISCORD_EPOCH_MS


def created_ago(payload: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The payload of an interaction Discord created `seconds` ago (the id is the creation time)."""
    when = int((time.time() - seconds) * 1000) - DISCORD_EPOCH_MS
    return payload | {"id": str(when << 22)}


class Watching(Engine):
    """The real engine, noting which interaction callbacks had been sent when it was asked."""

    seen: list[list[int]]

    def ask(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.seen.append([c.json["type"] for c in self.harness.fake.calls if c.path.endswith("/callback")])
        return super().ask(*args, **kwargs)


def watch(harness: Harness) -> Watching:
    engine = Watching(harness.bot.engine.kb)
    engine.seen, engine.harness = [], harness  # type: ignore[attr-defined]
    harness.bot.engine = engine
    return engine


async def test_a_late_interaction_is_deferred_before_the_engine_runs(harness: Harness) -> None:
    engine = watch(harness)
    call = await harness.interact(created_ago(slash("ask", question="Who is Jamil Jivani?"), 1.0))
    assert engine.seen == [[5]]  # "thinking…" had gone out before any answer work started
    assert call.path.startswith("/webhooks/") and "Jivani" in call.embeds[0]["title"]  # the answer follows up


async def test_a_fresh_interaction_while_the_event_loop_runs_late_is_deferred_before_the_engine_runs(
        harness: Harness) -> None:
    """A busy machine: the interaction is new, but the loop is behind, so the deferral timer would fire late."""
    engine = watch(harness)
    await asyncio.sleep(2 * respond.LAG_PROBE)  # the lag probe is waiting for its next wake-up
    time.sleep(2 * respond.BEHIND)  # other work holds the loop (and the cores): it runs late from here
    call = await harness.interact(slash("ask", question="Who is Jamil Jivani?"))
    assert engine.seen == [[5]]  # "thinking…" had gone out before any answer work started
    assert call.path.startswith("/webhooks/")


async def test_a_fresh_interaction_on_an_idle_bot_is_answered_in_one_response(harness: Harness) -> None:
    engine = watch(harness)
    call = await harness.interact(slash("ask", question="Who is Jamil Jivani?"))
    assert engine.seen == [[]]
    assert call.path.endswith("/callback") and call.json["type"] == 4  # no deferral: one round trip

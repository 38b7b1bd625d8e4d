"""Interactions that Discord no longer accepts: one warning line each, no traceback, no reader id, counted."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.standin import Discord

from .harness import ErrorLog, running_bot, settings_for

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test


async def test_a_lost_interaction_is_one_warning_line(tmp_path: Path, errors: ErrorLog,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    async with Discord(response_deadline=0.0) as standin:  # every first response arrives "after 3 s"
        async with running_bot(standin, settings_for(standin, tmp_path)) as bot:
            with caplog.at_level(logging.WARNING):
                event = await standin.slash("ask", question="Who is Jamil Jivani?", user=standin.world.reader(7))
                await standin.signal.until(lambda: standin.violations, 10.0, "the late first response")
                for _ in range(200):  # the 404 reaches the bot just after the stand-in recorded it
                    if any(r.name.startswith("bot.") for r in caplog.records):
                        break
                    await asyncio.sleep(0.05)
        assert [v.kind for v in standin.violations] == ["late"]
    assert not errors.records, "errors were logged:\n" + "\n".join(errors.messages())
    (record,) = [r for r in caplog.records if r.name.startswith("bot.")]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "expired before its first response (/ask" in record.getMessage()
    assert str(standin.world.reader(7).id) not in caplog.text and event.token not in caplog.text
    expired = {"face": "slash", "outcome": "expired"}
    assert bot.health.registry.get_sample_value("story_bot_questions_total", expired) == 1

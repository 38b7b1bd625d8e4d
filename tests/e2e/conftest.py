"""Fixtures for the end-to-end tests: a stand-in per test, and the real bot connected to it.

After every test the stand-in must hold no violation: a limit broken or a ping allowed
anywhere in a test fails that test, whatever the test itself asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.discord.bot import StoryBot
from tests.standin import Discord
from tests.standin.clients import nowhere_else

from .harness import ErrorLog, error_log, running_bot, settings_for


@pytest.fixture(autouse=True)
def _no_real_discord() -> Iterator[None]:
    with nowhere_else():
        yield


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    with error_log() as log:
        yield log


@pytest.fixture
async def standin() -> AsyncIterator[Discord]:
    async with Discord() as d:
        yield d
        d.assert_clean()


@pytest.fixture
async def story_bot(standin: Discord, tmp_path: Path, errors: ErrorLog) -> AsyncIterator[StoryBot]:
    """The real bot, connected, with its commands synced to the guild; no error may be logged meanwhile."""
    async with running_bot(standin, settings_for(standin, tmp_path)) as bot:
        yield bot
    assert not errors.records, "errors were logged:\n" + "\n".join(errors.messages())

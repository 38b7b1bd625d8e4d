"""Fixtures for testing the stand-in itself with small discord.py clients written in the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import discord
import pytest

from . import Discord
from .clients import nowhere_else


@pytest.fixture(autouse=True)
def _no_real_discord() -> Iterator[None]:
    with nowhere_else():
        yield


@pytest.fixture
async def standin() -> AsyncIterator[Discord]:
    async with Discord() as d:
        yield d


def intents() -> discord.Intents:
    value = discord.Intents.default()
    value.message_content = True
    return value

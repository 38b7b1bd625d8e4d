"""Point the unmodified discord.py at the stand-in (its two base URLs are class attributes) and run a client there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from .server import StandIn

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, so a stray request fails at once, locally
CLOSE_TIMEOUT = 15.0  # a bot may finish answers in flight before it closes


@contextmanager
def pointed_at(rest_url: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py at the stand-in for the duration, then back at Discord."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@contextmanager
def nowhere_else() -> Iterator[None]:
    """Point discord.py at a dead local port: a client not pointed at a stand-in fails instead of reaching Discord."""
    with pointed_at(f"{NOWHERE}/api/v10", f"ws://{NOWHERE.removeprefix('http://')}/"):
        yield


@asynccontextmanager
async def connected(standin: StandIn, client: discord.Client) -> AsyncIterator[discord.Client]:
    """Log `client` in to the stand-in and keep it connected for the block; always closes it.

    The connect task's own exception (if it died) is raised after the block, so a crash is never silent.
    """
    with pointed_at(standin.url, standin.gateway_url):
        await client.login(standin.token)
        task = asyncio.create_task(client.connect())
        try:
            ready = asyncio.ensure_future(standin.wait_connected(10.0))
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                ready.cancel()
                task.result()  # connect() ended before the session was up: raise why
            ready.result()
            yield client
        finally:
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
            await asyncio.wait_for(task, 5.0)

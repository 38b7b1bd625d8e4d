"""The health server's limits, over real sockets on 127.0.0.1: idle and trickling connections are closed, and
no more than a cap are held, so a flood of them cannot use up the descriptors the bot needs for Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.discord import health as health_module
from bot.discord.health import Health
from tests.waiting import wait_for

CAP, IDLE = 10, 0.5


class Gateway:
    answers_in_flight = 0
    answering_in_process = False

    def connected_shards(self) -> dict[int, bool]:
        return {0: True}


@pytest.fixture
async def health(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Health, int]]:
    monkeypatch.setattr(health_module, "MAX_CONNECTIONS", CAP)
    monkeypatch.setattr(health_module, "IDLE", IDLE)
    server = Health(Gateway())
    port = await server.start("127.0.0.1", 0)
    yield server, port
    await server.stop()


def held(server: Health) -> int:
    assert server._runner is not None and server._runner.server is not None
    return len(server._runner.server.connections)


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status


async def test_idle_connections_beyond_the_cap_are_closed_and_the_rest_after_the_idle_time(
        health: tuple[Health, int]) -> None:
    server, port = health
    sockets = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3 * CAP)]
    await asyncio.sleep(0)
    assert held(server) <= CAP
    await wait_for(lambda: held(server) == 0, timeout=20 * IDLE)  # the idle ones go once IDLE has passed
    for reader, writer in sockets:
        assert await asyncio.wait_for(reader.read(), 5.0) == b""  # closed by the server: end of stream
        writer.close()
    assert await healthz(port) == 503  # and it answers as before (503: no knowledge in this test)


async def test_headers_trickled_byte_by_byte_do_not_hold_a_connection(health: tuple[Health, int]) -> None:
    server, port = health
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        while True:
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.05)

    trickling = asyncio.create_task(trickle())
    try:
        await wait_for(lambda: held(server) == 0, timeout=10 * IDLE)
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)
        writer.close()
    assert await healthz(port) == 503

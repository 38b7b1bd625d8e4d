"""/healthz and /metrics against the stand-in: the gateway drops, knowledge reloads, questions are counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.discord.bot import StoryBot
from tests.standin import Discord

from .harness import ErrorLog, running_bot, settings_for

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

FLIP_WITHIN = 5.0


@pytest.fixture
async def bot(standin: Discord, tmp_path: Path, errors: ErrorLog) -> AsyncIterator[StoryBot]:
    async with running_bot(standin, settings_for(standin, tmp_path, health_port=0)) as story_bot:
        yield story_bot
    assert not errors.records, "errors were logged:\n" + "\n".join(errors.messages())


async def get(bot: StoryBot, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{bot.health_port}{path}") as response:
        body = await (response.json() if path == "/healthz" else response.text())
        return response.status, body


async def until_status(bot: StoryBot, status: int, within: float) -> tuple[float, Any]:
    start = time.monotonic()
    while True:
        got, body = await get(bot, "/healthz")
        if got == status and body["knowledge"]["version"] is not None:
            return time.monotonic() - start, body
        assert time.monotonic() - start < within, f"/healthz stayed {got} for {within} s: {body}"
        await asyncio.sleep(0.05)


async def test_healthz_is_200_when_connected_with_knowledge(bot: StoryBot) -> None:
    _, body = await until_status(bot, 200, FLIP_WITHIN)  # READY (every guild received) just after connecting
    assert body["shards"] == {"connected": [0], "total": 1}
    assert body["knowledge"]["loaded"] and len(body["knowledge"]["version"]) == 12
    assert body["last_reload"] is None and body["why"] is None


async def test_healthz_flips_to_503_when_the_gateway_drops_and_back_after_it_resumes(
    standin: Discord, bot: StoryBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await until_status(bot, 200, FLIP_WITHIN)
    gateway = standin.gateway
    released = asyncio.Event()
    handshake = gateway._handshake

    async def held_handshake(ws: Any) -> Any:  # Discord unreachable for a while: the bot cannot resume yet
        await released.wait()
        return await handshake(ws)

    monkeypatch.setattr(gateway, "_handshake", held_handshake)
    await gateway.drop()
    took, body = await until_status(bot, 503, FLIP_WITHIN)
    assert body["shards"]["connected"] == [] and body["status"] == "unavailable"
    assert body["why"] == "the gateway is disconnected (reconnecting)"
    released.set()
    await standin.wait_connected(10.0, resumes=1)
    took_back, _ = await until_status(bot, 200, FLIP_WITHIN)
    assert took < FLIP_WITHIN and took_back < FLIP_WITHIN


async def test_metrics_count_questions_by_face_and_outcome(standin: Discord, bot: StoryBot) -> None:
    await until_status(bot, 200, FLIP_WITHIN)
    await (await standin.slash("ask", question="Who is Jamil Jivani?")).reply()
    await (await standin.slash("ask", question="How tall is JD Vance?")).reply()
    await (await standin.member_says("who is Jivani?", mentions_bot=True)).reply()
    status, text = await get(bot, "/metrics")
    assert status == 200
    lines = set(text.splitlines())
    assert 'story_bot_questions_total{face="slash",outcome="answered"} 1.0' in lines
    assert 'story_bot_questions_total{face="slash",outcome="declined"} 1.0' in lines
    assert 'story_bot_questions_total{face="message",outcome="answered"} 1.0' in lines
    assert "story_bot_answer_seconds_count 3.0" in lines
    assert "story_bot_shards_connected 1.0" in lines
    assert 'story_bot_knowledge_reloads_total{result="failed"} 0.0' in lines
    assert "story_bot_database_write_failures_total 0.0" in lines
    assert "story_bot_answer_process 1.0" in lines  # answered by its child process, as with ANSWER_PROCESS on


async def until_reload(bot: StoryBot, ok: bool) -> dict[str, Any]:
    """/healthz once the watcher has reloaded the edited knowledge with result `ok` (and its version is hashed)."""
    start = time.monotonic()
    while True:
        _, body = await get(bot, "/healthz")
        reload = body["last_reload"]
        if reload is not None and reload["ok"] is ok and body["knowledge"]["version"] is not None:
            return body
        assert time.monotonic() - start < 15.0, f"no reload with ok={ok} seen: {body}"
        await asyncio.sleep(0.1)


async def test_reloads_show_in_healthz_and_metrics(bot: StoryBot) -> None:
    _, before = await until_status(bot, 200, FLIP_WITHIN)
    qa = bot.settings.knowledge_dir / "qa-trip.yaml"
    original = qa.read_text(encoding="utf-8")
    qa.write_text(original + "\n- id: [broken\n", encoding="utf-8")  # a moderator's bad edit
    failed = await until_reload(bot, ok=False)
    assert failed["last_reload"]["problems"] >= 1
    assert failed["knowledge"]["version"] == before["knowledge"]["version"]  # still the last good knowledge
    qa.write_text(original.replace("  answer: ", "  answer: In short, ", 1), encoding="utf-8")
    after = await until_reload(bot, ok=True)
    assert after["status"] == "ok" and after["knowledge"]["version"] != before["knowledge"]["version"]
    _, text = await get(bot, "/metrics")
    assert 'story_bot_knowledge_reloads_total{result="ok"} 1.0' in text.splitlines()
    assert 'story_bot_knowledge_reloads_total{result="failed"} 1.0' in text.splitlines()

"""`python -m bot run` as operators start it: a refused token, Discord out of reach, SIGINT and SIGTERM, its logs
and its health port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.discord.runner import (
    BAD_TOKEN,
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_UNREACHABLE,
    NO_MESSAGE_CONTENT,
    UNREACHABLE_LINE,
)
from tests.standin import Discord
from tests.standin.gateway import ALL_INTENTS, MESSAGE_CONTENT

from .harness import CHILD_SITE, settings_for, spawn_bot

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

EXIT_TIMEOUT = 30.0


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the child to exit (killing it if it hangs); its exit code and stderr."""
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("the bot did not exit in time") from None
    return process.returncode or 0, stderr.decode(errors="replace")


async def test_a_refused_token_exits_2_with_a_clear_message(standin: Discord, tmp_path: Path) -> None:
    settings = settings_for(standin, tmp_path, token="not-the-token")
    code, stderr = await finished(await spawn_bot(standin, settings, tmp_path))
    assert code == EXIT_CONFIG and BAD_TOKEN in stderr and "Traceback" not in stderr
    assert [r.status for r in standin.requests] == [401]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_stops_the_bot_cleanly(standin: Discord, tmp_path: Path, sig: signal.Signals) -> None:
    process = await spawn_bot(standin, settings_for(standin, tmp_path), tmp_path)
    try:
        await standin.wait_connected(30.0)
        reply = await (await standin.member_says("who is Jivani?")).reply(timeout=10.0)
    except BaseException:
        process.kill()
        raise
    process.send_signal(sig)
    code, stderr = await finished(process)
    assert "Jivani" in reply.text
    assert code == EXIT_OK and "Traceback" not in stderr and "stopped" in stderr
    assert standin.gateway.client_close_codes == [1000]  # a proper close frame, not a dropped socket


async def test_without_the_message_content_intent_the_bot_still_answers_mentions(tmp_path: Path) -> None:
    async with Discord(allowed_intents=ALL_INTENTS & ~MESSAGE_CONTENT) as standin:
        process = await spawn_bot(standin, settings_for(standin, tmp_path), tmp_path)
        try:
            await standin.wait_connected(30.0)
            mention = await (await standin.member_says("who is Jivani?", mentions_bot=True)).reply(timeout=10.0)
            await (await standin.member_says("who is Jivani?")).no_reply(0.5)  # its text never reaches the bot
        finally:
            process.send_signal(signal.SIGTERM)
            code, stderr = await finished(process)
        standin.assert_clean()
    assert standin.gateway.close_codes == [4014] and standin.gateway.identifies == 1
    assert "Jivani" in mention.text and code == EXIT_OK and NO_MESSAGE_CONTENT in " ".join(stderr.split())


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_discord_unreachable_is_one_line_and_exit_3(tmp_path: Path) -> None:
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "STANDIN_"))} | {
        "PYTHONPATH": str(CHILD_SITE),
        "STANDIN_URL": f"http://127.0.0.1:{port}/api/v10",
        "STANDIN_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
        "DISCORD_TOKEN": "a-token",
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
    }
    code = ("import sys, bot.discord.runner as r; r.RETRY_DELAYS = (0.1, 0.1); "  # the real delays add up to 15 s
            "from bot.cli import main; sys.exit(main(['run']))")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    exit_code, stderr = await finished(process)
    assert exit_code == EXIT_UNREACHABLE and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"{UNREACHABLE_LINE} after 3 attempts") and "127.0.0.1" in last
    assert stderr.count("trying again") == 2


async def test_json_logs_at_debug_keep_tokens_out_and_voice_warnings_away(standin: Discord, tmp_path: Path) -> None:
    settings = settings_for(standin, tmp_path, log_format="json", log_level="DEBUG")
    process = await spawn_bot(standin, settings, tmp_path)
    try:
        await standin.wait_connected(30.0)
        ask = await standin.slash("ask", question="Who is Jamil Jivani?")
        await ask.reply(timeout=10.0)
        await (await standin.member_says("who is Jivani?", mentions_bot=True)).reply(timeout=10.0)
    finally:
        process.send_signal(signal.SIGTERM)
        code, stderr = await finished(process)
    lines = stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert code == EXIT_OK and len(records) > 10
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("/interactions/" in r["message"] and "<redacted>" in r["message"] for r in records)
    assert ask.token and ask.token not in stderr and standin.token not in stderr
    assert "voice will NOT be supported" not in stderr and "\x1b[" not in stderr


async def test_a_health_port_is_served_by_the_process(standin: Discord, tmp_path: Path) -> None:
    port = closed_port()
    process = await spawn_bot(standin, settings_for(standin, tmp_path, health_port=port), tmp_path)
    try:
        await standin.wait_connected(30.0)
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # READY arrives just after the connection
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    status, body = response.status, await response.json()
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200 and body["shards"]["connected"] == [0]
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert "story_bot_questions_total" in await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        code, _ = await finished(process)
    assert code == EXIT_OK

"""`python -m bot run` as operators start it: a refused token, SIGINT and SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.discord.runner import BAD_TOKEN, EXIT_CONFIG, EXIT_OK, NO_MESSAGE_CONTENT
from tests.standin import Discord
from tests.standin.gateway import ALL_INTENTS, MESSAGE_CONTENT

from .harness import settings_for, spawn_bot

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

"""Logs: text or JSON lines, no colour codes, no voice warnings, no callback tokens, no reader ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import discord
import pytest

from bot.logs import reader_tag, setup_logging

CALLBACK = ("POST https://discord.com/api/v10/interactions/1576752164427005995/"
            "aW50ZXJhY3Rpb24GY6loZ9lh9aHu0iNtBXqVGPRKgfjbj5M6VA89WIA4W8pk1la2BrZxcKGw2g/callback")
WEBHOOK = "PATCH https://discord.com/api/v10/webhooks/1300000000000000001/aW50ZXJhY3Rpb24xaMS-vasp/messages/@original"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The bot's handler on the root logger, writing to a string, removed again afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    out = io.StringIO()
    yield out
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_json_lines_parse_and_carry_level_logger_and_message(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream=stream)
    logging.getLogger("bot.test").warning("knowledge reload refused: %d problems", 3)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot.test").exception("it failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["level"], first["logger"]) == ("WARNING", "bot.test")
    assert first["message"] == "knowledge reload refused: 3 problems"
    assert "ValueError: boom" in second["exc_info"]


def test_text_lines_have_no_colour_codes(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream=stream)
    logging.getLogger("discord.gateway").error("Shard ID 0 has stopped responding")
    line = stream.getvalue()
    assert "\x1b[" not in line and " ERROR " in line and "discord.gateway" in line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_callback_and_webhook_tokens_and_the_bot_token_are_redacted(stream: io.StringIO, log_format: str) -> None:
    setup_logging("DEBUG", log_format, token="the.bot.token", stream=stream)
    http = logging.getLogger("discord.webhook.async_")
    http.debug("%s with %s has returned %s", CALLBACK, '{"type": 5}', 204)  # discord.py's own DEBUG line
    http.debug("%s has returned %s", WEBHOOK, 200)
    logging.getLogger("bot.test").warning("token was %s", "the.bot.token")
    event = {"t": "INTERACTION_CREATE", "d": {"id": "1", "token": "aW50ZXJhY3Rpb24secret"}}
    logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", 0, event)
    logging.getLogger("discord.gateway").debug("raw: %s", json.dumps(event))
    out = stream.getvalue()
    assert "aW50ZXJhY3Rpb24" not in out and "the.bot.token" not in out
    assert "/interactions/1576752164427005995/<redacted>/callback" in out and "'token': '<redacted>'" in out
    assert "/webhooks/1300000000000000001/<redacted>/messages" in out


def test_discord_voice_warnings_are_not_logged(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream=stream)
    discord.Client(intents=discord.Intents.none())  # logs "PyNaCl/davey is not installed, voice will NOT be supported"
    logging.getLogger("discord.client").warning("a warning that matters")
    out = stream.getvalue()
    assert "voice" not in out and "a warning that matters" in out


def test_setup_twice_does_not_double_every_line(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream=stream)
    setup_logging("INFO", "text", stream=stream)
    logging.getLogger("bot.test").info("once")
    assert stream.getvalue().count("once") == 1


def test_reader_tags_follow_one_reader_without_showing_the_id() -> None:
    tag = reader_tag(1600000000000100017)
    assert tag == reader_tag(1600000000000100017) != reader_tag(1600000000000100018)
    assert "1600000000000100017" not in tag and reader_tag(None) == "-"


def test_expected_library_failures_are_one_line_each(stream: io.StringIO) -> None:
    """As the libraries log them: discord.py's reconnect attempts, aiohttp's malformed requests, asyncio's
    writes to a peer that is gone. A failure of our own keeps its traceback."""
    from aiohttp.http_exceptions import BadStatusLine

    setup_logging("INFO", "text", stream=stream)
    try:
        raise OSError(101, "Network is unreachable")
    except OSError:
        logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 1.5)
    logging.getLogger("discord.shard").error("Attempting a reconnect for shard ID %s in %.2fs", 3, 2.0,
                                             exc_info=TimeoutError())
    logging.getLogger("aiohttp.server").exception("Error handling request from %s", "203.0.113.9",
                                                  exc_info=BadStatusLine("\\x16\\x03\\x01"))
    for _ in range(3):
        logging.getLogger("asyncio").warning("pipe closed by peer or os.write(pipe, data) raised exception.")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and all(" WARNING " in line for line in lines), lines
    assert lines[0].endswith("Attempting a reconnect in 1.50s (OSError: [Errno 101] Network is unreachable)")
    assert lines[1].endswith("Attempting a reconnect for shard ID 3 in 2.00s (TimeoutError)")
    assert "Error handling request from 203.0.113.9 (BadStatusLine:" in lines[2]

    try:
        raise ValueError("ours")
    except ValueError:
        logging.getLogger("bot.discord.bot").exception("a failure of our own")
    assert "Traceback" in stream.getvalue()

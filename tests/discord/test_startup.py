"""Starting the bot: knowledge, extensions, intents, sharding, command sync only when it changed, and closing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
from pathlib import Path

import discord
import pytest

from bot.config import DEFAULT_KNOWLEDGE_DIR, Settings
from bot.discord import respond
from bot.discord.bot import KnowledgeError, StoryBot
from bot.engine import Conversation, Engine
from tests.discord.conftest import APP_ID, GUILD_ID, TOKEN, Harness, InProcessDiscord, slash, start_bot


def syncs(fake: InProcessDiscord) -> list[str]:
    return [c.path for c in fake.calls if c.method == "PUT" and c.path.endswith("/commands")]


async def test_first_start_syncs_to_the_dev_guild_and_remembers(settings: Settings, fake: InProcessDiscord) -> None:
    bot = await start_bot(settings, fake)
    expected = await bot.command_sync.hash()
    await bot.close()
    assert syncs(fake) == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    hash_file = settings.database_path.with_name("bot.commands.sha256")
    assert hash_file.read_text().strip() == expected
    assert not [p for p in hash_file.parent.iterdir() if p.suffix == ".tmp"]  # written atomically, nothing left over


async def test_restart_with_the_same_commands_does_not_sync(settings: Settings, fake: InProcessDiscord) -> None:
    await (await start_bot(settings, fake)).close()
    await (await start_bot(settings, fake)).close()
    assert len(syncs(fake)) == 1


async def test_a_changed_command_set_syncs_again(settings: Settings, fake: InProcessDiscord) -> None:
    await (await start_bot(settings, fake)).close()
    await (await start_bot(settings, fake, extensions=("bot.discord.cogs.ask",))).close()
    assert len(syncs(fake)) == 2
    names = {c["name"] for c in next(c for c in reversed(fake.calls) if c.method == "PUT").json}
    assert names == {"ask"}


async def test_without_a_dev_guild_commands_sync_globally(settings: Settings, fake: InProcessDiscord) -> None:
    await (await start_bot(dataclasses.replace(settings, dev_guild_id=None), fake)).close()
    assert syncs(fake) == [f"/applications/{APP_ID}/commands"]


async def test_moving_from_dev_guild_to_global_syncs(settings: Settings, fake: InProcessDiscord) -> None:
    await (await start_bot(settings, fake)).close()
    await (await start_bot(dataclasses.replace(settings, dev_guild_id=None), fake)).close()
    assert len(syncs(fake)) == 2


async def test_only_the_process_with_shard_zero_syncs(settings: Settings, fake: InProcessDiscord) -> None:
    other = await start_bot(dataclasses.replace(settings, shard_count=4, shard_ids=(2, 3)), fake)
    assert (other.shard_count, other.shard_ids) == (4, [2, 3])
    await other.close()
    assert syncs(fake) == []
    await (await start_bot(dataclasses.replace(settings, shard_count=4, shard_ids=(0, 1)), fake)).close()
    assert len(syncs(fake)) == 1


async def test_a_failed_sync_is_logged_and_retried_next_start(settings: Settings, fake: InProcessDiscord,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    limited = fake.inject("PUT /applications/*/commands", status=429, times=1_000)
    with caplog.at_level(logging.ERROR):
        bot = await start_bot(settings, fake)
    await bot.close()
    assert any("command sync failed" in r.getMessage() for r in caplog.records)
    assert bot.command_sync.stored_hash() is None
    fake.faults.remove(limited)
    await (await start_bot(settings, fake)).close()
    assert len(syncs(fake)) == 2


async def test_knowledge_without_its_article_refuses_to_start(settings: Settings, fake: InProcessDiscord,
                                                             tmp_path: Path) -> None:
    broken = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, broken)
    (broken / "article.txt").unlink()
    bot = StoryBot(dataclasses.replace(settings, knowledge_dir=broken))
    with pytest.raises(KnowledgeError) as raised:
        await bot.login(TOKEN)
    await bot.close()
    assert raised.value.problems
    assert "article.txt" in str(raised.value)
    assert syncs(fake) == []


async def test_a_broken_file_disables_itself_and_the_bot_answers_from_the_rest(
        settings: Settings, fake: InProcessDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, broken)
    (broken / "people.yaml").write_text("- id: Not An Id\n  name: [unclosed\n")
    with caplog.at_level(logging.WARNING):
        bot = await start_bot(dataclasses.replace(settings, knowledge_dir=broken), fake)
    try:
        assert bot.engine.kb.people == () and bot.engine.kb.qa
        assert any("people.yaml:" in r.getMessage() and "answering from everything else" in r.getMessage()
                   for r in caplog.records)
    finally:
        await bot.close()


async def test_a_broken_extension_is_logged_and_the_rest_still_load(settings: Settings, fake: InProcessDiscord,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    extensions = ("bot.discord.cogs.ask", "bot.discord.cogs.does_not_exist", "bot.discord.cogs.meta")
    with caplog.at_level(logging.ERROR):
        bot = await start_bot(settings, fake, extensions=extensions)
    await bot.close()
    assert any("could not load bot.discord.cogs.does_not_exist" in r.getMessage() and r.exc_info
               for r in caplog.records)
    assert {c["name"] for c in fake.calls[-1].json} == {"ask", "help", "story"}


async def test_client_defaults_ping_nobody_and_ask_for_message_content(harness: Harness) -> None:
    bot = harness.bot
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert bot.intents.message_content and bot.intents.guild_messages and bot.intents.dm_messages
    assert not bot.intents.members and not bot.intents.presences
    assert isinstance(bot, discord.AutoShardedClient)


async def test_without_message_content_it_warns_and_still_answers_mentions(settings: Settings, fake: InProcessDiscord,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        bot = await start_bot(settings, fake, message_content=False)
    try:
        assert not bot.intents.message_content
        warning = next(r.getMessage() for r in caplog.records if "Message Content intent is off" in r.getMessage())
        assert "ANSWER_CHANNELS are ignored" in warning and "developer portal" in warning
        call = await Harness(bot, fake).interact(slash("ask", question="who is Jivani?"))
        assert call.embeds
    finally:
        await bot.close()


async def test_close_finishes_answers_in_flight(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    class Slow(Engine):
        def ask(self, text: str, conversation: Conversation | None = None):
            time.sleep(0.3)
            return super().ask(text, conversation)

    monkeypatch.setattr(respond, "DEFER_BY", 5.0)
    harness.bot.engine = Slow(harness.bot.engine.kb)
    harness.fake.deliver(harness.bot, "INTERACTION_CREATE", slash("ask", question="who is Jivani?"))
    await asyncio.sleep(0.05)  # the command has started and is waiting for the engine
    before = len(harness.fake.sent())
    await harness.bot.close()
    sent = harness.fake.sent()[before:]
    assert len(sent) == 1 and sent[0].embeds  # written before the HTTP session closed


async def test_the_token_is_never_logged(settings: Settings, fake: InProcessDiscord,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        bot = await start_bot(settings, fake)
        await Harness(bot, fake).interact(slash("ask", question="who is Jivani?"))
        await bot.close()
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(settings)
